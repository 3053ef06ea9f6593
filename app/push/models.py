"""Push subscriptions: one row per browser endpoint a member allowed to notify them.

Browsers hand out a new endpoint now and then, so the PWA re-subscribes on every launch and the
server upserts by ``endpoint``. A push service answering 404 or 410 means the subscription is
gone for good; the sender deletes the row.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
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
