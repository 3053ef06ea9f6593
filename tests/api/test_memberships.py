"""Paid membership: plans, sale at the till and by a manager, benefits, refunds, reminders, KPIs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.campaigns.models import Coupon
from app.db import utcnow
from app.events import DomainEvent, subscribe
from app.extensions import db
from app.fraud.models import FraudEvent
from app.memberships.models import Membership
from app.memberships.service import add_months, paying_members, run_memberships
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase, refund
from tests.api.member_helpers import card_code_of, sign_up
from tests.conftest import Shop, bearer

PLUS = {
    "name": "Plus",
    "sku": "PLUS-12M",
    "price_cents": 2900,
    "duration_months": 12,
    "tier": "plus",
    "points_multiplier_percent": 150,
    "monthly_coupon": {"kind": "amount_off", "amount_cents": 300},
    "free_items": ["COFFEE"],
    "refund_days": 14,
}


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _plan(shop: Shop, **changes: Any) -> dict[str, Any]:
    response = shop.client.post(
        "/api/v1/membership-plans",
        json={**PLUS, **changes},
        headers=bearer(shop.login_staff("manager")),
    )
    assert response.status_code == 201, response.get_json()
    plan: dict[str, Any] = response.get_json()
    return plan


def _buy_at_till(shop: Shop, member_id: int, till: str, receipt: str, extra_cents: int = 0) -> Any:
    lines = [{"sku": "PLUS-12M", "amount_cents": 2900, "quantity": 1}]
    if extra_cents:
        lines.append({"sku": "BREAD", "amount_cents": extra_cents})
    return purchase(
        shop.client,
        till,
        card_code_of(shop, member_id),
        2900 + extra_cents,
        receipt_id=receipt,
        lines=lines,
    )


def _mine(shop: Shop, token: str) -> dict[str, Any]:
    body: dict[str, Any] = shop.client.get(
        "/api/v1/me/membership", headers=bearer(token)
    ).get_json()
    return body


def _coupons(shop: Shop, token: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = shop.client.get(
        "/api/v1/me/coupons", headers=bearer(token)
    ).get_json()
    return result


def test_plans_are_managed_by_managers_only(shop: Shop) -> None:
    plan = _plan(shop)
    assert plan["sku"] == "PLUS-12M" and plan["currency"] == "EUR"
    taken = shop.client.post(
        "/api/v1/membership-plans", json=PLUS, headers=bearer(shop.login_staff("manager"))
    )
    assert taken.status_code == 409 and taken.get_json()["type"] == "sku-taken"
    bad = shop.client.post(
        "/api/v1/membership-plans",
        json={**PLUS, "sku": "X", "monthly_coupon": {"kind": "amount_off"}},
        headers=bearer(shop.login_staff("manager")),
    )
    assert bad.status_code == 422
    cashier = shop.client.post(
        "/api/v1/membership-plans",
        json={**PLUS, "sku": "Y"},
        headers=bearer(shop.login_staff("cashier")),
    )
    assert cashier.status_code == 403
    changed = shop.client.patch(
        f"/api/v1/membership-plans/{plan['id']}",
        json={"active": False},
        headers=bearer(shop.login_staff("manager")),
    )
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    member = shop.login_member(0)
    assert shop.client.get("/api/v1/me/membership-plans", headers=bearer(member)).get_json() == []


def test_plan_sold_at_the_till_grants_benefits_at_once(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "plus@example.org")
    till = shop.open_till()
    response = _buy_at_till(shop, member.member_id, till, "M-1", extra_cents=1000)
    assert response.status_code == 201, response.get_json()
    mine = _mine(shop, member.token)
    assert mine["active"]["plan"] == "Plus" and mine["active"]["source"] == "till"
    assert mine["active"]["price_cents"] == 2900
    assert mine["benefits"]["tier"] == "plus"
    assert mine["benefits"]["points_multiplier_percent"] == 150
    coupons = _coupons(shop, member.token)
    benefits = sorted(str(c["benefit"]) for c in coupons)
    assert benefits == sorted(
        [
            str({"kind": "amount_off", "amount_cents": 300}),
            str({"kind": "free_item", "sku": "COFFEE"}),
        ]
    )
    # The multiplier applies from the next purchase: 20 points earned, 10 more as a bonus.
    before = balance_of(shop.app, member.member_id)
    next_purchase = purchase(shop.client, till, card_code_of(shop, member.member_id), 2000)
    assert next_purchase.get_json()["points_earned"] == 20
    assert balance_of(shop.app, member.member_id) == before + 30


def test_refund_of_the_plan_line_ends_the_benefits(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "refund@example.org")
    till = shop.open_till()
    _buy_at_till(shop, member.member_id, till, "M-2", extra_cents=500)
    response = refund(
        shop.client, till, "M-2", 2900, lines=[{"sku": "PLUS-12M", "amount_cents": 2900}]
    )
    assert response.status_code == 201, response.get_json()
    mine = _mine(shop, member.token)
    assert mine["active"] is None and mine["benefits"] is None
    assert mine["history"][0]["status"] == "refunded"
    assert all(c["state"] == "voided" for c in _coupons(shop, member.token))
    before = balance_of(shop.app, member.member_id)
    purchase(shop.client, till, card_code_of(shop, member.member_id), 2000)
    assert balance_of(shop.app, member.member_id) == before + 20  # no multiplier any more
    with shop.app.app_context():
        assert db.session.scalar(select(FraudEvent.id)) is None  # within the rules
        db.session.rollback()


def test_refund_of_another_line_keeps_the_membership(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "partial@example.org")
    till = shop.open_till()
    _buy_at_till(shop, member.member_id, till, "M-3", extra_cents=800)
    refund(shop.client, till, "M-3", 800, lines=[{"sku": "BREAD", "amount_cents": 800}])
    assert _mine(shop, member.token)["active"]["status"] == "active"


def test_late_refund_still_ends_the_benefits_and_is_flagged(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "late@example.org")
    till = shop.open_till()
    _buy_at_till(shop, member.member_id, till, "M-4")
    with shop.app.app_context():
        sold = db.session.scalars(select(Membership)).one()
        sold.created_at = utcnow() - timedelta(days=30)
        db.session.commit()
    refund(shop.client, till, "M-4", 2900)  # a full refund returns every line
    assert _mine(shop, member.token)["history"][0]["status"] == "refunded"
    with shop.app.app_context():
        rule = db.session.scalar(select(FraudEvent.rule))
        db.session.rollback()
    assert rule == "membership-late-refund"


def test_refund_of_a_purchase_takes_back_its_membership_bonus(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "bonus@example.org")
    till = shop.open_till()
    _buy_at_till(shop, member.member_id, till, "M-5")
    base = balance_of(shop.app, member.member_id)
    purchase(shop.client, till, card_code_of(shop, member.member_id), 4000, receipt_id="B-1")
    assert balance_of(shop.app, member.member_id) == base + 40 + 20
    refund(shop.client, till, "B-1", 4000)
    assert balance_of(shop.app, member.member_id) == base


def test_benefits_end_at_the_end_date_and_a_reminder_is_announced_once(shop: Shop) -> None:
    _plan(shop)
    member = sign_up(shop, "ending@example.org")
    till = shop.open_till()
    _buy_at_till(shop, member.member_id, till, "M-6")
    announced: list[DomainEvent] = []
    subscribe(shop.app, "membership.expiring", announced.append)
    with shop.app.app_context():
        sold = db.session.scalars(select(Membership)).one()
        ends_at = sold.ends_at
        three_months = run_memberships(now=add_months(sold.starts_at, 3) + timedelta(hours=1))
        assert (three_months.ended, three_months.reminded) == (0, 0)
        near_end = run_memberships(now=ends_at - timedelta(days=10))
        again = run_memberships(now=ends_at - timedelta(days=9))
        assert (near_end.reminded, again.reminded) == (1, 0)
        assert paying_members(ends_at - timedelta(seconds=1)) == 1
        after = run_memberships(now=ends_at + timedelta(seconds=1))
        assert after.ended == 1
        assert paying_members(ends_at + timedelta(seconds=1)) == 0
        grants = db.session.scalars(
            select(Coupon.source_id).where(Coupon.member_id == member.member_id)
        ).all()
        db.session.commit()
    assert [event.member_id for event in announced] == [member.member_id]
    assert announced[0].data["renewal_sku"] == "PLUS-12M"
    granted = sorted(str(source_id).split(":", 1)[1] for source_id in grants)
    # One coupon per month of the year, never twice, and the free item once.
    assert granted == sorted([f"month:{k}" for k in range(12)] + ["free:COFFEE"])
    assert _mine(shop, member.token)["active"] is None


def test_manager_sells_and_ends_a_membership_and_renewal_starts_after_the_current(
    shop: Shop,
) -> None:
    plan = _plan(shop)
    manager = shop.login_staff("manager")
    member_id = shop.member_id(0)
    first = shop.client.post(
        f"/api/v1/members/{member_id}/memberships",
        json={"plan_id": plan["id"]},
        headers=bearer(manager),
    )
    assert first.status_code == 201, first.get_json()
    renewal = shop.client.post(
        f"/api/v1/members/{member_id}/memberships",
        json={"plan_id": plan["id"], "price_cents": 2500},
        headers=bearer(manager),
    ).get_json()
    assert renewal["starts_at"] == first.get_json()["ends_at"]
    ended = shop.client.post(
        f"/api/v1/memberships/{first.get_json()['id']}/end",
        json={"reason": "member moved away", "status": "cancelled"},
        headers=bearer(manager),
    )
    assert ended.status_code == 200 and ended.get_json()["status"] == "cancelled"
    twice = shop.client.post(
        f"/api/v1/memberships/{first.get_json()['id']}/end",
        json={"reason": "again"},
        headers=bearer(manager),
    )
    assert twice.status_code == 409 and twice.get_json()["type"] == "membership-not-active"
    unknown = shop.client.post(
        f"/api/v1/members/{member_id}/memberships", json={"plan_id": 999}, headers=bearer(manager)
    )
    assert unknown.status_code == 404 and unknown.get_json()["type"] == "unknown-membership-plan"


def test_kpis_count_paying_members_and_plan_revenue(shop: Shop) -> None:
    _plan(shop)
    till = shop.open_till()
    members = [sign_up(shop, f"kpi{i}@example.org") for i in range(3)]
    for i, member in enumerate(members):
        _buy_at_till(shop, member.member_id, till, f"K-{i}")
    refund(shop.client, till, "K-2", 2900)
    start = (utcnow() - timedelta(days=1)).isoformat()
    end = (utcnow() + timedelta(days=1)).isoformat()
    response = shop.client.get(
        "/api/v1/memberships/kpis",
        query_string={"start": start, "end": end},
        headers=bearer(shop.login_staff("manager")),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["paying_members_now"] == 2
    assert body["plans"] == [
        {
            "plan_id": body["plans"][0]["plan_id"],
            "plan": "Plus",
            "sold": 3,
            "gross_cents": 8700,
            "refunded_cents": 2900,
            "net_cents": 5800,
        }
    ]


def test_a_plan_created_after_the_till_s_last_purchase_is_sold_at_its_next(shop: Shop) -> None:
    """The till caches the plans' SKUs per process; a new plan reaches its next purchase."""
    member = sign_up(shop, "late-plan@example.org")
    till = shop.open_till()
    assert _buy_at_till(shop, member.member_id, till, "P-1").status_code == 201
    assert _mine(shop, member.token)["active"] is None  # no plan is sold as PLUS-12M yet
    _plan(shop)
    assert _buy_at_till(shop, member.member_id, till, "P-2").status_code == 201
    assert _mine(shop, member.token)["active"]["plan"] == "Plus"
