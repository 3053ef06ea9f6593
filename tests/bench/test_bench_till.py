"""What anti-fraud costs a till request: the attempt row, the rules, the lockout check.

Run with ``make bench`` (or ``pytest tests/bench -o addopts=""``); with ``TEST_DATABASE_URL``
set it measures PostgreSQL too, with ``REDIS_URL`` the Redis lockout check as well. The
database holds 20,000 earlier attempts spread over tills, members and cards, and the
attempt-log indexes the migrations will add, so the rules' queries run against an index, not
an empty table.

* ``attempt_write``: noting an attempt and writing its row (one INSERT, flushed);
* ``assess_purchase`` / ``assess_scan``: every rule that applies to the operation (velocity,
  impossible travel, self-dealing, live code; one small query each), as a purchase and a
  scan run them; ``cold`` also reads the rule settings (once per process every 5 seconds);
* ``lockout_check``: the guess-lockout check (in-process, or one Redis round trip);
* ``scan_request``: a whole ``POST /api/v1/till/scan`` through the test client, for scale.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, current_app, g
from sqlalchemy import insert

from app.auth.tokens import Identity
from app.cards.presentation import PresentedCard
from app.db import utcnow
from app.extensions import db
from app.fraud.attempts import note_attempt, write_attempt_now
from app.fraud.lockout import check_guess_lockout
from app.fraud.models import Attempt
from app.fraud.rules import assess
from app.transactions import Outcome
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.bench

HISTORY = 20_000


def _history(shop: Shop) -> None:
    """Add the missing attempt indexes and 20,000 earlier attempts."""
    rng = random.Random(7)
    now = utcnow()
    tills = [(t["till_id"], t["store_id"]) for t in shop.tills]
    cards = [str(uuid.uuid4()) for _ in range(500)]
    rows: list[dict[str, Any]] = []
    for number in range(HISTORY):
        till_id, store_id = rng.choice(tills)
        rows.append(
            {
                "occurred_at": now - timedelta(minutes=rng.randint(1, 60 * 24 * 30)),
                "operation": rng.choice(["scan", "purchase", "coupon-redeem", "refund"]),
                "outcome": "accepted" if number % 10 else "refused",
                "refusal_type": None if number % 10 else "unknown-code",
                "status_code": 200 if number % 10 else 404,
                "till_id": till_id,
                "store_id": store_id,
                "staff_id": shop.logins["cashier"]["staff_id"],
                "member_id": rng.randint(1, 5_000),
                "card_id": rng.choice(cards),
                "code_fingerprint": uuid.uuid4().hex,
                "risk_score": 0,
                "client_address": f"10.0.{rng.randint(0, 20)}.{rng.randint(1, 250)}",
            }
        )
    with shop.app.app_context():
        for index in Attempt.__table__.indexes:
            index.create(db.engine, checkfirst=True)
        db.session.execute(insert(Attempt), rows)
        db.session.commit()


@pytest.fixture
def till_request(app: Flask, shop: Shop) -> Iterator[PresentedCard]:
    """Seed the history, then run the test inside a till request with a presented card."""
    _history(shop)
    from app.cards.service import active_card

    with app.test_request_context("/api/v1/till/scan", method="POST"):
        card = active_card(shop.member_id())
        till = shop.tills[0]
        g.identity = Identity(
            "till", shop.logins["cashier"]["staff_id"], "cashier", till["till_id"], till["store_id"]
        )
        yield PresentedCard(card.id, card.member_id, "static")
        db.session.rollback()


def test_attempt_write(benchmark: Any, till_request: PresentedCard) -> None:
    def write() -> None:
        g.pop("attempt_row", None)
        note_attempt("purchase", code="LW1:EXAMPLE", member_id=till_request.member_id)
        write_attempt_now(Outcome(201, None))
        db.session.flush()

    benchmark(write)


def _assess(operation: str, presented: PresentedCard, cold: bool) -> Any:
    if cold:
        current_app.extensions.pop("lw_fraud_rules", None)  # read the rule settings again
    return assess(operation, presented, amount_cents=1_000)


@pytest.mark.parametrize("settings", ["cached", "cold"])
def test_assess_purchase(benchmark: Any, till_request: PresentedCard, settings: str) -> None:
    decision = benchmark(_assess, "purchase", till_request, settings == "cold")
    assert decision.action == "allow"


def test_assess_scan(benchmark: Any, till_request: PresentedCard) -> None:
    decision = benchmark(_assess, "scan", till_request, False)
    assert decision.action == "allow"


@pytest.mark.parametrize("counter", ["memory", "redis"])
def test_lockout_check(
    benchmark: Any, app: Flask, till_request: PresentedCard, counter: str
) -> None:
    if counter == "redis":
        if not os.environ.get("REDIS_URL"):
            pytest.skip("REDIS_URL is not set")
        app.config["REDIS_URL"] = os.environ["REDIS_URL"]
    benchmark(check_guess_lockout)


def test_scan_request(benchmark: Any, shop: Shop) -> None:
    _history(shop)
    headers = bearer(shop.open_till())
    code = shop.static_code()

    def scan() -> None:
        response = shop.client.post("/api/v1/till/scan", json={"code": code}, headers=headers)
        assert response.status_code == 200

    benchmark(scan)
