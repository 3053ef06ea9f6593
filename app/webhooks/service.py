"""Webhook endpoints, signing (Standard Webhooks), delivery through the outbox.

**Registering.** Admins register an endpoint (URL, event types or ``*``) and get its secret
once, ``whsec_`` plus 32 random bytes in base64. Endpoint URLs pass the outbound address
guard (``app.outbound``, the same as push endpoints): ``https`` only, and no loopback,
private, link-local or other internal target, checked when registering and again, pinned,
at every send (a name may resolve differently later).

**Fan-out.** ``queue_webhooks`` consumes every event in the worker and queues one ``webhook``
outbox row per enabled endpoint that chose the event's type.

**Sending.** ``deliver_webhook`` POSTs the event JSON with the three Standard Webhooks headers:
``webhook-id`` (the event's id, the same on every retry and for every endpoint, so receivers
deduplicate by it), ``webhook-timestamp`` (Unix seconds of this attempt) and
``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` keyed with the
base64-decoded secret). A 2xx answer is delivered; anything else (or no answer within 10 s) is
retried on the outbox's schedule, honouring ``Retry-After``. Each try is a ``DeliveryAttempt``
with target ``webhook:<endpoint id>``.

**Disabling.** After ``WEBHOOK_DISABLE_AFTER_FAILURES`` failed tries in a row (default 30:
roughly three days of a dead receiver at the outbox's backoff) the endpoint is disabled, its
queued deliveries are skipped, and a ``webhook-endpoint-disabled`` event is raised in the fraud
review queue so staff notice. Re-enabling resets the count; events of the disabled period are
not replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from app.db import iso_or_none
from app.errors import DomainError
from app.extensions import db
from app.fraud.attempts import raise_event
from app.outbound import check_public_https_url
from app.outbox.models import DeliveryAttempt, OutboxMessage
from app.outbox.service import (
    Delivery,
    EventEnvelope,
    OutgoingRequest,
    enqueue,
    parse_retry_after,
    register_consumer,
    register_handler,
)
from app.webhooks.models import WebhookEndpoint

WEBHOOK_KIND = "webhook"
SECRET_PREFIX = "whsec_"
DEFAULT_DISABLE_AFTER_FAILURES = 30
USER_AGENT = "LoyaltyWallet-Webhooks/1"


# --- signing ---------------------------------------------------------------------------


def new_secret() -> str:
    """Return a fresh endpoint secret (``whsec_`` + base64 of 32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value for one delivery (``v1,<base64>``)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


# --- endpoints --------------------------------------------------------------------------


def _unknown_endpoint(endpoint_id: int) -> DomainError:
    return DomainError("unknown-webhook-endpoint", f"No endpoint {endpoint_id}.")


def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """Return an endpoint or raise ``unknown-webhook-endpoint``."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise _unknown_endpoint(endpoint_id)
    return endpoint


def endpoint_view(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    """Return (JSON-ready) an endpoint; the secret only right after it was made."""
    view: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "enabled": endpoint.enabled,
        "consecutive_failures": endpoint.consecutive_failures,
        "disabled_at": iso_or_none(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "created_at": iso_or_none(endpoint.created_at),
    }
    if with_secret:
        view["secret"] = endpoint.secret
    return view


def create_endpoint(
    url: str, event_types: Sequence[str], description: str | None, staff_id: int
) -> WebhookEndpoint:
    """Register an endpoint for the given event types, with a new secret."""
    check_public_https_url(url)
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        secret=new_secret(),
        event_types=sorted(set(event_types)),
        enabled=True,
        consecutive_failures=0,
        created_by=staff_id,
    )
    db.session.add(endpoint)
    db.session.flush()
    return endpoint


def update_endpoint(endpoint_id: int, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change an endpoint's URL, event types, description, or switch it on or off."""
    endpoint = get_endpoint(endpoint_id)
    if "url" in changes:
        check_public_https_url(changes["url"])
        endpoint.url = changes["url"]
    if "event_types" in changes:
        endpoint.event_types = sorted(set(changes["event_types"]))
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = None
    db.session.flush()
    return endpoint


def rotate_secret(endpoint_id: int) -> WebhookEndpoint:
    """Give an endpoint a new secret (deliveries from now on are signed with it)."""
    endpoint = get_endpoint(endpoint_id)
    endpoint.secret = new_secret()
    db.session.flush()
    return endpoint


def delete_endpoint(endpoint_id: int) -> None:
    """Remove an endpoint; its queued deliveries are skipped."""
    db.session.delete(get_endpoint(endpoint_id))
    db.session.flush()


def list_endpoints() -> list[dict[str, Any]]:
    """Return every endpoint (without secrets)."""
    endpoints = db.session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return [endpoint_view(endpoint) for endpoint in endpoints]


def list_attempts(endpoint_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """Return an endpoint's delivery attempts, newest first."""
    get_endpoint(endpoint_id)
    rows = db.session.execute(
        select(DeliveryAttempt, OutboxMessage)
        .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.outbox_message_id)
        .where(DeliveryAttempt.target == f"webhook:{endpoint_id}")
        .order_by(DeliveryAttempt.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": attempt.id,
            "webhook_id": message.payload.get("webhook_id"),
            "event_type": message.event_type,
            "attempted_at": iso_or_none(attempt.attempted_at),
            "outcome": attempt.outcome,
            "status_code": attempt.status_code,
            "detail": attempt.detail,
            "message_status": message.status,
            "attempts": message.attempts,
            "next_attempt_at": iso_or_none(message.available_at)
            if message.status == "pending"
            else None,
        }
        for attempt, message in rows
    ]


# --- fan-out and delivery ---------------------------------------------------------------


def queue_webhooks(event: EventEnvelope, now: datetime) -> None:
    """Queue one delivery of ``event`` per enabled endpoint that chose its type."""
    endpoints = db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
    ).all()
    for endpoint in endpoints:
        if "*" in endpoint.event_types or event.type in endpoint.event_types:
            queue_webhook(endpoint.id, event.message_id, event.to_json(), event.type, now)


def queue_webhook(
    endpoint_id: int,
    webhook_id: str,
    body: Mapping[str, Any],
    event_type: str,
    send_at: datetime | None = None,
) -> OutboxMessage:
    """Queue one signed delivery of ``body`` to an endpoint under the id ``webhook_id``."""
    return enqueue(
        WEBHOOK_KIND,
        {"endpoint_id": endpoint_id, "webhook_id": webhook_id, "body": dict(body)},
        event_type=event_type,
        available_at=send_at,
    )


def _disable_after() -> int:
    return int(
        current_app.config.get("WEBHOOK_DISABLE_AFTER_FAILURES", DEFAULT_DISABLE_AFTER_FAILURES)
    )


def _count_failure(endpoint: WebhookEndpoint, now: datetime, detail: str) -> None:
    endpoint.consecutive_failures += 1
    if endpoint.enabled and endpoint.consecutive_failures >= _disable_after():
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_reason = f"{endpoint.consecutive_failures} failed deliveries in a row"
        raise_event(
            "webhook-endpoint-disabled",
            severity="medium",
            action="flag",
            subject=f"webhook:{endpoint.id}",
            detail={
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "failures": endpoint.consecutive_failures,
                "last_error": detail,
            },
        )


def deliver_webhook(row: OutboxMessage, now: datetime) -> Delivery | OutgoingRequest:
    """Prepare one queued delivery, signed (the outbox handler for ``webhook``)."""
    payload = row.payload
    endpoint_id = int(payload["endpoint_id"])
    target = f"webhook:{endpoint_id}"
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return Delivery("skipped", detail="endpoint removed or disabled", target=target)
    body = json.dumps(payload["body"], separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": payload["webhook_id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(endpoint.secret, payload["webhook_id"], timestamp, body),
    }

    def on_answer(status: int, retry_after: str | None, now: datetime) -> Delivery:
        endpoint = db.session.get(WebhookEndpoint, endpoint_id, with_for_update=True)
        if 200 <= status < 300:
            if endpoint is not None:
                endpoint.consecutive_failures = 0
            return Delivery("delivered", status_code=status, target=target)
        detail = "no answer" if status == 0 else f"answered {status}"
        if endpoint is None:
            return Delivery("failed", status_code=status or None, detail=detail, target=target)
        _count_failure(endpoint, now, detail)
        if not endpoint.enabled:
            return Delivery("failed", status_code=status or None, detail=detail, target=target)
        return Delivery(
            "retry",
            status_code=status or None,
            detail=detail,
            retry_after_seconds=parse_retry_after(retry_after, now),
            target=target,
        )

    return OutgoingRequest(endpoint.url, body, headers, on_answer)


def install_webhooks(app: Flask) -> None:
    """Queue every event for the endpoints that chose it, and deliver them in the worker."""
    register_consumer(app, None, queue_webhooks)
    register_handler(app, WEBHOOK_KIND, deliver_webhook)
