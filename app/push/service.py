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
"""

from __future__ import annotations

import base64
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, select
from webpush import WebPush
from webpush.types import WebPushSubscription

from app.extensions import db
from app.push.models import PushSubscription

log = logging.getLogger("app.push")

VAPID_DOCUMENT = "vapid-key"
DEFAULT_TTL_SECONDS = 86_400
SEND_TIMEOUT_SECONDS = 10


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


def subscribe(
    member_id: int, endpoint: str, p256dh: str, auth: str
) -> tuple[PushSubscription, bool]:
    """Store (or move to this member) a push subscription; return it and whether it is new."""
    existing = db.session.scalar(
        select(PushSubscription).where(PushSubscription.endpoint == endpoint)
    )
    if existing is not None:
        existing.member_id, existing.p256dh, existing.auth = member_id, p256dh, auth
        db.session.flush()
        return existing, False
    subscription = PushSubscription(
        member_id=member_id, endpoint=endpoint, p256dh=p256dh, auth=auth
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, True


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


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError as error:
        log.warning("push service unreachable: %s", error.__class__.__name__)
        return 0


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
        select(PushSubscription).where(PushSubscription.member_id == member_id)
    ).all()
    for subscription in subscriptions:
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
        status = _post(subscription.endpoint, prepared.encrypted, headers)
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
