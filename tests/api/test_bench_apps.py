"""The apps ``make bench`` measures beside the till: the stack's reference and the scan's floor.

Both are measuring instruments, not product code; these tests keep them honest. The reference
must do the write it claims (and refuse when nothing is left), and the floor must do a real
scan: the same card, member and credential as the till's own scan, an attempt on record, a
scan token the till accepts, and refusals for a forged or unknown code and a missing token.
The floor runs the app's own statements on PostgreSQL only, as the bench does.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import base45
import pytest
from sqlalchemy import create_engine, func, select, update
from werkzeug.test import Client

from app.cards.keys import card_key_ring
from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt
from bench import reference
from bench.floor import create_app_floor
from tests.conftest import Shop, bearer
from wallet.card_codes import encode_static_code


def test_the_reference_takes_one_use_and_logs_it_or_refuses_when_none_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'reference.db'}"
    reference.prepare(url, 3)
    monkeypatch.setenv("DATABASE_URL", url)
    client = reference.create_app().test_client()
    assert client.post("/use", json={"counter": 2}).get_json() == {"left": 999_999}
    assert client.post("/use", json={"counter": 2}).get_json() == {"left": 999_998}
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(reference.COUNTERS).values(left=0))
    refused = client.post("/use", json={"counter": 1})
    assert refused.status_code == 409
    with engine.connect() as connection:
        uses = connection.execute(select(func.count()).select_from(reference.USES)).scalar()
    assert uses == 2  # the refused use logged nothing


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
def test_the_floor_scans_like_the_till(shop: Shop) -> None:
    till_token = shop.open_till()
    code = shop.static_code()
    floor = Client(create_app_floor(shop.app))
    answer = floor.post("/api/v1/till/scan", json={"code": code}, headers=bearer(till_token))
    assert answer.status_code == 200
    scanned = json.loads(answer.get_data())
    till = shop.client.post("/api/v1/till/scan", json={"code": code}, headers=bearer(till_token))
    assert till.status_code == 200
    expected = till.get_json()
    assert scanned["card_id"] == expected["card_id"]
    assert scanned["credential"] == expected["credential"] == "static"
    for field in ("display_name", "points_balance", "tier"):
        assert scanned["member"][field] == expected["member"][field]
    # The floor's scan token is one the till accepts for a purchase.
    purchase = shop.client.post(
        "/api/v1/till/purchases",
        json={
            "code": scanned["scan_token"],
            "receipt_id": "floor-1",
            "amount_cents": 500,
            "currency": "EUR",
        },
        headers={**bearer(till_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert purchase.status_code == 201, purchase.get_json()
    with shop.app.app_context():
        accepted = db.session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.operation == "scan", Attempt.card_id == scanned["card_id"])
        )
        assert accepted == 2  # the floor's scan and the till's


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
def test_the_floor_refuses_a_forged_or_unknown_code_and_a_missing_token(shop: Shop) -> None:
    till_token = shop.open_till()
    floor = Client(create_app_floor(shop.app))
    payload = bytearray(base45.b45decode(shop.static_code()[4:]))
    payload[-1] ^= 0x01  # the signature no longer matches
    forged = "LW1:" + base45.b45encode(bytes(payload)).decode()
    refused = floor.post("/api/v1/till/scan", json={"code": forged}, headers=bearer(till_token))
    assert refused.status_code == 422
    with shop.app.app_context():
        ring = card_key_ring()
    unknown = encode_static_code(uuid.uuid4(), utcnow() + timedelta(days=1), ring.newest())
    unknown_answer = floor.post(
        "/api/v1/till/scan", json={"code": unknown}, headers=bearer(till_token)
    )
    assert unknown_answer.status_code == 410
    assert floor.post("/api/v1/till/scan", json={"code": unknown}).status_code == 401
