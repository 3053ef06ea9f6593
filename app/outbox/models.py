"""Outbox rows, the record of every delivery attempt, and the scheduled jobs' last runs.

One table carries all outgoing work. A domain event becomes a ``kind="event"`` row in the
transaction that made the change; when the worker handles it, it fans it out in one
transaction into further rows (one per push subscription, webhook endpoint or automation
step), each of which is delivered, retried and recorded on its own. ``message_id`` is stable
across retries: receivers deduplicate by it.

Privacy (declared in ``app.privacy.sources``): the queue is not part of the member's export
(what it delivered is exported where it lives); erasing a member deletes their rows, pending
ones included, so nothing more is sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at


class OutboxMessage(Base):
    """One piece of outgoing work: an event to fan out, a push, a webhook call, a step."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "status", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str | None] = mapped_column(String(60))
    member_id: Mapped[int | None] = mapped_column(index=True)
    store_id: Mapped[int | None]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # pending → done | failed (gave up after the schedule) | cancelled
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    available_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at]
    finished_at: Mapped[datetime | None]


class DeliveryAttempt(Base):
    """What one try of one outbox message did (push and webhook sends, steps)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True
    )
    # e.g. "webhook:3", "push:12"; staff list a webhook endpoint's attempts by it
    target: Mapped[str | None] = mapped_column(String(60), index=True)
    worker: Mapped[str] = mapped_column(String(80))
    # delivered | retry | gone | failed | skipped
    outcome: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None]
    detail: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int | None]
    attempted_at: Mapped[datetime]


class ScheduledJobRun(Base):
    """When a scheduled job (the nightly refresh, time-based automations) last started."""

    __tablename__ = "scheduled_job_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_started_at: Mapped[datetime]
    last_finished_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
