"""Refunds: proportional, never more than earned, idempotent, and the spend-then-return exploit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from app.errors import Problem
from app.extensions import db
from app.ledger.service import spend_points
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase, refund
from tests.conftest import Shop, bearer

COFFEE_LINE = {"sku": "COFFEE", "category": "coffee", "amount_cents": 300, "quantity": 1}


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def test_partial_refunds_take_back_points_in_proportion_and_never_more_than_earned(
    shop: Shop,
) -> None:
    till = shop.open_till()
    booked = purchase(shop.client, till, shop.static_code(0), 1000, receipt_id="R-1")
    assert booked.get_json()["points_earned"] == 10
    # 3.33 of 10.00 refunded: 3.33 points, rounded up in the shop's favour to 4.
    first = refund(shop.client, till, "R-1", 333).get_json()
    assert (first["points_refunded"], first["points_balance"]) == (4, 6)
    assert (first["refunded_cents"], first["remaining_cents"]) == (333, 667)
    # Cumulative: 6.66 of 10 -> 7 in all, so 3 more.
    assert refund(shop.client, till, "R-1", 333).get_json()["points_refunded"] == 3
    last = refund(shop.client, till, "R-1", 334).get_json()
    assert (last["points_refunded"], last["points_balance"], last["remaining_cents"]) == (3, 0, 0)
    too_much = refund(shop.client, till, "R-1", 1)
    assert too_much.status_code == 422
    assert too_much.get_json()["type"] == "refund-exceeds-purchase"
    assert too_much.get_json()["remaining_cents"] == 0


def test_refund_larger_than_the_purchase_is_refused_and_changes_nothing(shop: Shop) -> None:
    till = shop.open_till()
    purchase(shop.client, till, shop.static_code(0), 1000, receipt_id="R-1")
    response = refund(shop.client, till, "R-1", 1001)
    assert response.status_code == 422
    assert response.get_json()["remaining_cents"] == 1000
    assert balance_of(shop.app, shop.member_id(0)) == 10


def test_retried_refund_with_same_key_returns_first_answer_and_changes_nothing(
    shop: Shop,
) -> None:
    till = shop.open_till()
    purchase(shop.client, till, shop.static_code(0), 2000, receipt_id="R-1")
    first = refund(shop.client, till, "R-1", 1000, key="refund-1")
    retry = refund(shop.client, till, "R-1", 1000, key="refund-1")
    assert first.status_code == retry.status_code == 201
    assert retry.get_json() == first.get_json()
    assert retry.headers.get("Idempotent-Replayed") == "true"
    assert balance_of(shop.app, shop.member_id(0)) == 10


def test_refund_of_an_unknown_or_other_stores_receipt_is_refused(shop: Shop) -> None:
    purchase(shop.client, shop.open_till(0), shop.static_code(0), 1000, receipt_id="R-1")
    for till_index, receipt in ((0, "R-404"), (1, "R-1")):
        response = refund(shop.client, shop.open_till(till_index), receipt, 100)
        assert response.status_code == 404
        assert response.get_json()["type"] == "unknown-receipt"
    assert balance_of(shop.app, shop.member_id(0)) == 10


def test_buy_earn_spend_refund_leaves_member_negative_and_unable_to_spend(shop: Shop) -> None:
    till = shop.open_till()
    member_id = shop.member_id(0)
    purchase(shop.client, till, shop.static_code(0), 10000, receipt_id="R-BIG")
    with shop.app.app_context():
        spend_points(member_id, 100, reference_type="test", reference_id="spent")
        db.session.commit()
    returned = refund(shop.client, till, "R-BIG", 10000).get_json()
    assert returned["points_refunded"] == 100
    assert returned["points_balance"] == -100
    with shop.app.app_context(), pytest.raises(Problem) as refused:
        spend_points(member_id, 1)
    assert refused.value.type == "insufficient-points"
    # New purchases repay the debt before anything can be spent again.
    repaid = purchase(shop.client, till, shop.static_code(0), 15000).get_json()
    assert repaid["points_balance"] == 50
    history = shop.client.get("/api/v1/me/ledger", headers=bearer(shop.login_member(0))).get_json()
    assert [entry["kind"] for entry in history] == ["earn", "refund", "reward", "earn"]


def test_full_refund_takes_back_the_stamps_of_the_receipt(shop: Shop) -> None:
    till = shop.open_till()
    purchase(shop.client, till, shop.static_code(0), 600, receipt_id="R-1", lines=[COFFEE_LINE])
    half = refund(shop.client, till, "R-1", 300).get_json()
    assert half["stamps"] == []  # a partial refund without lines keeps the stamps
    rest = refund(shop.client, till, "R-1", 300).get_json()
    assert [card["stamps_added"] for card in rest["stamps"]] == [-1]
