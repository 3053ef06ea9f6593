"""Push through the outbox: a purchase at the till reaches the member's phone via the worker.

A push service runs on loopback; the test holds the browser's P-256 key pair and auth secret,
decrypts what arrived with ``http_ece`` (independent of the ``webpush`` library that
encrypted it) and checks the VAPID JWT with the public key the API publishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.outbox.models import DeliveryAttempt, OutboxMessage
from app.push.models import PushSubscription
from tests.api.delivery_helpers import Browser, Receiver, deliver, receiver, unb64url
from tests.api.ledger_helpers import purchase
from tests.conftest import Shop, bearer

__all__ = ["receiver"]  # the fixture, imported for the tests below


def subscribe(shop: Shop, token: str, endpoint: str, browser: Browser) -> None:
    response = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={"endpoint": endpoint, "keys": browser.keys()},
        headers=bearer(token),
    )
    assert response.status_code in (200, 201), response.get_json()


def book(shop: Shop, amount_cents: int = 2500) -> dict[str, Any]:
    response = purchase(shop.client, shop.open_till(), shop.static_code(0), amount_cents)
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def push_rows(app: Flask) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "push").order_by(OutboxMessage.id)
            )
        )
        db.session.expunge_all()
    return rows


def attempts(app: Flask) -> list[tuple[str, int | None]]:
    with app.app_context():
        rows = db.session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.target.like("push:%"))
            .order_by(DeliveryAttempt.id)
        ).all()
        result = [(row.outcome, row.status_code) for row in rows]
        db.session.rollback()
    return result


def test_a_purchase_reaches_the_phone_encrypted_for_it_and_signed_with_vapid(
    shop: Shop, receiver: Receiver
) -> None:
    browser = Browser()
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/ada", browser)

    booked = book(shop)
    assert receiver.received == [], "the till request only writes the outbox"
    deliver(shop.app)

    [message] = receiver.received
    headers = message["headers"]
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == "86400"
    assert headers["urgency"] == "normal"
    payload = json.loads(browser.decrypt(message["body"]))
    assert payload["title"] == "Points earned"
    assert (
        payload["body"] == f"+{booked['points_earned']} points · balance {booked['points_balance']}"
    )
    assert payload["url"] == "/#/card"
    assert payload["kind"] == "points"

    scheme, _, credentials = headers["authorization"].partition(" ")
    assert scheme == "vapid"
    params = dict(part.strip().split("=", 1) for part in credentials.split(","))
    published = shop.client.get("/api/v1/push/vapid-public-key").get_json()["public_key"]
    assert params["k"] == published
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(published))
    claims = jwt.decode(params["t"], key, algorithms=["ES256"], audience=receiver.url)
    assert 0 < claims["exp"] - utcnow().timestamp() <= 24 * 3600
    assert claims["sub"].startswith("mailto:")
    assert attempts(shop.app) == [("delivered", 201)]


def test_another_key_cannot_read_the_message(shop: Shop, receiver: Receiver) -> None:
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/ada", Browser())
    book(shop)
    deliver(shop.app)
    try:
        Browser().decrypt(receiver.received[0]["body"])
    except Exception:  # noqa: BLE001 (any decryption failure will do)
        return
    raise AssertionError("a stranger's key decrypted the message")


def test_410_removes_the_subscription_and_is_recorded(shop: Shop, receiver: Receiver) -> None:
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/gone", Browser())
    receiver.status = 410
    book(shop)
    deliver(shop.app)
    with shop.app.app_context():
        assert db.session.scalars(select(PushSubscription)).all() == []
    assert attempts(shop.app) == [("gone", 410)]
    book(shop)
    deliver(shop.app)
    assert len(receiver.received) == 1, "nothing is sent to a removed subscription"


def test_429_is_retried_only_after_retry_after(shop: Shop, receiver: Receiver) -> None:
    browser = Browser()
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/busy", browser)
    receiver.statuses = [429]
    receiver.retry_after = "120"
    book(shop)
    start = utcnow()
    deliver(shop.app, now=start)
    [row] = push_rows(shop.app)
    assert row.status == "pending"
    assert row.available_at == start + timedelta(seconds=120)

    deliver(shop.app, now=start + timedelta(seconds=119))
    assert len(receiver.received) == 1, "not before Retry-After"
    deliver(shop.app, now=start + timedelta(seconds=121))
    assert [m["answered"] for m in receiver.received] == [429, 201]
    assert json.loads(browser.decrypt(receiver.received[1]["body"]))["title"] == "Points earned"
    assert attempts(shop.app) == [("retry", 429), ("delivered", 201)]
    assert push_rows(shop.app)[0].status == "done"


def test_server_errors_back_off_exponentially(shop: Shop, receiver: Receiver) -> None:
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/flaky", Browser())
    receiver.statuses = [503, 503]
    book(shop)
    now = utcnow()
    deliver(shop.app, now=now)
    first_wait = (push_rows(shop.app)[0].available_at - now).total_seconds()
    assert 15 <= first_wait <= 30
    now = push_rows(shop.app)[0].available_at
    deliver(shop.app, now=now)
    second_wait = (push_rows(shop.app)[0].available_at - now).total_seconds()
    assert 30 <= second_wait <= 60
    deliver(shop.app, now=push_rows(shop.app)[0].available_at)
    assert [m["answered"] for m in receiver.received] == [503, 503, 201]


def test_a_worker_killed_between_claim_and_send_loses_nothing(
    shop: Shop, receiver: Receiver
) -> None:
    browser = Browser()
    subscribe(shop, shop.login_member(), f"{receiver.url}/push/ada", browser)
    book(shop)
    deliver_fan_out_only(shop.app)
    [row] = push_rows(shop.app)
    assert row.status == "pending" and row.claimed_by is None

    # A real worker process claims the row, then dies before sending.
    script = (
        "import sys\n"
        "from app import create_app\n"
        "from app.outbox.service import claim_due\n"
        "app = create_app({'SQLALCHEMY_DATABASE_URI': sys.argv[1], 'INSTANCE_PATH': sys.argv[2]})\n"
        "with app.app_context():\n"
        "    print(len(claim_due('doomed', limit=10)), flush=True)\n"
        "    sys.stdin.read()\n"
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            shop.app.config["SQLALCHEMY_DATABASE_URI"],
            shop.app.config["INSTANCE_PATH"],
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "LOG_LEVEL": "ERROR"},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == b"1"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)

    [row] = push_rows(shop.app)
    assert row.claimed_by == "doomed" and row.lease_until is not None
    assert deliver(shop.app) == 0, "the dead worker's lease still holds"
    assert receiver.received == []
    deliver(shop.app, now=row.lease_until + timedelta(seconds=1))
    [message] = receiver.received
    assert json.loads(browser.decrypt(message["body"]))["title"] == "Points earned"
    assert push_rows(shop.app)[0].status == "done"


def deliver_fan_out_only(app: Flask) -> None:
    """Run the worker on the event rows only (the push rows stay queued)."""
    from app.outbox.service import deliver_claimed

    with app.app_context():
        events = db.session.scalars(
            select(OutboxMessage.id).where(OutboxMessage.kind == "event")
        ).all()
        db.session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.id.in_(events))
            .values(claimed_by="fan-out", lease_until=utcnow() + timedelta(minutes=5))
        )
        db.session.commit()
        for event_id in events:
            deliver_claimed(event_id, "fan-out")
        db.session.remove()


def test_muted_kinds_are_not_sent_and_quiet_hours_defer(shop: Shop, receiver: Receiver) -> None:
    token = shop.login_member()
    subscribe(shop, token, f"{receiver.url}/push/ada", Browser())
    muted = shop.client.put(
        "/api/v1/me/push-preferences",
        json={"kinds": {"points": False}, "timezone": "Europe/Berlin"},
        headers=bearer(token),
    )
    assert muted.status_code == 200, muted.get_json()
    assert muted.get_json()["kinds"] == {
        "points": False,
        "offers": True,
        "reminders": True,
        "surveys": True,
    }
    book(shop)
    deliver(shop.app)
    assert receiver.received == [] and push_rows(shop.app) == []

    # Quiet all day but one minute: the message waits for the end of the quiet hours.
    now = utcnow()
    end = (now + timedelta(hours=2)).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    start = end - timedelta(hours=23)
    quiet = shop.client.put(
        "/api/v1/me/push-preferences",
        json={
            "kinds": {"points": True},
            "quiet_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
            "timezone": "Europe/Berlin",
        },
        headers=bearer(token),
    )
    assert quiet.status_code == 200
    book(shop)
    deliver(shop.app)
    [row] = push_rows(shop.app)
    assert receiver.received == []
    expected = end.replace(second=0, microsecond=0)
    assert abs((row.available_at - expected).total_seconds()) < 61
    deliver(shop.app, now=row.available_at + timedelta(seconds=1))
    assert len(receiver.received) == 1

    # The member's own test message is a service message: never muted, never deferred.
    shop.client.put(
        "/api/v1/me/push-preferences",
        json={"kinds": {"points": False, "offers": False}},
        headers=bearer(token),
    )
    test = shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    assert test.get_json() == {"queued": 1}


def test_push_preferences_are_validated_and_private(shop: Shop) -> None:
    token = shop.login_member()
    bad = [
        {"kinds": {"points": True}, "timezone": "Mars/Olympus"},
        {"kinds": {"spam": True}},
        {"kinds": {}, "quiet_hours": {"start": "25:00", "end": "07:00"}},
    ]
    for body in bad:
        answer = shop.client.put("/api/v1/me/push-preferences", json=body, headers=bearer(token))
        assert answer.status_code == 422, body
    assert shop.client.get("/api/v1/me/push-preferences").status_code == 401
    other = shop.client.get(
        "/api/v1/me/push-preferences", headers=bearer(shop.login_member(1))
    ).get_json()
    assert other["quiet_hours"] is None and all(other["kinds"].values())
