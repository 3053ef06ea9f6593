"""Helpers the coupon, campaign and sync tests share (this module holds no tests)."""

from __future__ import annotations

import uuid
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from app.campaigns import issuing
from app.extensions import db
from coupons.rules import Benefit, BenefitKind
from tests.conftest import Shop, bearer

FIVE_EUROS_OFF = Benefit(BenefitKind.AMOUNT_OFF, amount_cents=500)


def new_codes(shop: Shop, count: int = 1, **terms: Any) -> list[str]:
    """Create an anonymous campaign through the service and return its plain codes."""
    terms.setdefault("benefit", FIVE_EUROS_OFF)
    with shop.app.app_context():
        _campaign, codes = issuing.create_anonymous_campaign(
            name="Test campaign", code_count=count, **terms
        )
        db.session.commit()
    return codes


def member_coupon(shop: Shop, member_index: int = 0, **terms: Any) -> issuing.IssuedCoupon:
    """Issue a coupon bound to a demo member and return it with its plain code."""
    benefit = terms.pop("benefit", FIVE_EUROS_OFF)
    with shop.app.app_context():
        issued = issuing.issue_member_coupon(
            shop.member_id(member_index), benefit, source="test", **terms
        )
        db.session.commit()
    return issued


def redeem(
    client: FlaskClient,
    till_token: str,
    code: str,
    *,
    key: str | None = None,
    basket_cents: int = 2_000,
    receipt_id: str = "R-1",
    **extra: Any,
) -> TestResponse:
    """Post a redemption from a till (a fresh Idempotency-Key unless one is given)."""
    headers = {**bearer(till_token), "Idempotency-Key": key or str(uuid.uuid4())}
    body = {"code": code, "basket_cents": basket_cents, "receipt_id": receipt_id, **extra}
    return client.post("/api/v1/till/coupons/redeem", json=body, headers=headers)


def validate(
    client: FlaskClient, till_token: str, code: str, basket_cents: int = 2_000, **extra: Any
) -> TestResponse:
    """Post a dry-run validation from a till."""
    body = {"code": code, "basket_cents": basket_cents, **extra}
    return client.post("/api/v1/till/coupons/validate", json=body, headers=bearer(till_token))


def problem_type(response: TestResponse) -> str:
    """Return the problem type of an error answer."""
    assert response.mimetype == "application/problem+json", response.data
    return str(response.get_json()["type"])
