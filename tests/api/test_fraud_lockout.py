"""Brute-force defence: guesses counted per till and per address, growing lockouts, events."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from app.fraud.lockout import LockoutPolicy, MemoryGuessCounter
from tests.api.test_fraud_helpers import forged_code, only_event, random_forged_code, scan
from tests.conftest import Shop

THRESHOLD = 3


@pytest.fixture
def strict(app: Flask) -> Flask:
    """Lock a till out after three failed guesses, for one second at first."""
    app.config.update(
        FRAUD_GUESS_THRESHOLD=THRESHOLD,
        FRAUD_GUESS_ADDRESS_THRESHOLD=100,
        FRAUD_GUESS_WINDOW_SECONDS=60,
        FRAUD_LOCKOUT_SECONDS=1,
        FRAUD_LOCKOUT_MAX_SECONDS=4,
    )
    return app


def test_a_till_guessing_card_codes_is_locked_out_after_the_threshold(
    strict: Flask, shop: Shop
) -> None:
    till = shop.open_till(0)
    for _ in range(THRESHOLD):
        assert scan(shop, random_forged_code(shop), till).get_json()["type"] == "bad-signature"
    locked = scan(shop, shop.static_code(), till)
    assert locked.status_code == 429
    assert locked.get_json()["type"] == "too-many-attempts"
    assert locked.headers["Retry-After"] == "1"
    event = only_event(shop, "brute-force")
    assert event["action"] == "lockout"
    assert event["severity"] == "high"
    assert event["till_id"] == shop.tills[0]["till_id"]
    assert event["subject"] == f"till:{shop.tills[0]['till_id']}"
    refusals = [a["refusal_type"] for a in event["evidence"]]
    assert refusals == ["bad-signature"] * THRESHOLD


def test_the_lockout_lifts_after_its_time_and_grows_when_repeated(
    strict: Flask, shop: Shop
) -> None:
    till = shop.open_till(0)
    for _ in range(THRESHOLD):
        scan(shop, forged_code(shop), till)
    assert scan(shop, shop.static_code(), till).status_code == 429
    time.sleep(1.1)
    assert scan(shop, shop.static_code(), till).status_code == 200
    for _ in range(THRESHOLD):
        scan(shop, forged_code(shop), till)
    second = scan(shop, shop.static_code(), till)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "2"
    # Repeats of the burst join the open event instead of opening new ones.
    event = only_event(shop, "brute-force")
    assert event["detail"]["lockout_level"] == 2
    assert len(event["evidence"]) == 2 * THRESHOLD


def test_other_tills_keep_working_while_one_is_locked_out(strict: Flask, shop: Shop) -> None:
    guessing, honest = shop.open_till(0), shop.open_till(1)
    for _ in range(THRESHOLD):
        scan(shop, forged_code(shop), guessing)
    assert scan(shop, shop.static_code(), guessing).status_code == 429
    assert scan(shop, shop.static_code(), honest).status_code == 200


def test_malformed_codes_and_genuine_refusals_do_not_count(strict: Flask, shop: Shop) -> None:
    till = shop.open_till(0)
    for _ in range(THRESHOLD + 1):
        assert scan(shop, "LW1:not base45!", till).get_json()["type"] == "malformed-code"
        assert scan(shop, "hello", till).get_json()["type"] == "malformed-code"
    replayed = shop.rotating_code()
    assert scan(shop, replayed, till).status_code == 200
    other_till = shop.open_till(1)  # at the same till it would be a double scan, not a replay
    for _ in range(THRESHOLD + 1):
        assert scan(shop, replayed, other_till).get_json()["type"] == "code-replayed"
    assert scan(shop, shop.static_code(), till).status_code == 200
    # Not locked out (a static code right after a scan in another store asks for a step-up).
    assert scan(shop, shop.static_code(), other_till).status_code == 428


def test_one_address_is_locked_out_across_tills(strict: Flask, shop: Shop) -> None:
    strict.config.update(FRAUD_GUESS_THRESHOLD=100, FRAUD_GUESS_ADDRESS_THRESHOLD=4)
    tills = [shop.open_till(0), shop.open_till(1)]
    for attempt in range(4):
        scan(shop, forged_code(shop), tills[attempt % 2])
    for till in tills:
        locked = scan(shop, shop.static_code(), till)
        assert locked.get_json()["type"] == "too-many-attempts"
    assert only_event(shop, "brute-force")["subject"] == "addr:127.0.0.1"
    other_address = shop.client.post(
        "/api/v1/till/scan",
        json={"code": shop.static_code()},
        headers={"Authorization": f"Bearer {tills[0]}"},
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert other_address.status_code == 200


def test_memory_counter_slides_its_window_and_caps_the_lockout() -> None:
    policy = LockoutPolicy(
        threshold=2,
        address_threshold=5,
        window_seconds=0.2,
        first_lockout_seconds=0.1,
        max_lockout_seconds=0.15,
        memory_seconds=60,
    )
    counter = MemoryGuessCounter(policy)
    assert counter.record_failure(["till:1"]) == []
    time.sleep(0.25)  # the first failure slid out of the window
    assert counter.record_failure(["till:1"]) == []
    started = counter.record_failure(["till:1"])
    assert [(lock.key, lock.level) for lock in started] == [("till:1", 1)]
    assert counter.locked(["till:1", "addr:x"]) is not None
    assert counter.locked(["till:2"]) is None
    time.sleep(0.11)
    assert counter.locked(["till:1"]) is None
    counter.record_failure(["till:1"])
    again = counter.record_failure(["till:1"])
    assert again[0].level == 2
    assert again[0].seconds_left == pytest.approx(0.15)  # capped
    assert policy.lockout_seconds(10) == 0.15


def test_memory_counter_starts_exactly_one_lockout_under_concurrent_failures() -> None:
    policy = LockoutPolicy(
        threshold=8,
        address_threshold=100,
        window_seconds=60,
        first_lockout_seconds=60,
        max_lockout_seconds=60,
        memory_seconds=60,
    )
    counter = MemoryGuessCounter(policy)
    barrier = threading.Barrier(16)
    started: list[object] = []

    def fail() -> None:
        barrier.wait()
        started.extend(counter.record_failure(["till:1"]))

    threads = [threading.Thread(target=fail) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 1
