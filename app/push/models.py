"""Push subscriptions: one row per browser endpoint a member allowed to notify them.

Browsers hand out a new endpoint now and then, so the PWA re-subscribes on every launch and the
server upserts by ``endpoint``. A push service answering 404 or 410 means the subscription is
gone for good; the sender deletes the row.

A member's ``PushPreference`` says which kinds of message they want and their quiet hours
(local time in their time zone); without a row every kind is on and there are no quiet hours.
"""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at


class PushSubscription(Base):
    """A browser push endpoint of a member, with the keys to encrypt for it."""

    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    endpoint: Mapped[str] = mapped_column(String(1000), unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[created_at]


class PushPreference(Base):
    """Which kinds of push message a member wants, and when not to be disturbed."""

    __tablename__ = "push_preferences"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    # kinds the member switched off, e.g. ["offers"]
    muted_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # minutes after local midnight; both set or both None. start > end spans midnight.
    quiet_start_minute: Mapped[int | None]
    quiet_end_minute: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(60), default="UTC")
