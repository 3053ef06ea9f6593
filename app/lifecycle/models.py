"""What the nightly lifecycle refresh knows about each member, and the history it keeps.

``MemberLifecycle`` is one row per member, rewritten by every refresh (``app.lifecycle.service``)
as of a date: recency, frequency and money (RFM) and their trend, the health score with each
factor's value and contribution (``health_factors``, so staff see *why* a score is low), the
customer-base model's probability that the member is still active and the purchases it expects
in the next 90 days, and the stage. It is derived data: dropping every row and running
``flask --app app lifecycle refresh`` rebuilds it from the purchases.

``MemberStageChange`` is the history the refresh appends whenever a member's stage differs
from the one the previous refresh gave (member, from, to, as of which date). Automations and
KPIs read it; it is never rewritten.

``LifecycleModelFit`` records each fit of the customer-base model (its four parameters, how
many customers it was fitted on, the log-likelihood), so a change in the shop's rhythm is
visible and the numbers behind a probability can be reproduced.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at

# The stages, in the order a person reads them. ``advocate`` is reached only through converted
# referrals (``app.lifecycle.stages.is_advocate``).
STAGES = ("new", "active", "at_risk", "lapsed", "won_back", "advocate")
_STAGE_LIST = ", ".join(f"'{stage}'" for stage in STAGES)


class MemberLifecycle(Base):
    """A member's lifecycle figures as of the last refresh."""

    __tablename__ = "member_lifecycle"
    __table_args__ = (
        CheckConstraint(f"stage IN ({_STAGE_LIST})", name="stage"),
        CheckConstraint("health_score BETWEEN 0 AND 100", name="health_score"),
        Index("ix_member_lifecycle_stage_health", "stage", "health_score"),
    )

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    as_of: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(20))
    stage_since: Mapped[date] = mapped_column(Date)
    health_score: Mapped[int]
    health_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    days_since_last_purchase: Mapped[int | None]
    purchase_days: Mapped[int] = mapped_column(default=0)
    purchases: Mapped[int] = mapped_column(default=0)
    spend_cents: Mapped[int] = mapped_column(default=0)
    purchases_90d: Mapped[int] = mapped_column(default=0)
    spend_90d_cents: Mapped[int] = mapped_column(default=0)
    interval_days: Mapped[float | None]
    recency_ratio: Mapped[float | None]
    frequency_trend: Mapped[float | None]
    spend_trend: Mapped[float | None]
    refund_share: Mapped[float] = mapped_column(default=0.0)
    p_active: Mapped[float | None]
    expected_purchases_90d: Mapped[float | None]
    refreshed_at: Mapped[datetime]


class MemberStageChange(Base):
    """A member moved from one stage to another (``from_stage`` NULL: first classification)."""

    __tablename__ = "member_stage_changes"
    __table_args__ = (Index("ix_member_stage_changes_as_of", "as_of", "to_stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    as_of: Mapped[date] = mapped_column(Date)
    created_at: Mapped[created_at]


class LifecycleModelFit(Base):
    """One fit of the customer-base model on the shop's history."""

    __tablename__ = "lifecycle_model_fits"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)
    variant: Mapped[str] = mapped_column(String(20))
    r: Mapped[float]
    alpha: Mapped[float]
    a: Mapped[float]
    b: Mapped[float]
    customers: Mapped[int]
    sample_size: Mapped[int]
    log_likelihood: Mapped[float]
    converged: Mapped[bool]
    created_at: Mapped[created_at]
