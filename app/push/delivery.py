"""Push messages go out through the outbox: queued in the transaction, sent by the worker.

``queue_push(member_id, kind, message)`` decides, inside the caller's transaction, whether and
when a message goes out, and writes one ``push`` outbox row per subscription of the member:

* **Kinds.** Every message has a kind (``KINDS``); a member who muted a kind gets none of it.
  ``service`` messages (the member's own test, account notices) cannot be muted.
* **Quiet hours.** A message that would arrive in the member's quiet hours (local time in
  their time zone) waits until they end; the row's ``available_at`` says when.
* **TTL and urgency** (RFC 8030 §5.2, §5.3) are set per kind: how long the push service keeps
  the message for a phone that is offline, and how eagerly it wakes a phone on battery.

The worker's ``deliver_push`` encrypts the message for the subscription (``aes128gcm``, RFC
8291; a fresh ``WebPush`` per send because ``get()`` changes its instance), signs the VAPID
JWT (RFC 8292; ``aud`` is the endpoint's origin, port included) and POSTs it through the
outbound guard (``app.outbound``; ``PUSH_ALLOWED_HOSTS`` narrows it to the push services).
Answers: 201/202 delivered; 404/410 the subscription is gone and is deleted; 429 and 5xx (or
no answer) are retried (``Retry-After`` honoured, otherwise the outbox's backoff); any other
4xx is our fault (VAPID, payload size) and is not retried.
Every send's outcome is a ``DeliveryAttempt`` row with target ``push:<subscription id>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jwt
from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app
from sqlalchemy import delete, select
from webpush import WebPush
from webpush.types import WebPushSubscription

from app.accounts.models import Member
from app.db import utcnow
from app.extensions import db
from app.outbox.models import OutboxMessage
from app.outbox.service import (
    Delivery,
    EventEnvelope,
    OutgoingRequest,
    enqueue,
    parse_retry_after,
    register_consumer,
    register_handler,
)
from app.push.models import PushPreference, PushSubscription
from app.push.service import (
    allowed_push_hosts,
    vapid_private_pem,
    vapid_public_key,
    vapid_public_key_b64url,
)

log = logging.getLogger("app.push")

PUSH_KIND = "push"
VAPID_TOKEN_SECONDS = 12 * 3600


@dataclass(frozen=True)
class KindPolicy:
    """How a kind of message is sent: time to live and urgency."""

    ttl_seconds: int
    urgency: str  # very-low | low | normal | high (RFC 8030 §5.3)
    mutable: bool = True


KINDS: dict[str, KindPolicy] = {
    "points": KindPolicy(86_400, "normal"),  # points earned, tier changes
    "offers": KindPolicy(3 * 86_400, "low"),  # coupons, win-back offers
    "reminders": KindPolicy(86_400, "normal"),  # points about to expire, birthdays
    "surveys": KindPolicy(3 * 86_400, "low"),
    "service": KindPolicy(3_600, "high", mutable=False),  # the member's own test, notices
}


def preference_of(member_id: int) -> PushPreference | None:
    """Return the member's push preferences, or None if they never set any."""
    return db.session.get(PushPreference, member_id)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(
    start_minute: int | None, end_minute: int | None, zone: str, now: datetime
) -> datetime | None:
    """Return when quiet hours (minutes after local midnight in ``zone``) end, if ``now`` is in
    them; otherwise None. ``start > end`` spans midnight; ``start == end`` means no quiet hours.
    """
    if start_minute is None or end_minute is None or start_minute == end_minute:
        return None
    local = now.astimezone(_zone(zone))
    minute = local.hour * 60 + local.minute
    if start_minute < end_minute:
        quiet = start_minute <= minute < end_minute
    else:
        quiet = minute >= start_minute or minute < end_minute
    if not quiet:
        return None
    ends = local.replace(hour=end_minute // 60, minute=end_minute % 60, second=0, microsecond=0)
    if ends <= local:
        ends = (local + timedelta(days=1)).replace(
            hour=end_minute // 60, minute=end_minute % 60, second=0, microsecond=0
        )
    return ends.astimezone(now.tzinfo)


def quiet_hours_end(preference: PushPreference | None, now: datetime) -> datetime | None:
    """Return when the member's quiet hours end if ``now`` falls in them, else None."""
    if preference is None:
        return None
    return quiet_until(
        preference.quiet_start_minute, preference.quiet_end_minute, preference.timezone, now
    )


def queue_push(
    member_id: int,
    kind: str,
    message: dict[str, Any],
    *,
    now: datetime | None = None,
    source: str | None = None,
) -> int:
    """Queue ``message`` for every device of the member, if they want this kind; return count."""
    if kind not in KINDS:
        raise ValueError(f"unknown push kind {kind!r}")
    now = now or utcnow()
    policy = KINDS[kind]
    preference = preference_of(member_id)
    if policy.mutable and preference is not None and kind in (preference.muted_kinds or []):
        return 0
    send_at = (quiet_hours_end(preference, now) if policy.mutable else None) or now
    subscriptions = db.session.scalars(
        select(PushSubscription.id).where(PushSubscription.member_id == member_id)
    ).all()
    for subscription_id in subscriptions:
        enqueue(
            PUSH_KIND,
            {
                "subscription_id": subscription_id,
                "kind": kind,
                "message": {**message, "kind": kind},
                "ttl": policy.ttl_seconds,
                "urgency": policy.urgency,
                "source": source,
            },
            member_id=member_id,
            available_at=send_at,
        )
    return len(subscriptions)


def push_service_origin(endpoint: str) -> str:
    """Return the origin of a push endpoint: scheme, host and any non-default port."""
    parts = urlsplit(endpoint)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def vapid_authorization(endpoint: str) -> str:
    """Return the ``Authorization: vapid t=…, k=…`` value for a push endpoint (RFC 8292).

    Signed here rather than by the library, whose ``aud`` drops a non-default port: RFC 8292
    wants the push resource's *origin*, and a push service on another port would refuse it.
    """
    claims = {
        "aud": push_service_origin(endpoint),
        "exp": int(utcnow().timestamp()) + VAPID_TOKEN_SECONDS,
        "sub": "mailto:" + str(current_app.config.get("PUSH_CONTACT", "ops@loyalty.example")),
    }
    token = jwt.encode(claims, vapid_private_pem(), algorithm="ES256")
    return f"vapid t={token}, k={vapid_public_key_b64url()}"


def deliver_push(row: OutboxMessage, now: datetime) -> Delivery | OutgoingRequest:
    """Prepare one queued push message for its subscription (the outbox handler for ``push``)."""
    payload = row.payload
    subscription_id = int(payload["subscription_id"])
    target = f"push:{subscription_id}"
    subscription = db.session.get(PushSubscription, subscription_id)
    if subscription is None:
        return Delivery("skipped", detail="the subscription was removed", target=target)
    public_pem = vapid_public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # A fresh WebPush per send: get() mutates the instance it is called on.
    pusher = WebPush(
        private_key=vapid_private_pem(),
        public_key=public_pem,
        subscriber=current_app.config.get("PUSH_CONTACT", "ops@loyalty.example"),
        ttl=int(payload["ttl"]),
    )
    prepared = pusher.get(
        payload["message"],
        WebPushSubscription.model_validate(
            {
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            }
        ),
    )
    headers = {
        **prepared.headers,
        "authorization": vapid_authorization(subscription.endpoint),
        "content-type": "application/octet-stream",
        "ttl": str(int(payload["ttl"])),
        "urgency": str(payload["urgency"]),
    }

    def on_answer(status: int, retry_after: str | None, now: datetime) -> Delivery:
        if status in (201, 202):
            return Delivery("delivered", status_code=status, target=target)
        if status in (404, 410):
            db.session.execute(
                delete(PushSubscription).where(PushSubscription.id == subscription_id)
            )
            return Delivery(
                "gone", status_code=status, detail="subscription removed", target=target
            )
        if status == 0 or status == 429 or status >= 500:
            return Delivery(
                "retry",
                status_code=status or None,
                detail="no answer" if status == 0 else f"push service answered {status}",
                retry_after_seconds=parse_retry_after(retry_after, now),
                target=target,
            )
        log.warning("push to subscription %s answered %s", subscription_id, status)
        return Delivery(
            "failed", status_code=status, detail=f"refused with {status}", target=target
        )

    return OutgoingRequest(
        subscription.endpoint, prepared.encrypted, headers, on_answer, allowed_push_hosts()
    )


def notify_points_earned(event: EventEnvelope, now: datetime) -> None:
    """Tell the member about the points a purchase earned (consumer of ``purchase.booked``)."""
    if event.member_id is None:
        return
    points = int(event.data.get("points_earned") or 0)
    if points <= 0:
        return
    member = db.session.get(Member, event.member_id)
    balance = f" · balance {member.points_balance}" if member is not None else ""
    body = f"+{points} points{balance}"
    queue_push(
        event.member_id,
        "points",
        {"title": "Points earned", "body": body, "url": "/#/card", "tag": "points"},
        now=now,
        source=event.message_id,
    )


def install_push_delivery(app: Flask) -> None:
    """Deliver ``push`` rows in the worker; notify members of points earned."""
    register_handler(app, PUSH_KIND, deliver_push)
    register_consumer(app, "purchase.booked", notify_points_earned)


def _hhmm(minute: int | None) -> str | None:
    return None if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


def _minute(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes)


def preference_view(member_id: int) -> dict[str, Any]:
    """Return (JSON-ready) the member's push preferences, defaults filled in."""
    preference = preference_of(member_id)
    muted = set(preference.muted_kinds or []) if preference else set()
    quiet = None
    if preference is not None and preference.quiet_start_minute is not None:
        quiet = {
            "start": _hhmm(preference.quiet_start_minute),
            "end": _hhmm(preference.quiet_end_minute),
        }
    return {
        "kinds": {kind: kind not in muted for kind, policy in KINDS.items() if policy.mutable},
        "quiet_hours": quiet,
        "timezone": preference.timezone if preference else "UTC",
    }


def set_preferences(
    member_id: int,
    *,
    kinds: dict[str, bool],
    quiet_hours: dict[str, str] | None,
    timezone: str,
) -> dict[str, Any]:
    """Replace the member's push preferences; return the new view."""
    preference = preference_of(member_id)
    if preference is None:
        preference = PushPreference(member_id=member_id)
        db.session.add(preference)
    preference.muted_kinds = sorted(kind for kind, wanted in kinds.items() if not wanted)
    if quiet_hours is None:
        preference.quiet_start_minute = preference.quiet_end_minute = None
    else:
        preference.quiet_start_minute = _minute(quiet_hours["start"])
        preference.quiet_end_minute = _minute(quiet_hours["end"])
    preference.timezone = timezone
    db.session.flush()
    return preference_view(member_id)
