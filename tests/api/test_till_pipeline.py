"""The till pipeline's seams: the events it announces, and rules that run on plain values."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from flask import Flask

from app.events import DomainEvent, subscribe
from app.fraud.rules import Caller, RiskContext, _live_code, _self_dealing
from app.fraud.settings import RULE_DEFAULTS
from tests.api.ledger_helpers import purchase
from tests.conftest import Shop


def _context(**fields: object) -> RiskContext:
    values: dict[str, object] = {
        "operation": "purchase",
        "caller": Caller("till", 7, till_id=1, store_id=1, email="cashier@shop.test"),
        "member_id": 3,
        "card_id": uuid.uuid4(),
        "credential": "static",
        "amount_cents": 1000,
        "settings": RULE_DEFAULTS,
        "now": datetime(2026, 1, 1, tzinfo=UTC),
        "member_email": "someone@shop.test",
    }
    values.update(fields)
    return RiskContext(**values)  # type: ignore[arg-type]


def test_rules_run_on_a_context_of_plain_values_without_an_app() -> None:
    assert _self_dealing(_context()) is None
    hit = _self_dealing(_context(member_email="cashier@shop.test"))
    assert hit is not None and hit.rule == "self-dealing" and hit.action == "step-up"
    assert _live_code(_context()) is None  # a static code is enough to earn
    spend = _live_code(_context(operation="points-spend"))
    assert spend is not None and spend.detail == {
        "operation": "points-spend",
        "credential": "static",
    }
    assert _live_code(_context(operation="points-spend", credential="rotating")) is None


def test_a_purchase_announces_its_events_with_member_store_and_json_data(
    app: Flask, shop: Shop
) -> None:
    seen: list[DomainEvent] = []
    subscribe(app, None, seen.append)
    till = shop.open_till()
    booked = purchase(shop.client, till, shop.static_code(0), 2500)
    assert booked.status_code == 201, booked.get_json()
    types = [event.type for event in seen]
    assert types.index("points.changed") < types.index("purchase.booked")
    store_id = shop.tills[0]["store_id"]
    for event in seen:
        assert event.member_id == shop.member_id(0)
        json.dumps(dict(event.data))  # JSON-safe for the outbox and webhooks
    points = next(event for event in seen if event.type == "points.changed")
    assert points.store_id == store_id
    assert points.data["kind"] == "earn" and points.data["points"] == 25
    assert points.data["balance"] == 25
    booked_event = next(event for event in seen if event.type == "purchase.booked")
    assert booked_event.data["purchase_id"] == booked.get_json()["purchase_id"]
    assert booked_event.store_id == store_id


def test_a_refused_purchase_announces_nothing_that_stays(app: Flask, shop: Shop) -> None:
    seen: list[DomainEvent] = []
    subscribe(app, None, seen.append)
    till = shop.open_till()
    first = purchase(shop.client, till, shop.static_code(0), 2500, receipt_id="R-same")
    assert first.status_code == 201
    seen.clear()
    again = purchase(shop.client, till, shop.static_code(0), 2500, receipt_id="R-same")
    assert again.get_json()["type"] == "duplicate-receipt"
    # The ledger announced the entry before the purchase was refused; the rollback took both.
    assert [event.type for event in seen] == ["points.changed"]
    balance = shop.client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {shop.login_member(0)}"}
    )
    assert balance.get_json()["points_balance"] == 25
