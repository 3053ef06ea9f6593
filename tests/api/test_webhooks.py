"""Webhooks: signed per Standard Webhooks, retried after failures, deduplicable by id.

A receiver on loopback verifies every delivery with the ``standardwebhooks`` reference
package and the endpoint's secret, so the signing is checked by code that is not ours.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app.db import utcnow
from app.extensions import db
from app.outbox.models import DeliveryAttempt
from app.outbox.worker import run_until_idle
from tests.api.delivery_helpers import Receiver, deliver, receiver
from tests.api.ledger_helpers import purchase
from tests.conftest import Shop, bearer

__all__ = ["receiver"]  # the fixture, imported for the tests below


def register_endpoint(shop: Shop, url: str, event_types: list[str]) -> dict[str, Any]:
    response = shop.client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": url, "event_types": event_types, "description": "CRM"},
        headers=bearer(shop.login_staff("admin")),
    )
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def sign_up(shop: Shop, n: int) -> None:
    for i in range(n):
        response = shop.client.post(
            "/api/v1/auth/register",
            json={
                "email": f"hook{i}@example.com",
                "password": "correct horse",
                "display_name": "H",
            },
        )
        assert response.status_code == 201, response.get_json()


def verified(secret: str, received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Verify every delivery's signature with the reference package; return the bodies."""
    verifier = Webhook(secret)
    bodies = []
    for delivery in received:
        headers = delivery["headers"]
        payload = verifier.verify(delivery["body"], headers)
        assert headers["webhook-signature"].startswith("v1,")
        assert payload["id"] == headers["webhook-id"]
        bodies.append(payload)
    return bodies


def test_deliveries_are_signed_retried_after_500_and_deduplicate_by_id(
    shop: Shop, receiver: Receiver
) -> None:
    endpoint = register_endpoint(shop, f"{receiver.url}/hooks", ["member.signed_up"])
    assert endpoint["secret"].startswith("whsec_")
    sign_up(shop, 3)
    receiver.statuses = [500]  # the first delivery fails once
    now = utcnow()
    deliver(shop.app, now=now)
    assert len(receiver.received) == 3
    deliver(shop.app, now=now + timedelta(minutes=2))
    assert len(receiver.received) == 4, "the failed delivery came again"

    bodies = verified(endpoint["secret"], receiver.received)
    ids = [body["id"] for body in bodies]
    assert len(set(ids)) == 3, "three events, one id each"
    failed_id = receiver.received[0]["headers"]["webhook-id"]
    assert ids.count(failed_id) == 2, "the retry carries the same webhook-id"
    assert {body["type"] for body in bodies} == {"member.signed_up"}
    assert all(isinstance(body["member_id"], int) for body in bodies)

    # A stranger's secret does not verify.
    with pytest.raises(Exception):  # noqa: B017 (the package raises its own error)
        Webhook("whsec_" + "A" * 44).verify(
            receiver.received[0]["body"], receiver.received[0]["headers"]
        )

    attempts = shop.client.get(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}/attempts",
        headers=bearer(shop.login_staff("manager")),
    ).get_json()
    assert len(attempts) == 4
    outcomes = [(a["webhook_id"], a["outcome"], a["status_code"]) for a in reversed(attempts)]
    assert (failed_id, "retry", 500) in outcomes and (failed_id, "delivered", 201) in outcomes
    assert sum(1 for _, outcome, _ in outcomes if outcome == "delivered") == 3


def test_an_endpoint_gets_only_the_types_it_chose(shop: Shop, receiver: Receiver) -> None:
    endpoint = register_endpoint(shop, f"{receiver.url}/hooks", ["purchase.booked"])
    sign_up(shop, 2)
    deliver(shop.app)
    assert receiver.received == []
    assert purchase(shop.client, shop.open_till(), shop.static_code(0), 1000).status_code == 201
    deliver(shop.app)
    [body] = verified(endpoint["secret"], receiver.received)
    assert body["type"] == "purchase.booked"
    assert body["data"]["amount_cents"] == 1000
    assert body["member_id"] == shop.member_id(0)


def test_a_dead_endpoint_is_disabled_and_staff_are_told(shop: Shop, receiver: Receiver) -> None:
    shop.app.config["WEBHOOK_DISABLE_AFTER_FAILURES"] = 3
    endpoint = register_endpoint(shop, f"{receiver.url}/hooks", ["*"])
    receiver.status = 503
    sign_up(shop, 1)
    now = utcnow()
    for minute in range(0, 200, 10):
        deliver(shop.app, now=now + timedelta(minutes=minute))
    # Three failures disabled it; nothing more was sent.
    assert len(receiver.received) == 3
    admin = bearer(shop.login_staff("admin"))
    state = shop.client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=admin)
    assert state.get_json()["enabled"] is False
    assert "3 failed deliveries" in state.get_json()["disabled_reason"]
    events = shop.client.get("/api/v1/fraud/events", headers=admin).get_json()
    [alert] = [e for e in events if e["rule"] == "webhook-endpoint-disabled"]
    assert alert["subject"] == f"webhook:{endpoint['id']}"

    # Re-enabled, it receives new events again.
    receiver.status = 200
    again = shop.client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}", json={"enabled": True}, headers=admin
    )
    assert again.get_json()["enabled"] is True and again.get_json()["consecutive_failures"] == 0
    sign_up_more = shop.client.post(
        "/api/v1/auth/register",
        json={"email": "late@example.com", "password": "correct horse", "display_name": "L"},
    )
    assert sign_up_more.status_code == 201
    deliver(shop.app, now=now + timedelta(hours=5))
    assert receiver.received[-1]["answered"] == 200


def test_internal_targets_are_refused(shop: Shop) -> None:
    admin = bearer(shop.login_staff("admin"))
    for url in (
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest",
        "https://[::1]/hook",
        "http://example.com/hook",
    ):
        response = shop.client.post(
            "/api/v1/webhooks/endpoints",
            json={"url": url, "event_types": ["*"]},
            headers=admin,
        )
        assert response.status_code == 422, url
        assert response.get_json()["type"] == "endpoint-not-allowed", url


def test_only_admins_register_and_only_staff_see_endpoints(shop: Shop) -> None:
    body = {"url": "https://hooks.example.com/x", "event_types": ["*"]}
    manager = bearer(shop.login_staff("manager"))
    assert (
        shop.client.post("/api/v1/webhooks/endpoints", json=body, headers=manager).status_code
        == 403
    )
    assert shop.client.get("/api/v1/webhooks/endpoints", headers=manager).status_code == 200
    member = bearer(shop.login_member())
    assert shop.client.get("/api/v1/webhooks/endpoints", headers=member).status_code == 403
    assert shop.client.get("/api/v1/webhooks/endpoints/999", headers=manager).status_code == 404
    bad = shop.client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": "https://hooks.example.com/x", "event_types": ["nonsense"]},
        headers=bearer(shop.login_staff("admin")),
    )
    assert bad.status_code == 422


def test_two_workers_at_once_send_each_message_once(shop: Shop, receiver: Receiver) -> None:
    endpoint = register_endpoint(shop, f"{receiver.url}/hooks", ["member.signed_up"])
    sign_up(shop, 24)
    receiver.delay_seconds = 0.02  # slow enough that the workers overlap
    app = shop.app
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def work(name: str) -> None:
        try:
            with app.app_context():
                start.wait()
                for _ in range(5):
                    run_until_idle(name, batch=3)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    deliver(app)
    ids = [json.loads(r["body"])["id"] for r in receiver.received]
    assert len(ids) == 24
    assert len(set(ids)) == 24, "no message was sent twice"
    verified(endpoint["secret"], receiver.received)
    with app.app_context():
        workers = set(db.session.scalars(select(DeliveryAttempt.worker)))
        db.session.rollback()
    assert len(workers) >= 2, "the work was shared"


def test_the_verification_example_in_the_docs_verifies_a_real_delivery(
    shop: Shop, receiver: Receiver
) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    [example] = [
        block.split("```", 1)[0]
        for block in docs.split("```python\n")[1:]
        if block.startswith("import base64, hashlib, hmac, time")
    ]
    namespace: dict[str, Any] = {}
    exec(compile(example, "docs/webhooks.md", "exec"), namespace)  # noqa: S102 (our own docs)
    verify = namespace["verify"]

    endpoint = register_endpoint(shop, f"{receiver.url}/hooks", ["member.signed_up"])
    sign_up(shop, 1)
    deliver(shop.app)
    [delivery] = receiver.received
    assert verify(endpoint["secret"], delivery["headers"], delivery["body"]) is True
    assert verify(endpoint["secret"], delivery["headers"], delivery["body"] + b" ") is False
    stale = {**delivery["headers"], "webhook-timestamp": "1000000000"}
    assert verify(endpoint["secret"], stale, delivery["body"]) is False
