"""Earning at the till: the rules and promotions, stamps, refusals, and all-or-nothing bookings."""

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
from app.idempotency import IdempotencyKey
from app.ledger.models import LedgerEntry, Purchase
from tests.api.ledger_helpers import (
    assert_ledger_consistent,
    balance_of,
    idempotent,
    purchase,
)
from tests.conftest import Shop, bearer

COFFEE_LINE = {"sku": "COFFEE", "category": "coffee", "amount_cents": 300, "quantity": 1}


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _count(app: Flask, model: Any, *conditions: Any) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(model).where(*conditions))
        db.session.rollback()
    return int(count or 0)


def test_foreign_currency_forged_code_and_blocked_member_are_refused(shop: Shop) -> None:
    from app.accounts.models import Member

    till = shop.open_till()
    foreign = shop.client.post(
        "/api/v1/till/purchases",
        json={
            "code": shop.static_code(0),
            "receipt_id": "R-1",
            "amount_cents": 1000,
            "currency": "USD",
        },
        headers=idempotent(till),
    )
    assert foreign.status_code == 422
    assert foreign.get_json()["type"] == "currency-not-accepted"
    forged = purchase(shop.client, till, "LW1:NOT-A-CODE", 1000)
    assert forged.status_code == 422
    assert forged.get_json()["type"] in {"malformed-code", "bad-signature"}
    with shop.app.app_context():
        db.session.get_one(Member, shop.member_id(0)).blocked = True
        db.session.commit()
    blocked = purchase(shop.client, till, shop.static_code(0), 1000)
    assert blocked.status_code == 403
    assert blocked.get_json()["type"] == "member-blocked"
    assert balance_of(shop.app, shop.member_id(0)) == 0
    # Every refusal is on record.
    assert _count(shop.app, Attempt, Attempt.operation == "purchase") == 3


def test_bonus_rules_and_promotions_apply_and_points_round_down_once(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    rules = shop.client.put(
        "/api/v1/earning-rules",
        json={
            "currency": "EUR",
            "base_points": 1,
            "per_amount_cents": 100,
            "bonus_rules": [
                {"match": "category", "value": "Coffee", "multiplier_percent": 300},
                {"match": "sku", "value": "GIFTCARD", "multiplier_percent": 0},
            ],
        },
        headers=manager,
    )
    assert rules.status_code == 200, rules.get_json()
    now = utcnow()
    promotion = shop.client.post(
        "/api/v1/promotions",
        json={
            "name": "Double points weekend",
            "multiplier_percent": 200,
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(days=2)).isoformat(),
            "store_ids": [shop.tills[0]["store_id"]],
        },
        headers=manager,
    )
    assert promotion.status_code == 201, promotion.get_json()
    lines = [
        {"sku": "ESPRESSO", "category": "coffee", "amount_cents": 250, "quantity": 1},
        {"sku": "GIFTCARD", "category": "gifts", "amount_cents": 2000, "quantity": 1},
    ]
    # 2.50 x 3 + 20.00 x 0 + 3.33 unlisted x 1 = 10.83 points, x2 promotion = 21.66 -> 21.
    booked = purchase(shop.client, shop.open_till(0), shop.static_code(0), 2583, lines=lines)
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["points_earned"] == 21
    assert booked.get_json()["promotion"] == "Double points weekend"
    # The promotion runs in the first store only (Grace shops in the second).
    elsewhere = purchase(shop.client, shop.open_till(1), shop.static_code(1), 2583, lines=lines)
    assert elsewhere.get_json()["points_earned"] == 10
    # A cancelled promotion stays on record and stops applying.
    promotion_id = promotion.get_json()["promotion_id"]
    cancelled = shop.client.delete(f"/api/v1/promotions/{promotion_id}", headers=manager)
    assert cancelled.status_code == 200
    assert cancelled.get_json()["cancelled_at"] is not None
    after = purchase(shop.client, shop.open_till(0), shop.static_code(0), 2583, lines=lines)
    assert after.get_json()["points_earned"] == 10


def test_purchase_with_coffee_lines_adds_stamps(shop: Shop) -> None:
    booked = purchase(
        shop.client, shop.open_till(), shop.static_code(0), 300, lines=[COFFEE_LINE]
    ).get_json()
    assert [card["stamps_added"] for card in booked["stamps"]] == [1]


def test_failure_after_the_first_write_leaves_nothing_behind(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.till.operations as operations_module

    def crash(*_args: Any, **_kwargs: Any) -> list[dict[str, Any]]:
        raise RuntimeError("the process died here")

    # Stamps come after the purchase row, the ledger entry and the balance were written.
    monkeypatch.setattr(operations_module, "record_stamps_for_purchase", crash)
    till = shop.open_till()
    code = shop.static_code(0)
    failed = purchase(shop.client, till, code, 5000, receipt_id="R-X", key="crash-key")
    assert failed.status_code == 500
    assert balance_of(shop.app, shop.member_id(0)) == 0
    assert _count(shop.app, Purchase, Purchase.receipt_id == "R-X") == 0
    assert _count(shop.app, LedgerEntry, LedgerEntry.member_id == shop.member_id(0)) == 0
    assert _count(shop.app, IdempotencyKey, IdempotencyKey.key == "crash-key") == 0
    # The retry with the same key runs afresh once the fault is gone.
    monkeypatch.undo()
    retry = purchase(shop.client, till, code, 5000, receipt_id="R-X", key="crash-key")
    assert retry.status_code == 201
    assert balance_of(shop.app, shop.member_id(0)) == 50


def test_purchase_route_is_for_till_sessions_only(shop: Shop) -> None:
    body = {"code": "x", "receipt_id": "R", "amount_cents": 1, "currency": "EUR"}
    for token in (shop.login_member(), shop.login_staff("manager")):
        response = shop.client.post(
            "/api/v1/till/purchases", json=body, headers={**bearer(token), "Idempotency-Key": "k"}
        )
        assert response.status_code == 401
        assert response.get_json()["type"] == "wrong-token-kind"
