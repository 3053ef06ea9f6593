"""Booking purchases at the till: cards and scan tokens, idempotency, duplicate receipts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt
from app.ledger.models import LedgerEntry, Purchase
from tests.api.ledger_helpers import (
    assert_ledger_consistent,
    balance_of,
    purchase,
)
from tests.conftest import Shop, bearer


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _count(app: Flask, model: Any, *conditions: Any) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model).where(*conditions))
        db.session.rollback()
    return int(count or 0)


def test_purchase_with_static_code_credits_points_and_answers_balance_and_tier(
    shop: Shop,
) -> None:
    till = shop.open_till()
    response = purchase(shop.client, till, shop.static_code(0), 1299, receipt_id="R-1")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # 12.99 EUR at 1 point per euro: rounded down once, 12 points.
    assert body["points_earned"] == 12
    assert body["points_balance"] == 12
    assert body["tier"] == "base"
    assert isinstance(body["entry_id"], int)
    assert balance_of(shop.app, shop.member_id(0)) == 12


def test_scan_token_books_purchases_and_a_rotating_code_books_only_one(shop: Shop) -> None:
    till = shop.open_till()
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": shop.rotating_code(0)}, headers=bearer(till)
    )
    assert scan.status_code == 200, scan.get_json()
    token = scan.get_json()["scan_token"]
    assert purchase(shop.client, till, token, 2000).get_json()["points_earned"] == 20
    # The scan token stands for the card for the rest of the visit.
    assert purchase(shop.client, till, token, 1000).status_code == 201
    # A live code shown straight to the purchase is used up by it.
    code = shop.rotating_code(0, at=utcnow() + timedelta(seconds=30))
    assert purchase(shop.client, till, code, 1000).status_code == 201
    again = purchase(shop.client, till, code, 1000)
    assert again.status_code == 409
    assert again.get_json()["type"] == "code-replayed"
    assert balance_of(shop.app, shop.member_id(0)) == 40


def test_purchase_without_idempotency_key_is_refused(shop: Shop) -> None:
    response = shop.client.post(
        "/api/v1/till/purchases",
        json={
            "code": shop.static_code(0),
            "receipt_id": "R-1",
            "amount_cents": 1000,
            "currency": "EUR",
        },
        headers=bearer(shop.open_till()),
    )
    assert response.status_code == 400
    assert response.get_json()["type"] == "idempotency-key-required"
    assert _count(shop.app, Purchase) == 2  # the demo history only


def test_retried_purchase_with_same_key_returns_first_answer_and_changes_nothing(
    shop: Shop,
) -> None:
    till = shop.open_till()
    code = shop.static_code(0)
    first = purchase(shop.client, till, code, 4200, receipt_id="R-7", key="key-7")
    retry = purchase(shop.client, till, code, 4200, receipt_id="R-7", key="key-7")
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    # The same key with another body is a client bug, not a retry.
    other = purchase(shop.client, till, code, 9999, receipt_id="R-7", key="key-7")
    assert other.status_code == 422
    assert other.get_json()["type"] == "idempotency-key-reused"
    assert balance_of(shop.app, shop.member_id(0)) == 42
    member_entries = LedgerEntry.member_id == shop.member_id(0)
    assert _count(shop.app, LedgerEntry, member_entries) == 1


def test_same_receipt_in_the_same_store_with_a_new_key_is_a_duplicate(shop: Shop) -> None:
    code = shop.static_code(0)
    assert purchase(shop.client, shop.open_till(0), code, 1000, receipt_id="R-9").status_code == 201
    # Another till session of the same store, a new key: still the same receipt.
    again = purchase(shop.client, shop.open_till(0, "manager"), code, 1000, receipt_id="R-9")
    assert again.status_code == 409
    assert again.get_json()["type"] == "duplicate-receipt"
    assert balance_of(shop.app, shop.member_id(0)) == 10
    # The refusal is on record as an attempt, with the member it was for.
    refused = _count(
        shop.app,
        Attempt,
        Attempt.operation == "purchase",
        Attempt.refusal_type == "duplicate-receipt",
        Attempt.member_id == shop.member_id(0),
    )
    assert refused == 1
    # The same receipt id in another store is another purchase (another member's card: the
    # same card in Hamburg minutes after Berlin would trip the impossible-travel rule).
    elsewhere = purchase(
        shop.client, shop.open_till(1), shop.static_code(1), 1000, receipt_id="R-9"
    )
    assert elsewhere.status_code == 201, elsewhere.get_json()
