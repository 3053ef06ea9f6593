"""Sending Web Push messages.

The VAPID key pair (ECDSA P-256) is generated on first use and kept in the instance secrets;
the PWA fetches the public half from the API instead of hard-coding it. Each message is
encrypted for one subscription with ``aes128gcm`` (RFC 8291) by the ``webpush`` library and
POSTed to the subscription's push service with a VAPID ``Authorization`` header.

Two pitfalls of the library are handled here: ``WebPush.get()`` changes the instance it is
called on, so every send builds a fresh ``WebPush``; and its default TTL of 0 drops messages
for phones that are offline right now, so messages carry a real TTL (a day by default).
Responses: 201/202 delivered; 404/410 the subscription is gone (deleted here); 429 and 5xx
are transient (logged, kept); anything else is logged as a VAPID or payload problem.

Endpoints are URLs a member chose, so the server only calls them through ``app.outbound``:
``https`` to public addresses only (optionally only the push services of
``PUSH_ALLOWED_HOSTS``), checked when the member subscribes and again, pinned, at each send.
The browser's keys are checked when the member subscribes too: ``p256dh`` must be a point on
P-256 and ``auth`` 16 bytes, so a bad key is a 422 now rather than a failed send later.

A subscription belongs to the member who made it: the same endpoint posted by another member
is refused (409 ``push-endpoint-taken``) rather than moved. A member keeps at most
``PUSH_MAX_SUBSCRIPTIONS_PER_MEMBER`` (10) endpoints; a new one beyond that replaces the
oldest, since browsers hand out new endpoints and never say the old one is dead. Each send has
short connect and read timeouts, and one call to ``send_to_member`` stops after
``PUSH_SEND_BUDGET_SECONDS`` (10) in all, so even the member's test send inside a request is
bounded well below the web server's worker timeout.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, func, select
from webpush import WebPush
from webpush.types import WebPushSubscription

from app import outbound
from app.errors import Problem
from app.extensions import db
from app.push.models import PushSubscription

log = logging.getLogger("app.push")

VAPID_DOCUMENT = "vapid-key"
DEFAULT_TTL_SECONDS = 86_400
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 5.0
DEFAULT_SEND_BUDGET_SECONDS = 10.0
DEFAULT_MAX_SUBSCRIPTIONS_PER_MEMBER = 10
AUTH_SECRET_BYTES = 16


def _vapid_private_pem() -> bytes:
    secrets = current_app.extensions["lw_secrets"]
    stored = secrets.document(VAPID_DOCUMENT)
    if stored is None:

        def create_if_missing(current: Any) -> Any:
            if current:
                return current
            key = ec.generate_private_key(ec.SECP256R1())
            return key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()

        stored = secrets.update_document(VAPID_DOCUMENT, create_if_missing)
    return str(stored).encode()


def _vapid_public_key() -> ec.EllipticCurvePublicKey:
    private = serialization.load_pem_private_key(_vapid_private_pem(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return private.public_key()


def vapid_public_key_b64url() -> str:
    """Return the VAPID public key as the PWA's ``applicationServerKey`` (base64url point)."""
    point = _vapid_public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


def _setting(name: str, default: float) -> float:
    raw = current_app.config.get(name)
    return float(default if raw is None or raw == "" else raw)


def allowed_push_hosts() -> list[str] | None:
    """Return the configured allow-list of push service hosts (``None``: any public host)."""
    raw = current_app.config.get("PUSH_ALLOWED_HOSTS")
    if not raw:
        return None
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    return [item.strip() for item in items if item.strip()]


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_browser_keys(p256dh: str, auth: str) -> None:
    """Refuse (422 ``invalid-push-keys``) keys no push message could be encrypted for."""
    try:
        point = _unb64url(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        secret = _unb64url(auth)
    except (ValueError, binascii.Error) as exc:
        raise Problem(
            "invalid-push-keys",
            422,
            "Invalid push keys",
            "keys.p256dh must be a base64url P-256 public key (uncompressed point).",
        ) from exc
    if len(point) != 65 or len(secret) != AUTH_SECRET_BYTES:
        raise Problem(
            "invalid-push-keys",
            422,
            "Invalid push keys",
            "keys.p256dh must be an uncompressed P-256 point and keys.auth 16 bytes, "
            "both base64url.",
        )


def subscribe(
    member_id: int, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscription, bool]:
    """Store (or refresh) a member's push subscription; return it and whether it is new."""
    check_browser_keys(p256dh, auth)
    outbound.check_public_https_url(endpoint, allowed_push_hosts())
    existing = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    if existing is not None:
        if existing.member_id != member_id:
            raise Problem(
                "push-endpoint-taken",
                409,
                "Push endpoint taken",
                "This push endpoint belongs to another account; unsubscribe it there first.",
            )
        existing.p256dh, existing.auth = p256dh, auth
        db.session.flush()
        return existing, False
    _make_room(member_id)
    subscription = PushSubscription(
        member_id=member_id, endpoint=endpoint, p256dh=p256dh, auth=auth
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, True


def _make_room(member_id: int) -> None:
    """Drop the member's oldest subscriptions so one more fits under the cap."""
    cap = int(_setting("PUSH_MAX_SUBSCRIPTIONS_PER_MEMBER", DEFAULT_MAX_SUBSCRIPTIONS_PER_MEMBER))
    count = db.session.scalar(
        select(func.count())
        .select_from(PushSubscription)
        .where(PushSubscription.member_id == member_id)
    )
    surplus = int(count or 0) - cap + 1
    if surplus <= 0:
        return
    oldest = db.session.scalars(
        select(PushSubscription)
        .where(PushSubscription.member_id == member_id)
        .order_by(PushSubscription.created_at, PushSubscription.id)
        .limit(surplus)
    ).all()
    for subscription in oldest:
        db.session.delete(subscription)
    db.session.flush()


def unsubscribe(member_id: int, endpoint: str) -> None:
    """Forget one of the member's push subscriptions."""
    db.session.execute(
        delete(PushSubscription).where(
            PushSubscription.member_id == member_id, PushSubscription.endpoint == endpoint
        )
    )


@dataclass
class DeliveryReport:
    """What happened to one message sent to every device of a member."""

    delivered: int = 0
    removed: int = 0
    failed: int = 0


def _post(url: str, body: bytes, headers: dict[str, str], seconds_left: float) -> int:
    """POST through the outbound guard; return the status, or 0 when there was no answer."""
    try:
        answer = outbound.post(
            url,
            body,
            headers,
            allowed_hosts=allowed_push_hosts(),
            connect_timeout=min(CONNECT_TIMEOUT_SECONDS, seconds_left),
            read_timeout=min(READ_TIMEOUT_SECONDS, seconds_left),
            deadline_seconds=seconds_left,
        )
    except outbound.EndpointNotAllowed as refused:
        log.warning("push endpoint refused at send time: %s", refused.detail)
        return 0
    except outbound.OutboundFailed as failed:
        log.warning("push service unreachable: %s", failed)
        return 0
    return answer.status


def send_to_member(
    member_id: int, message: dict[str, Any], ttl: int = DEFAULT_TTL_SECONDS
) -> DeliveryReport:
    """Encrypt and send a message to every push subscription of a member."""
    report = DeliveryReport()
    private_pem = _vapid_private_pem()
    public_pem = _vapid_public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    subject = current_app.config.get("PUSH_CONTACT", "ops@loyalty.example")
    subscriptions = db.session.scalars(
        select(PushSubscription)
        .where(PushSubscription.member_id == member_id)
        .order_by(PushSubscription.id.desc())
    ).all()
    deadline = time.monotonic() + _setting("PUSH_SEND_BUDGET_SECONDS", DEFAULT_SEND_BUDGET_SECONDS)
    for subscription in subscriptions:
        seconds_left = deadline - time.monotonic()
        if seconds_left <= 0:
            report.failed += 1  # out of time: counted, tried again with the next message
            continue
        # A fresh WebPush per send: get() mutates the instance it is called on.
        pusher = WebPush(
            private_key=private_pem, public_key=public_pem, subscriber=subject, ttl=ttl
        )
        prepared = pusher.get(
            message,
            WebPushSubscription.model_validate(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                }
            ),
        )
        headers = {
            **prepared.headers,
            "content-type": "application/octet-stream",
            "urgency": "normal",
        }
        status = _post(subscription.endpoint, prepared.encrypted, headers, seconds_left)
        if status in (201, 202):
            report.delivered += 1
        elif status in (404, 410):
            db.session.delete(subscription)
            report.removed += 1
        else:
            report.failed += 1
            log.warning("push to a subscription of member %s answered %s", member_id, status)
    db.session.flush()
    return report
