"""Web Push subscriptions and the VAPID key; sending is in ``app.push.delivery``.

The VAPID key pair (ECDSA P-256) is generated on first use and kept in the instance secrets;
the PWA fetches the public half from the API instead of hard-coding it. Each message is
encrypted for one subscription with ``aes128gcm`` (RFC 8291) by the ``webpush`` library and
POSTed to the subscription's push service with a VAPID ``Authorization`` header.

Messages are never sent from a request: they are queued in the outbox and the worker sends
them (``app.push.delivery``).
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, select

from app.extensions import db
from app.push.models import PushSubscription

VAPID_DOCUMENT = "vapid-key"


def vapid_private_pem() -> bytes:
    """Return the VAPID private key (PEM), generating it on first use."""
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


def vapid_public_key() -> ec.EllipticCurvePublicKey:
    """Return the VAPID public key."""
    private = serialization.load_pem_private_key(vapid_private_pem(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    return private.public_key()


def vapid_public_key_b64url() -> str:
    """Return the VAPID public key as the PWA's ``applicationServerKey`` (base64url point)."""
    point = vapid_public_key().public_bytes(
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
