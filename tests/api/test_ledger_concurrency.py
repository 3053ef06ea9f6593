"""Racing requests with real threads: exact balances, one answer per key, no over-refund.

Each thread has its own test client (and so its own app context, session and connection);
the data they race on is committed first. On PostgreSQL the requests really overlap (READ
COMMITTED, row locks); on SQLite they queue on the write lock, which must also come out right.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.db import utcnow
from app.extensions import db
from app.ledger.earning import save_programme
from app.ledger.expiry import run_points_expiry
from app.ledger.models import LedgerEntry, Purchase
from app.ledger.service import post_ledger_entry
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase, refund
from tests.conftest import Shop

RACERS = 20


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; return results in order."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def test_racing_purchases_on_one_member_give_an_exact_balance(app: Flask, shop: Shop) -> None:
    till = shop.open_till()
    code = shop.static_code(0)

    def book(index: int) -> TestResponse:
        return purchase(app.test_client(), till, code, 100 * (index + 1), receipt_id=f"R-{index}")

    responses = race(RACERS, book)
    assert [r.status_code for r in responses] == [201] * RACERS, [r.get_json() for r in responses]
    expected = sum(range(1, RACERS + 1))  # 1 point per euro: 1 + 2 + ... + 20
    assert sum(r.get_json()["points_earned"] for r in responses) == expected
    assert balance_of(app, shop.member_id(0)) == expected
    # Every answer saw a distinct running balance: the postings were serialised per member.
    assert len({r.get_json()["points_balance"] for r in responses}) == RACERS


def test_racing_retries_with_one_key_book_once_and_all_get_the_first_answer(
    app: Flask, shop: Shop
) -> None:
    till = shop.open_till()
    code = shop.static_code(0)

    def book(_index: int) -> TestResponse:
        return purchase(app.test_client(), till, code, 2500, receipt_id="R-1", key="same-key")

    responses = race(8, book)
    assert {r.status_code for r in responses} == {201}
    assert len({r.get_data(as_text=True) for r in responses}) == 1
    assert balance_of(app, shop.member_id(0)) == 25
    with app.app_context():
        booked = db.session.scalar(
            select(func.count()).select_from(Purchase).where(Purchase.receipt_id == "R-1")
        )
        db.session.rollback()
    assert booked == 1


def test_racing_refunds_never_take_back_more_than_was_bought(app: Flask, shop: Shop) -> None:
    till = shop.open_till()
    purchase(shop.client, till, shop.static_code(0), 1000, receipt_id="R-1")

    def give_back(_index: int) -> TestResponse:
        return refund(app.test_client(), till, "R-1", 300)

    responses = race(6, give_back)
    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    assert len(accepted) == 3
    assert {r.get_json()["type"] for r in refused} == {"refund-exceeds-purchase"}
    # 9.00 of 10.00 refunded in all: 9 of the 10 points, whatever the order.
    assert sum(r.get_json()["points_refunded"] for r in accepted) == 9
    assert balance_of(app, shop.member_id(0)) == 1


def test_two_concurrent_expiry_runs_expire_each_balance_once(app: Flask, shop: Shop) -> None:
    with app.app_context():
        save_programme(None, expire_after_inactive_days=30)
        post_ledger_entry(shop.member_id(0), 70, "bonus")
        db.session.commit()
    later = utcnow() + timedelta(days=31)

    def expire(_index: int) -> Any:
        with app.app_context():
            return run_points_expiry(now=later, batch_size=1)

    reports = race(2, expire)
    assert sum(report.points_expired for report in reports) == 70 + 87  # Ada's bonus, Grace's
    with app.app_context():
        expiries = db.session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "expire")
        )
        db.session.rollback()
    assert expiries == 2
    assert balance_of(app, shop.member_id(0)) == balance_of(app, shop.member_id(1)) == 0
