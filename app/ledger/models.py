"""Ledger entries, purchases and refunds, and the settings that decide how points are earned.

``LedgerEntry`` is the money trail. An entry is written once and never changed: triggers
(``app.ledger.triggers``) make the database refuse ``UPDATE`` and ``DELETE`` on the table, on
SQLite and on PostgreSQL alike. A correction is a new entry; a ``reversal`` names the entry it
undoes in ``reverses_id``, which is UNIQUE, so nothing is reversed twice. Each entry records the
member's balance right after it (``balance_after``, read back from the same conditional
``UPDATE`` that moved the balance), so a member's history reads like a bank statement.
``members.points_balance`` is the cached sum of the member's entries; ``ledger verify`` proves
it. A partial UNIQUE index allows one ``expire`` entry per member and inactivity episode
(``reference_id`` = the time of the last activity), so two expiry runs cannot both expire the
same points.

``Purchase`` is one receipt booked at a till, UNIQUE per (store, receipt id): the database
itself refuses a second booking of the same receipt. It keeps what was earned and how much of
it has been refunded, and is locked (``SELECT ... FOR UPDATE``) by every refund, so concurrent
refunds never take back more than was earned. ``PurchaseRefund`` records each refund.

The settings are small tables a manager edits through the API: ``PointsProgramme`` (one row:
currency, base rate, expiry and tier windows), ``EarningBonusRule`` (per SKU or category),
``Promotion`` (time-boxed multipliers) and ``Tier`` (the status ladder). ``MemberTierStatus``
remembers, per member, the qualification period last reviewed and the tier held at its start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow
from app.ledger.triggers import attach_immutability_triggers

LEDGER_KINDS = ("earn", "refund", "reward", "adjust", "expire", "bonus", "reversal")
EXPIRE_ONLY = text("kind = 'expire'")


class LedgerEntry(Base):
    """One immutable change of a member's points."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{kind}'" for kind in LEDGER_KINDS) + ")", name="kind"
        ),
        Index("ix_ledger_entries_member_time", "member_id", "created_at"),
        Index(
            "uq_ledger_entries_expiry",
            "member_id",
            "reference_id",
            unique=True,
            sqlite_where=EXPIRE_ONLY,
            postgresql_where=EXPIRE_ONLY,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    points: Mapped[int]
    balance_after: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    reference_type: Mapped[str | None] = mapped_column(String(30))
    reference_id: Mapped[str | None] = mapped_column(String(100))
    till_id: Mapped[int | None] = mapped_column(ForeignKey("tills.id"))
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"), unique=True)
    created_at: Mapped[created_at]


attach_immutability_triggers(LedgerEntry.__table__)


class Purchase(Base):
    """A receipt booked at a till, with the points it earned and how much was refunded."""

    __tablename__ = "purchases"
    __table_args__ = (UniqueConstraint("store_id", "receipt_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    receipt_id: Mapped[str] = mapped_column(String(64))
    # NULL for purchases brought in from another system's history (``source`` = "import").
    till_id: Mapped[int | None] = mapped_column(ForeignKey("tills.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    source: Mapped[str] = mapped_column(String(10), default="till", server_default="till")
    card_id: Mapped[str | None] = mapped_column(String(36))
    amount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    points_earned: Mapped[int] = mapped_column(default=0)
    refunded_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    points_refunded: Mapped[int] = mapped_column(default=0, server_default="0")
    ledger_entry_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[created_at]


class PurchaseRefund(Base):
    """One refund of (part of) a purchase and the points it took back."""

    __tablename__ = "purchase_refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), index=True)
    amount_cents: Mapped[int]
    points_refunded: Mapped[int]
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    till_id: Mapped[int | None] = mapped_column(ForeignKey("tills.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]


class PointsProgramme(Base):
    """The programme-wide settings (a single row, id 1); defaults apply while it is missing."""

    __tablename__ = "points_programme"

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    base_points: Mapped[int]
    per_amount_cents: Mapped[int]
    expire_after_inactive_days: Mapped[int | None]
    tier_window_days: Mapped[int]
    tier_period_months: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class EarningBonusRule(Base):
    """A multiplier for basket lines of one SKU or one category."""

    __tablename__ = "earning_bonus_rules"
    __table_args__ = (UniqueConstraint("match", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    match: Mapped[str] = mapped_column(String(10))  # "sku" | "category"
    value: Mapped[str] = mapped_column(String(64))
    multiplier_percent: Mapped[int]


class Promotion(Base):
    """A time-boxed multiplier on everything earned ("double points this weekend")."""

    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    multiplier_percent: Mapped[int]
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    store_ids: Mapped[list[int] | None] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class Tier(Base):
    """One step of the status ladder."""

    __tablename__ = "tiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    threshold_points: Mapped[int]
    multiplier_percent: Mapped[int]
    benefits: Mapped[list[str]] = mapped_column(JSON)


class MemberTierStatus(Base):
    """Where a member stands in the current qualification period."""

    __tablename__ = "member_tier_status"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    period_start: Mapped[datetime]
    # The tier confirmed at the start of the period: never lost before the period ends.
    period_tier: Mapped[str] = mapped_column(String(40))
    # When a higher tier was reached during this period (None: the member holds period_tier).
    gained_at: Mapped[datetime | None]
