"""Tiers through the API: the manager's ladder, upgrades at once, reviews at period ends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from app.accounts.models import Member
from app.db import utcnow
from app.extensions import db
from app.ledger.tiers import period_end, period_start, refresh_tier
from tests.api.ledger_helpers import assert_ledger_consistent, purchase, refund
from tests.conftest import Shop, bearer

LADDER: dict[str, Any] = {
    "window_days": 365,
    "qualification_period_months": 12,
    "tiers": [
        {"code": "base", "name": "Member", "threshold_points": 0},
        {
            "code": "silver",
            "name": "Silver",
            "threshold_points": 100,
            "multiplier_percent": 150,
            "benefits": ["50 % more points"],
        },
    ],
}


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _set_ladder(shop: Shop) -> None:
    response = shop.client.put(
        "/api/v1/tiers", json=LADDER, headers=bearer(shop.login_staff("manager"))
    )
    assert response.status_code == 200, response.get_json()


def _tier_of(app: Flask, member_id: int) -> str:
    with app.app_context():
        tier = db.session.get_one(Member, member_id).tier
        db.session.rollback()
    return tier


def test_manager_replaces_the_ladder_and_inconsistent_ladders_are_refused(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    _set_ladder(shop)
    shown = shop.client.get("/api/v1/tiers", headers=manager).get_json()
    assert [tier["code"] for tier in shown["tiers"]] == ["base", "silver"]
    assert shown["tiers"][1]["benefits"] == ["50 % more points"]
    broken_ladders = [
        [{"code": "silver", "name": "S", "threshold_points": 100}],  # nobody's tier at 0
        [
            {"code": "base", "name": "B", "threshold_points": 0},
            {"code": "base", "name": "B2", "threshold_points": 10},
        ],
        [
            {"code": "base", "name": "B", "threshold_points": 0},
            {"code": "gold", "name": "G", "threshold_points": 0},
        ],
    ]
    for tiers in broken_ladders:
        response = shop.client.put(
            "/api/v1/tiers", json={**LADDER, "tiers": tiers}, headers=manager
        )
        assert response.status_code == 422, tiers
        assert response.get_json()["type"] == "validation-error"
    odd_period = shop.client.put(
        "/api/v1/tiers", json={**LADDER, "qualification_period_months": 5}, headers=manager
    )
    assert odd_period.status_code == 422


def test_crossing_a_threshold_upgrades_at_once_and_me_shows_the_progress(shop: Shop) -> None:
    _set_ladder(shop)
    till = shop.open_till()
    member = bearer(shop.login_member(0))
    progress = shop.client.get("/api/v1/me", headers=member).get_json()["tier_progress"]
    assert progress["current"]["code"] == "base"
    assert progress["next"] == {"code": "silver", "name": "Silver", "threshold_points": 100}
    assert (progress["points_in_window"], progress["points_needed"]) == (0, 100)
    crossing = purchase(shop.client, till, shop.static_code(0), 10000).get_json()
    assert (crossing["points_earned"], crossing["tier"]) == (100, "silver")
    # The purchase after the upgrade earns at the silver multiplier.
    assert purchase(shop.client, till, shop.static_code(0), 1000).get_json()["points_earned"] == 15
    me = shop.client.get("/api/v1/me", headers=member).get_json()
    assert me["tier"] == "silver"
    assert me["tier_progress"]["next"] is None
    assert me["tier_progress"]["points_needed"] == 0
    now = utcnow()
    assert me["tier_progress"]["held_until"] == period_end(period_start(now, 12), 12).isoformat()


def test_refunding_the_purchase_that_paid_for_an_upgrade_takes_it_back(shop: Shop) -> None:
    _set_ladder(shop)
    till = shop.open_till()
    assert purchase(shop.client, till, shop.static_code(0), 10000, receipt_id="R-1").get_json()[
        "tier"
    ] == ("silver")
    returned = refund(shop.client, till, "R-1", 5000).get_json()
    assert returned["tier"] == "base"
    assert _tier_of(shop.app, shop.member_id(0)) == "base"


def test_tier_is_kept_through_the_period_and_reviewed_at_its_end(app: Flask, shop: Shop) -> None:
    _set_ladder(shop)
    purchase(shop.client, shop.open_till(), shop.static_code(0), 10000)
    member_id = shop.member_id(0)
    this_period = period_start(utcnow(), 12)
    next_period = period_end(this_period, 12)
    with app.app_context():
        # Within the period, and at the next boundary: the window still holds the points.
        assert refresh_tier(member_id, now=next_period - timedelta(seconds=1)).code == "silver"
        assert refresh_tier(member_id, now=next_period + timedelta(days=1)).code == "silver"
        db.session.commit()
    # A period later the window at the boundary is empty: the review downgrades.
    two_later = period_end(next_period, 12) + timedelta(days=1)
    runner = app.test_cli_runner()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.ledger.cli.utcnow", lambda: two_later)
        result = runner.invoke(args=["points", "review-tiers"])
    assert result.exit_code == 0, result.output
    assert "1 changed tier" in result.output
    assert _tier_of(app, member_id) == "base"
