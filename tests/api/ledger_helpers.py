"""Helpers for the ledger tests: the balance invariant, and booking at the till in one line."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.extensions import db
from app.ledger.service import find_balance_mismatches
from tests.conftest import bearer


def assert_ledger_consistent(app: Flask) -> None:
    """Assert that every member's cached balance equals the sum of their ledger entries."""
    with app.app_context():
        mismatches = find_balance_mismatches()
        db.session.rollback()
    assert mismatches == [], mismatches


def idempotent(till_token: str, key: str | None = None) -> dict[str, str]:
    """Return the headers of a till write: the till's token and an Idempotency-Key."""
    return {**bearer(till_token), "Idempotency-Key": key or str(uuid.uuid4())}


def purchase(
    client: FlaskClient,
    till_token: str,
    code: str,
    amount_cents: int,
    receipt_id: str | None = None,
    key: str | None = None,
    **extra: Any,
) -> TestResponse:
    """Book a purchase in EUR at the till and return the response."""
    body = {
        "code": code,
        "receipt_id": receipt_id or f"R-{uuid.uuid4().hex[:12]}",
        "amount_cents": amount_cents,
        "currency": "EUR",
        **extra,
    }
    return client.post("/api/v1/till/purchases", json=body, headers=idempotent(till_token, key))


def refund(
    client: FlaskClient,
    till_token: str,
    receipt_id: str,
    amount_cents: int,
    key: str | None = None,
    **extra: Any,
) -> TestResponse:
    """Refund part of a receipt at the till and return the response."""
    body = {"receipt_id": receipt_id, "amount_cents": amount_cents, **extra}
    return client.post("/api/v1/till/refunds", json=body, headers=idempotent(till_token, key))


def balance_of(app: Flask, member_id: int) -> int:
    """Return a member's cached balance, read fresh from the database."""
    from app.accounts.models import Member

    with app.app_context():
        balance = db.session.get_one(Member, member_id).points_balance
        db.session.rollback()
    return balance
