"""Membership plans, the memberships sold, and what each membership has granted.

``MembershipPlan``: what a shop sells ("Plus, 12 months, 29 EUR"), identified at the till by
its SKU (UNIQUE), with its benefits: a status tier name shown to the member, a points
multiplier on every purchase, a coupon each month, free items once at the start, and the number
of days within which a refund is within the plan's rules.

``Membership``: one sale, to one member, with the price actually paid, where (the purchase and
store, or the manager who sold it) and its period ``[starts_at, ends_at)``. Benefits apply
while ``status = 'active'`` and the period contains the moment. A refund or a manager ends it
(``refunded``/``cancelled``, ``ended_at``); the daily job marks it ``ended`` after its period.

``MembershipGrant``: each coupon a membership issued, UNIQUE per (membership, grant_key) with keys
names like ``month:3`` or ``free:COFFEE``: the monthly job can run any number of times and
never grants the same month twice. ``MembershipBonus``: the extra points a purchase earned
through the multiplier, so a refund of that purchase takes back its share.

The end of the module declares the tables to the privacy registries: all exported; on erasure
the sales stay (revenue) and running benefits end.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, true, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow
from app.extensions import db
from app.privacy.registry import register_eraser, register_member_table

MEMBERSHIP_STATUSES = ("active", "ended", "refunded", "cancelled")


class MembershipPlan(Base):
    """A paid membership a shop sells."""

    __tablename__ = "membership_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    duration_months: Mapped[int]
    tier: Mapped[str | None] = mapped_column(String(40))
    points_multiplier_percent: Mapped[int] = mapped_column(default=100, server_default="100")
    monthly_coupon: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    free_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    refund_days: Mapped[int] = mapped_column(default=14, server_default="14")
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Membership(Base):
    """One membership sold to a member."""

    __tablename__ = "memberships"
    __table_args__ = (
        Index("ix_memberships_member_period", "member_id", "starts_at", "ends_at"),
        Index("ix_memberships_status_end", "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("membership_plans.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # "till" | "manager"
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    sold_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    price_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="active")
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(200))
    reminder_sent_at: Mapped[datetime | None]
    created_at: Mapped[created_at]


class MembershipGrant(Base):
    """A coupon a membership issued (a month's coupon or a free item)."""

    __tablename__ = "membership_grants"
    __table_args__ = (UniqueConstraint("membership_id", "grant_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"))
    grant_key: Mapped[str] = mapped_column(String(80))
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class MembershipBonus(Base):
    """Extra points one purchase earned through a membership's multiplier."""

    __tablename__ = "membership_bonuses"

    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchases.id"), primary_key=True)
    membership_id: Mapped[int] = mapped_column(ForeignKey("memberships.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entries.id"))
    points: Mapped[int]
    points_taken_back: Mapped[int] = mapped_column(default=0, server_default="0")


# --- what the privacy package exports and erases -------------------------------------------


def _cancel_on_erasure(member_id: int) -> None:
    # The sale stays (revenue and KPIs); the benefits of an account that no longer exists end.
    db.session.execute(
        update(Membership)
        .where(Membership.member_id == member_id, Membership.status == "active")
        .values(status="cancelled", ended_at=utcnow(), end_reason="member erased")
    )


register_member_table("memberships", "memberships")
register_member_table(
    "membership_grants",
    "membership_grants",
    member_column=None,
    via=("membership_id", "memberships"),
)
register_member_table(
    "membership_bonuses",
    "membership_bonuses",
    member_column=None,
    via=("membership_id", "memberships"),
)
register_eraser("memberships", _cancel_on_erasure)
