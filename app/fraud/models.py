"""The attempt log, fraud events with their evidence, blocks, rule settings and the staff audit.

``attempts`` is written on the hot path, so the table is narrow and holds no plain codes: a
code is recorded as a keyed fingerprint (HMAC), enough to group repeated attempts with the
same code but useless to redeem it. Its indexes serve the fraud queries: per till, per member,
per card (impossible travel), per client address (bursts), per store (the summary), per code
and per time window.

A ``FraudEvent`` is something a rule or the brute-force defence raised for staff to review.
Its evidence is the attempts behind it (``fraud_event_attempts``), so a reviewer sees exactly
which requests made the rule fire. Events are resolved, never deleted. ``card_blocks`` holds
the cards staff blocked (members and tills have a ``blocked`` column of their own); a block
is lifted by deleting its row, and both steps are in ``staff_audit``, which records every
action staff take in the review queue. ``fraud_rule_settings`` holds what admins changed of a
rule's defaults (one row per rule, only the changed keys).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow


class Attempt(Base):
    """One till operation and its outcome."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_till_time", "till_id", "occurred_at"),
        Index("ix_attempts_member_time", "member_id", "occurred_at"),
        Index("ix_attempts_card_time", "card_id", "occurred_at"),
        Index("ix_attempts_staff_time", "staff_id", "occurred_at"),
        Index("ix_attempts_store_time", "store_id", "occurred_at"),
        Index("ix_attempts_address_time", "client_address", "occurred_at"),
        Index("ix_attempts_fingerprint", "code_fingerprint"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    operation: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))  # "accepted" | "refused"
    refusal_type: Mapped[str | None] = mapped_column(String(60))
    status_code: Mapped[int]
    till_id: Mapped[int | None]
    store_id: Mapped[int | None]
    staff_id: Mapped[int | None]
    member_id: Mapped[int | None]
    card_id: Mapped[str | None] = mapped_column(String(36))
    code_fingerprint: Mapped[str | None] = mapped_column(String(32))
    risk_score: Mapped[int] = mapped_column(default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(45))


class FraudEvent(Base):
    """Something that looks like fraud, raised by a rule, waiting for (or past) staff review."""

    __tablename__ = "fraud_events"
    __table_args__ = (
        Index("ix_fraud_events_status_time", "status", "created_at"),
        Index("ix_fraud_events_rule_time", "rule", "created_at"),
        Index("ix_fraud_events_store_time", "store_id", "created_at"),
        Index("ix_fraud_events_open_subject", "rule", "subject", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))  # "low" | "medium" | "high"
    # What the request was answered with: allow, flag, step-up, deny or lockout.
    action: Mapped[str] = mapped_column(String(10))
    # Who or what the event is about ("till:3", "card:<uuid>", "addr:10.0.0.7"): repeats
    # for the same rule and subject join the open event.
    subject: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    resolution: Mapped[str | None] = mapped_column(String(12))  # "legitimate" | "fraud"
    note: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    member_id: Mapped[int | None] = mapped_column(index=True)
    card_id: Mapped[str | None] = mapped_column(String(36))
    till_id: Mapped[int | None]
    store_id: Mapped[int | None]
    staff_id: Mapped[int | None]
    client_address: Mapped[str | None] = mapped_column(String(45))
    # Staff who approved a step-up on the till, when one did.
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]
    # The last time evidence was added (repeats join the open event instead of a new one).
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class FraudEventAttempt(Base):
    """One attempt that is evidence for one event."""

    __tablename__ = "fraud_event_attempts"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("fraud_events.id", ondelete="CASCADE"), primary_key=True
    )
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CardBlock(Base):
    """A card staff blocked: refused at every till until the block is lifted."""

    __tablename__ = "card_blocks"

    card_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    reason: Mapped[str | None] = mapped_column(String(200))
    blocked_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    blocked_at: Mapped[created_at]


class FraudRuleSetting(Base):
    """An admin's changes to one rule's defaults (thresholds, action, severity, score)."""

    __tablename__ = "fraud_rule_settings"

    rule: Mapped[str] = mapped_column(String(40), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class StaffAudit(Base):
    """One action a staff account took in the fraud review (resolve, block, rules, approval)."""

    __tablename__ = "staff_audit"
    __table_args__ = (Index("ix_staff_audit_staff_time", "staff_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    action: Mapped[str] = mapped_column(String(40))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class GuessLockout(Base):
    """The brute-force state of one counter key when Redis is not used (``app.fraud.lockout``).

    One row per key (``till:7``, ``addr:10.0.0.1``): the lockout running until
    ``locked_until``, its level, and when the level is forgotten. Counting locks this row, so
    two workers counting the same key take turns and the threshold is exact.
    """

    __tablename__ = "guess_lockouts"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    locked_until: Mapped[datetime | None]
    level: Mapped[int] = mapped_column(default=0)
    forget_level_at: Mapped[datetime | None]


class GuessFailure(Base):
    """One failed guess of a key, inside the sliding window (older rows are deleted)."""

    __tablename__ = "guess_failures"
    __table_args__ = (Index("ix_guess_failures_key_time", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    failed_at: Mapped[datetime]
