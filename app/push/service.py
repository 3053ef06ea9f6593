"""Web Push subscriptions and the VAPID key; sending is in ``app.push.delivery``.

The VAPID key pair (ECDSA P-256) is generated on first use and kept in the instance secrets;
the PWA fetches the public half from the API instead of hard-coding it. Each message is
encrypted for one subscription with ``aes128gcm`` (RFC 8291) by the ``webpush`` library and
POSTed to the subscription's push service with a VAPID ``Authorization`` header.

Endpoints are URLs a member chose, so the server only calls them through ``app.outbound``:
``https`` to public addresses only (optionally only the push services of
``PUSH_ALLOWED_HOSTS``), checked when the member subscribes and again, pinned, at each send.
The browser's keys are checked when the member subscribes too: ``p256dh`` must be a point on
P-256 and ``auth`` 16 bytes, so a bad key is a 422 now rather than a failed send later.

A subscription belongs to the member who made it: the same endpoint posted by another member
is refused (409 ``push-endpoint-taken``) rather than moved. A member keeps at most
``PUSH_MAX_SUBSCRIPTIONS_PER_MEMBER`` (10) endpoints; a new one beyond that replaces the
oldest, since browsers hand out new endpoints and never say the old one is dead.

Messages are never sent from a request: they are queued in the outbox and the worker sends
them (``app.push.delivery``), with short timeouts, through the same guard.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from sqlalchemy import delete, func, select

from app import outbound
from app.errors import DomainError
from app.extensions import db
from app.push.models import PushSubscription

VAPID_DOCUMENT = "vapid-key"
DEFAULT_MAX_SUBSCRIPTIONS_PER_MEMBER = 10
AUTH_SECRET_BYTES = 16


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
        raise DomainError(
            "invalid-push-keys",
            "keys.p256dh must be a base64url P-256 public key (uncompressed point).",
        ) from exc
    if len(point) != 65 or len(secret) != AUTH_SECRET_BYTES:
        raise DomainError(
            "invalid-push-keys",
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
            raise DomainError(
                "push-endpoint-taken",
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
