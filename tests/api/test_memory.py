"""The per-process memories behind the token, card-code and signed-code caches."""

from __future__ import annotations

from app.memory import BoundedMemory


def test_a_full_memory_forgets_everything_before_it_remembers_more() -> None:
    memory: BoundedMemory[str, int] = BoundedMemory(2)
    memory.remember("a", 1)
    memory.remember("b", 2)
    assert memory.get("a") == 1 and len(memory) == 2
    memory.remember("c", 3)
    assert dict(memory) == {"c": 3}


def test_remembering_a_key_again_replaces_its_answer() -> None:
    memory: BoundedMemory[str, int] = BoundedMemory(1)
    memory.remember("a", 1)
    memory.remember("a", 2)  # full: emptied, then kept
    assert dict(memory) == {"a": 2}
