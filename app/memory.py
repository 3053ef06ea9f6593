"""Per-process memories of answers that cost more to work out than to keep.

A verified access token, a verified card code and a card code the process signed are each
remembered by the process that worked them out (``app.auth.tokens``, ``app.cards.presentation``,
``app.cards.service``). The caller keys an answer by everything it depends on, or stores what
it must check again on every use (an expiry, the key ring in force) next to it.

A memory holds at most ``size`` answers and is emptied when it is full: the simplest bound that
keeps a busy process's memory flat, at the price of working out the answers in use again. It is
a ``dict``, so a lookup stays the plain ``dict.get`` on the till's hot path.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedMemory(dict[K, V]):
    """A dict of remembered answers that empties itself instead of growing past ``size``."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def remember(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key``, first forgetting everything if the memory is full."""
        if len(self) >= self.size:
            self.clear()
        self[key] = value
