"""Helpers the anti-fraud tests share (this module holds no tests)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import base45
from werkzeug.test import TestResponse

from app.extensions import db
from app.fraud.models import Attempt, FraudEvent, StaffAudit
from tests.conftest import Shop, bearer


def scan(shop: Shop, code: str, till_token: str, **headers: str) -> TestResponse:
    """Scan a card code at a till."""
    return shop.client.post(
        "/api/v1/till/scan", json={"code": code}, headers={**bearer(till_token), **headers}
    )


def forged_code(shop: Shop, member_index: int = 0) -> str:
    """Return a member's LW1 code with one bit of its signature flipped."""
    payload = bytearray(base45.b45decode(shop.static_code(member_index)[4:]))
    payload[-1] ^= 0x01
    return "LW1:" + base45.b45encode(bytes(payload)).decode()


def random_forged_code(shop: Shop) -> str:
    """Return a well-formed LW1 code for a random card, signed by nobody."""
    payload = bytearray(base45.b45decode(shop.static_code()[4:]))
    payload[5:21] = uuid.uuid4().bytes
    payload[-64:] = os.urandom(64)
    return "LW1:" + base45.b45encode(bytes(payload)).decode()


def set_rules(shop: Shop, changes: dict[str, Any]) -> TestResponse:
    """Change rule settings as the demo admin."""
    response = shop.client.put(
        "/api/v1/fraud/rules", json=changes, headers=bearer(shop.login_staff("admin"))
    )
    assert response.status_code == 200, response.get_json()
    return response


def events(shop: Shop, **query: Any) -> list[dict[str, Any]]:
    """List fraud events through the review API, as the demo manager."""
    response = shop.client.get(
        "/api/v1/fraud/events", query_string=query, headers=bearer(shop.login_staff("manager"))
    )
    assert response.status_code == 200, response.get_json()
    result: list[dict[str, Any]] = response.get_json()
    return result


def only_event(shop: Shop, rule: str) -> dict[str, Any]:
    """Return the one event raised by a rule."""
    found = events(shop, rule=rule)
    assert len(found) == 1, [(e["rule"], e["detail"]) for e in events(shop)]
    return found[0]


def attempts(shop: Shop) -> list[Attempt]:
    """Return every attempt on record, oldest first (detached from the session)."""
    with shop.app.app_context():
        rows = db.session.query(Attempt).order_by(Attempt.id).all()
        db.session.expunge_all()
    return rows


def event_rows(shop: Shop) -> list[FraudEvent]:
    """Return every fraud event row, oldest first (detached)."""
    with shop.app.app_context():
        rows = db.session.query(FraudEvent).order_by(FraudEvent.id).all()
        db.session.expunge_all()
    return rows


def audit_rows(shop: Shop) -> list[StaffAudit]:
    """Return every staff audit row, oldest first (detached)."""
    with shop.app.app_context():
        rows = db.session.query(StaffAudit).order_by(StaffAudit.id).all()
        db.session.expunge_all()
    return rows
