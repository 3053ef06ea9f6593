"""Stamp programmes and stamp cards: qualifying lines add stamps, a full card earns a coupon."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.campaigns.models import Coupon
from app.extensions import db
from app.rewards.models import StampCard, StampEntry
from app.rewards.stamps import (
    create_stamp_programme,
    record_stamps_for_purchase,
    reverse_stamps_for_refund,
)
from coupons.rules import Benefit, BenefitKind
from tests.conftest import Shop, bearer

PROGRAMMES = "/api/v1/stamp-programmes"
BAGEL_CARD = {
    "name": "Bagel card",
    "skus": ["BAGEL"],
    "stamps_needed": 5,
    "reward": {"kind": "amount_off", "amount_cents": 300},
}
FREE_TEA = Benefit(kind=BenefitKind.FREE_ITEM, sku="TEA")


def tea_programme(app: Flask, stamps_needed: int = 9, **options: Any) -> int:
    """Create a tea stamp programme (category "tea", SKU "TEA-L") and return its id."""
    options.setdefault("category", "tea")
    options.setdefault("skus", ["TEA-L"])
    with app.app_context():
        programme = create_stamp_programme("Tea card", stamps_needed, FREE_TEA, **options)
        db.session.commit()
        return programme.id


def stamp(app: Flask, member_id: int, lines: list[dict[str, Any]], receipt: str) -> Any:
    """Record a purchase's stamps in their own transaction and return the card states."""
    with app.app_context():
        states = record_stamps_for_purchase(member_id, lines, receipt)
        db.session.commit()
        return states


def tea(quantity: int = 1, sku: str = "TEA-S", category: str | None = "tea") -> dict[str, Any]:
    """Return a purchase line of tea."""
    return {"sku": sku, "category": category, "quantity": quantity, "amount_cents": 250 * quantity}


def coupons_of(app: Flask, member_id: int) -> list[Coupon]:
    """Return the member's coupons."""
    with app.app_context():
        rows = db.session.scalars(
            select(Coupon).where(Coupon.member_id == member_id).order_by(Coupon.id)
        ).all()
        db.session.expunge_all()
        return list(rows)


@pytest.fixture
def member_id(shop: Shop) -> int:
    """Return the id of the first demo member."""
    return int(shop.members[0]["member_id"])


def test_nine_needed_and_ten_qualifying_units_issue_one_coupon_and_carry_one_over(
    shop: Shop, app: Flask, member_id: int
) -> None:
    programme_id = tea_programme(app)
    states = stamp(app, member_id, [tea(6), tea(4, sku="TEA-L", category=None)], "R-1")
    [state] = [s for s in states if s["programme_id"] == programme_id]
    assert state["stamps_added"] == 10
    assert state["stamps"] == 1
    assert state["stamps_needed"] == 9
    assert len(state["coupons_issued"]) == 1
    [coupon] = [c for c in coupons_of(app, member_id) if c.id == state["coupons_issued"][0]]
    assert coupon.benefit == {"kind": "free_item", "sku": "TEA"}
    assert coupon.source == "stamp-card"


def test_lines_that_do_not_qualify_add_no_stamps(shop: Shop, app: Flask, member_id: int) -> None:
    programme_id = tea_programme(app)
    lines = [
        {"sku": "CAKE", "category": "bakery", "quantity": 3},
        {"sku": "TEA-S", "category": "tea", "quantity": 0},
    ]
    states = stamp(app, member_id, lines, "R-1")
    assert programme_id not in [s["programme_id"] for s in states]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(StampCard)) == 0


def test_several_purchases_fill_a_card_and_each_full_card_issues_a_coupon(
    shop: Shop, app: Flask, member_id: int
) -> None:
    programme_id = tea_programme(app, stamps_needed=3)
    before = len(coupons_of(app, member_id))
    issued = []
    for receipt, quantity in (("R-1", 2), ("R-2", 2), ("R-3", 5)):
        [state] = [
            s
            for s in stamp(app, member_id, [tea(quantity)], receipt)
            if s["programme_id"] == programme_id
        ]
        issued.append(len(state["coupons_issued"]))
    assert issued == [0, 1, 2]
    assert state["stamps"] == 0 and state["rewards_issued"] == 3
    assert len(coupons_of(app, member_id)) == before + 3


def test_a_receipt_stamps_a_card_once(shop: Shop, app: Flask, member_id: int) -> None:
    programme_id = tea_programme(app)
    stamp(app, member_id, [tea(2)], "R-1")
    stamp(app, member_id, [tea(2)], "R-1")
    with app.app_context():
        card = db.session.scalars(
            select(StampCard).where(StampCard.programme_id == programme_id)
        ).one()
        assert card.stamps == 2


def test_inactive_programme_adds_no_stamps(shop: Shop, app: Flask, member_id: int) -> None:
    programme_id = tea_programme(app, active=False)
    states = stamp(app, member_id, [tea(3)], "R-1")
    assert programme_id not in [s["programme_id"] for s in states]


def test_refund_takes_back_only_the_stamps_its_receipt_added(
    shop: Shop, app: Flask, member_id: int
) -> None:
    programme_id = tea_programme(app, stamps_needed=5)
    stamp(app, member_id, [tea(2)], "R-1")
    stamp(app, member_id, [tea(1)], "R-2")
    with app.app_context():
        states = reverse_stamps_for_refund(member_id, [tea(5)], "R-1")
        db.session.commit()
    [state] = [s for s in states if s["programme_id"] == programme_id]
    assert state["stamps_added"] == -2 and state["stamps"] == 1
    with app.app_context():
        # Refunding the same receipt again takes nothing more.
        assert reverse_stamps_for_refund(member_id, [tea(5)], "R-1") == []
        assert reverse_stamps_for_refund(member_id, [tea(1)], "R-unknown") == []
        db.session.commit()


def test_refund_of_stamps_that_earned_a_coupon_leaves_stamps_owed(
    shop: Shop, app: Flask, member_id: int
) -> None:
    programme_id = tea_programme(app, stamps_needed=3)
    stamp(app, member_id, [tea(3)], "R-1")  # a full card: coupon issued, 0 stamps left
    with app.app_context():
        [state] = reverse_stamps_for_refund(member_id, [tea(3)], "R-1")
        db.session.commit()
    assert state["stamps"] == -3
    # The next three teas make up the refunded ones; only then does the card fill again.
    [state] = [
        s for s in stamp(app, member_id, [tea(3)], "R-2") if s["programme_id"] == programme_id
    ]
    assert state["stamps"] == 0 and state["coupons_issued"] == []


def test_concurrent_purchases_never_lose_a_stamp(shop: Shop, app: Flask, member_id: int) -> None:
    programme_id = tea_programme(app, stamps_needed=4)
    threads_count = 10
    barrier = threading.Barrier(threads_count)
    errors: list[BaseException] = []

    def purchase(index: int) -> None:
        try:
            barrier.wait()
            stamp(app, member_id, [tea(1)], f"R-{index}")
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=purchase, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with app.app_context():
        card = db.session.scalars(
            select(StampCard).where(StampCard.programme_id == programme_id)
        ).one()
        assert (card.stamps, card.rewards_issued) == (2, 2)
        added = db.session.scalar(
            select(func.sum(StampEntry.stamps)).where(
                StampEntry.card_id == card.id, StampEntry.kind == "purchase"
            )
        )
        assert added == threads_count
    issued = [c for c in coupons_of(app, member_id) if c.source == "stamp-card"]
    assert len(issued) == 2


def test_manager_defines_a_programme_and_the_member_sees_the_card(
    shop: Shop, app: Flask, member_id: int
) -> None:
    manager = bearer(shop.login_staff("manager"))
    created = shop.client.post(
        PROGRAMMES,
        json=BAGEL_CARD,
        headers=manager,
    )
    assert created.status_code == 201, created.get_json()
    programme = created.get_json()
    assert programme["reward"] == {"kind": "amount_off", "amount_cents": 300}
    assert programme["id"] in [
        p["id"] for p in shop.client.get(PROGRAMMES, headers=manager).get_json()
    ]
    stamp(app, member_id, [{"sku": "BAGEL", "category": "bakery", "quantity": 2}], "R-1")
    token = bearer(shop.login_member())
    cards = {
        c["programme_id"]: c for c in shop.client.get("/api/v1/me/stamps", headers=token).get_json()
    }
    assert cards[programme["id"]]["stamps"] == 2
    assert cards[programme["id"]]["stamps_needed"] == 5
    other = shop.client.get("/api/v1/me/stamps", headers=bearer(shop.login_member(1))).get_json()
    assert {c["programme_id"]: c["stamps"] for c in other}[programme["id"]] == 0
    stopped = shop.client.patch(
        f"{PROGRAMMES}/{programme['id']}", json={"active": False}, headers=manager
    )
    assert stopped.get_json()["active"] is False
    cards_after = shop.client.get("/api/v1/me/stamps", headers=token).get_json()
    assert programme["id"] not in [c["programme_id"] for c in cards_after]


INCONSISTENT_PROGRAMMES: list[dict[str, Any]] = [
    {"stamps_needed": 5, "reward": {"kind": "free_item", "sku": "X"}},  # nothing qualifies
    {"category": "tea", "stamps_needed": 0, "reward": {"kind": "free_item", "sku": "X"}},
    {"category": "tea", "stamps_needed": 5, "reward": {"kind": "free_item"}},
    {
        "category": "tea",
        "stamps_needed": 5,
        "reward": {"kind": "free_item", "sku": "X", "percent": 5},
    },
]


def test_programme_that_does_not_add_up_is_refused(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    for body in INCONSISTENT_PROGRAMMES:
        response = shop.client.post(PROGRAMMES, json={"name": "Bad", **body}, headers=manager)
        assert response.status_code == 422, (body, response.get_json())
        assert response.get_json()["type"] == "validation-error"


def test_unknown_programme_is_a_404(shop: Shop) -> None:
    response = shop.client.patch(
        f"{PROGRAMMES}/999999", json={"active": False}, headers=bearer(shop.login_staff("admin"))
    )
    assert response.status_code == 404
    assert response.get_json()["type"] == "unknown-stamp-programme"


def test_demo_shop_has_a_coffee_stamp_card(shop: Shop) -> None:
    cards = shop.client.get("/api/v1/me/stamps", headers=bearer(shop.login_member())).get_json()
    assert any(card["stamps_needed"] >= 2 for card in cards)


def test_purchase_at_the_till_stamps_the_card_and_a_refund_takes_the_stamps_back(
    shop: Shop, app: Flask, member_id: int
) -> None:
    till = bearer(shop.open_till())
    coffees = {"sku": "COFFEE", "category": "coffee", "amount_cents": 3000, "quantity": 10}
    body = {
        "code": shop.static_code(0),
        "receipt_id": "R-COFFEE-10",
        "amount_cents": 3000,
        "currency": "EUR",
        "lines": [coffees],
    }
    headers = {**till, "Idempotency-Key": "purchase-1"}
    booked = shop.client.post("/api/v1/till/purchases", json=body, headers=headers)
    assert booked.status_code == 201, booked.get_json()
    [state] = booked.get_json()["stamps"]
    assert (state["stamps_added"], state["stamps"], state["stamps_needed"]) == (10, 1, 9)
    assert len(state["coupons_issued"]) == 1
    # The till's retry replays the answer: no second stamping, no second coupon.
    replay = shop.client.post("/api/v1/till/purchases", json=body, headers=headers)
    assert replay.get_json() == booked.get_json()
    # The same receipt under a new key is a duplicate: refused before any stamp is added.
    again = shop.client.post(
        "/api/v1/till/purchases", json=body, headers={**till, "Idempotency-Key": "purchase-2"}
    )
    assert again.status_code == 409 and again.get_json()["type"] == "duplicate-receipt"
    member = bearer(shop.login_member(0))
    [card] = shop.client.get("/api/v1/me/stamps", headers=member).get_json()
    assert (card["stamps"], card["rewards_issued"]) == (1, 1)
    refunded = shop.client.post(
        "/api/v1/till/refunds",
        json={
            "receipt_id": "R-COFFEE-10",
            "amount_cents": 600,
            "lines": [{**coffees, "quantity": 2, "amount_cents": 600}],
        },
        headers={**till, "Idempotency-Key": "refund-1"},
    )
    assert refunded.status_code == 201, refunded.get_json()
    [state] = refunded.get_json()["stamps"]
    assert (state["stamps_added"], state["stamps"]) == (-2, -1)
    assert [c.source for c in coupons_of(app, member_id)].count("stamp-card") == 1


def test_a_programme_started_or_stopped_counts_from_the_till_s_next_purchase(shop: Shop) -> None:
    """The till caches the active programmes per process; a change reaches its next purchase."""
    till = bearer(shop.open_till())
    manager = bearer(shop.login_staff("manager"))
    bagel = {"sku": "BAGEL", "amount_cents": 250, "quantity": 1}

    def buy(receipt: str) -> list[dict[str, Any]]:
        body = {
            "code": shop.static_code(0),
            "receipt_id": receipt,
            "amount_cents": 250,
            "currency": "EUR",
            "lines": [bagel],
        }
        headers = {**till, "Idempotency-Key": f"key-{receipt}"}
        booked = shop.client.post("/api/v1/till/purchases", json=body, headers=headers)
        assert booked.status_code == 201, booked.get_json()
        stamps: list[dict[str, Any]] = booked.get_json()["stamps"]
        return stamps

    assert buy("B-1") == []  # no programme counts bagels yet (and the till cached that)
    created = shop.client.post(
        PROGRAMMES,
        json=BAGEL_CARD,
        headers=manager,
    )
    assert created.status_code == 201
    [state] = buy("B-2")
    assert (state["name"], state["stamps_added"], state["stamps"]) == ("Bagel card", 1, 1)
    shop.client.patch(
        f"{PROGRAMMES}/{created.get_json()['id']}", json={"active": False}, headers=manager
    )
    assert buy("B-3") == []
