"""Offline tills: replayed batches change nothing, lost races end in the review queue."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import Member
from app.campaigns.models import Redemption, SyncConflict
from app.db import utcnow
from app.extensions import db
from tests.api.test_coupon_helpers import new_codes, problem_type, redeem
from tests.conftest import Shop, bearer


def _event(
    payload: dict[str, Any],
    *,
    sequence: int = 1,
    kind: str = "redemption",
    local_time: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Return an offline event as a till sends it."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": kind,
        "sequence": sequence,
        "local_time": (local_time or utcnow() - timedelta(minutes=5)).isoformat(),
        "payload": payload,
    }


def _redemption(code: str, receipt_id: str = "OFF-1", **extra: Any) -> dict[str, Any]:
    """Return the payload of an offline redemption."""
    return {"code": code, "basket_cents": 2_000, "receipt_id": receipt_id, **extra}


def _sync(shop: Shop, till_token: str, *events: dict[str, Any]) -> list[dict[str, Any]]:
    """Send a batch and return the per-event results."""
    response = shop.client.post(
        "/api/v1/till/sync", json={"events": list(events)}, headers=bearer(till_token)
    )
    assert response.status_code == 200, response.get_json()
    results: list[dict[str, Any]] = response.get_json()["results"]
    return results


def _count(shop: Shop, model: type) -> int:
    """Count the rows of a model."""
    with shop.app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def test_offline_redemption_is_accepted_and_replaying_the_batch_changes_nothing(
    shop: Shop,
) -> None:
    first, second = new_codes(shop, 2)
    till = shop.open_till(0)
    batch = [_event(_redemption(first), sequence=1), _event(_redemption(second), sequence=2)]
    results = _sync(shop, till, *batch)
    assert [(r["status"], r["replayed"]) for r in results] == [("accepted", False)] * 2
    assert results[0]["result"]["offline"] is True
    replay = _sync(shop, till, *batch)
    assert [(r["status"], r["replayed"]) for r in replay] == [("accepted", True)] * 2
    assert [r["result"] for r in replay] == [r["result"] for r in results]
    assert _count(shop, Redemption) == 2
    response = redeem(shop.client, till, first)
    assert (response.status_code, problem_type(response)) == (409, "coupon-already-redeemed")


def test_offline_redemption_that_lost_to_an_earlier_one_goes_to_the_review_queue(
    shop: Shop,
) -> None:
    [code] = new_codes(shop)
    online = redeem(shop.client, shop.open_till(1), code).get_json()
    till = shop.open_till(0)
    event = _event(_redemption(code, discount_cents=500))
    [result] = _sync(shop, till, event)
    assert result["status"] == "conflict"
    assert result["status_code"] == 409
    assert result["result"]["type"] == "coupon-already-redeemed"
    [replayed] = _sync(shop, till, event)
    assert replayed["replayed"] is True
    assert replayed["result"]["conflict_id"] == result["result"]["conflict_id"]
    manager = bearer(shop.login_staff("manager"))
    queue = shop.client.get("/api/v1/till/sync/conflicts", headers=manager).get_json()
    [conflict] = queue
    assert conflict["reason"] == "coupon-already-redeemed"
    assert conflict["winning_redemption_id"] == online["redemption_id"]
    assert conflict["claimed_discount_cents"] == 500
    assert conflict["till_id"] == shop.tills[0]["till_id"]
    url = f"/api/v1/till/sync/conflicts/{conflict['conflict_id']}/resolve"
    resolved = shop.client.post(url, json={"note": "refunded by the shop"}, headers=manager)
    assert resolved.get_json()["status"] == "resolved"
    assert shop.client.get("/api/v1/till/sync/conflicts", headers=manager).get_json() == []
    again = shop.client.post(url, json={"note": "twice"}, headers=manager)
    assert (again.status_code, problem_type(again)) == (409, "conflict-already-resolved")
    cashier = bearer(shop.login_staff("cashier"))
    assert shop.client.get("/api/v1/till/sync/conflicts", headers=cashier).status_code == 403


def test_events_apply_in_sequence_order_so_the_earlier_one_wins(shop: Shop) -> None:
    [code] = new_codes(shop)
    later = _event(_redemption(code, "OFF-2"), sequence=8)
    earlier = _event(_redemption(code, "OFF-1"), sequence=7)
    results = _sync(shop, shop.open_till(0), later, earlier)
    assert [(r["sequence"], r["status"]) for r in results] == [(7, "accepted"), (8, "conflict")]
    assert _count(shop, SyncConflict) == 1


def test_offline_redemption_over_the_floor_limit_is_kept_but_flagged(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    shop.client.put(
        "/api/v1/coupon-settings", json={"offline_floor_limit_cents": 300}, headers=manager
    )
    [code] = new_codes(shop)
    till = shop.open_till(0)
    [result] = _sync(shop, till, _event(_redemption(code)))
    assert result["status"] == "conflict"
    assert result["result"]["flag"] == "over-floor-limit"
    assert result["result"]["discount_cents"] == 500
    response = redeem(shop.client, till, code)
    assert (response.status_code, problem_type(response)) == (409, "coupon-already-redeemed")
    [conflict] = shop.client.get("/api/v1/till/sync/conflicts", headers=manager).get_json()
    assert conflict["reason"] == "over-floor-limit"
    assert conflict["redemption_id"] == result["result"]["redemption_id"]


def test_offline_event_older_than_the_allowed_age_is_a_conflict(shop: Shop) -> None:
    [code] = new_codes(shop)
    stale = _event(_redemption(code), local_time=utcnow() - timedelta(hours=73))
    [result] = _sync(shop, shop.open_till(0), stale)
    assert (result["status"], result["result"]["type"]) == ("conflict", "offline-event-too-old")
    assert _count(shop, Redemption) == 0


def test_offline_validity_is_judged_at_the_tills_local_time(shop: Shop) -> None:
    now = utcnow()
    [code] = new_codes(shop, valid_until=now - timedelta(hours=1))
    in_time = _event(_redemption(code), local_time=now - timedelta(hours=2))
    [result] = _sync(shop, shop.open_till(0), in_time)
    assert result["status"] == "accepted"


def test_event_id_of_an_online_redemption_replays_the_online_answer(shop: Shop) -> None:
    [code] = new_codes(shop)
    till = shop.open_till(0)
    key = str(uuid.uuid4())
    online = redeem(shop.client, till, code, key=key, receipt_id="OFF-1", basket_cents=2_000)
    [result] = _sync(shop, till, _event(_redemption(code), event_id=key))
    assert (result["status"], result["replayed"]) == ("accepted", True)
    assert result["result"] == online.get_json()
    assert _count(shop, Redemption) == 1


def test_malformed_event_is_rejected_without_stopping_the_batch(shop: Shop) -> None:
    [code] = new_codes(shop)
    broken = _event({"code": code}, sequence=1)
    good = _event(_redemption(code), sequence=2)
    results = _sync(shop, shop.open_till(0), broken, good)
    assert [r["status"] for r in results] == ["rejected", "accepted"]
    assert results[0]["result"]["type"] == "validation-error"


def test_offline_purchase_is_booked_by_the_ledger_once(shop: Shop) -> None:
    card = shop.static_code(0)
    purchase = {"code": card, "receipt_id": "P-1", "amount_cents": 2_500, "currency": "EUR"}
    event = _event(purchase, kind="purchase")
    till = shop.open_till(0)
    [result] = _sync(shop, till, event)
    assert result["status"] == "accepted", result
    [replayed] = _sync(shop, till, event)
    assert replayed["replayed"] is True
    with shop.app.app_context():
        member = db.session.get(Member, shop.member_id(0))
        assert member is not None
        assert member.points_balance == result["result"]["points_balance"] > 0
    twin = _event({**purchase}, kind="purchase")
    [duplicate] = _sync(shop, till, twin)
    assert (duplicate["status"], duplicate["result"]["type"]) == ("conflict", "duplicate-receipt")
