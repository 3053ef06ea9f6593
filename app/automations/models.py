"""Automations, their enrolments (treated or held back), the steps they ran, and staff tasks.

An ``AutomationEnrolment`` is one occurrence of the trigger for one member. Its unique key
``(automation_id, member_id, occurrence)`` is what makes an automation fire at most once per
member per occurrence, however often a time-based run or a redelivered event asks again.

Privacy: enrolments, their steps and staff tasks are in the member's export; erasure deletes
the member's open tasks and blanks the titles of done ones, and keeps the enrolments (they
hold no personal data beyond the member id, and the reports need them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint, delete, true, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at
from app.extensions import db
from app.privacy.registry import register_eraser, register_member_table


class Automation(Base):
    """A trigger, an optional segment, ordered actions with delays, and a control group."""

    __tablename__ = "automations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[str] = mapped_column(String(40))
    trigger_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # a segment of the segments package (no foreign key: segments live in another package)
    segment_id: Mapped[int | None]
    # [{"type": "coupon"|"push"|"webhook"|"survey"|"task", "delay_minutes": int, ...}]
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    holdout_percent: Mapped[int] = mapped_column(default=10)
    # at most cap_count treated enrolments per member (any automation) in cap_days
    cap_count: Mapped[int | None]
    cap_days: Mapped[int | None]
    # actions that reach the member wait for the end of these (UTC minutes), None: any time
    quiet_start_minute: Mapped[int | None]
    quiet_end_minute: Mapped[int | None]
    report_window_days: Mapped[int] = mapped_column(default=30)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]


class AutomationEnrolment(Base):
    """A member caught by an automation's trigger once, and the group they were drawn into."""

    __tablename__ = "automation_enrolments"
    __table_args__ = (
        UniqueConstraint("automation_id", "member_id", "occurrence"),
        Index("ix_automation_enrolments_member_time", "member_id", "enrolled_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    automation_id: Mapped[int] = mapped_column(
        ForeignKey("automations.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    occurrence: Mapped[str] = mapped_column(String(80))
    group: Mapped[str] = mapped_column(String(10))  # "treated" | "control"
    enrolled_at: Mapped[datetime]
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AutomationStepRun(Base):
    """What one action of one enrolment did (or why it was skipped)."""

    __tablename__ = "automation_step_runs"
    __table_args__ = (UniqueConstraint("enrolment_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(
        ForeignKey("automation_enrolments.id", ondelete="CASCADE")
    )
    step: Mapped[int]
    action: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))  # done | skipped
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ran_at: Mapped[datetime]


class StaffTask(Base):
    """A to-do for staff about a member ("call this customer"), made by an automation."""

    __tablename__ = "staff_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    automation_id: Mapped[int | None] = mapped_column(
        ForeignKey("automations.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    created_at: Mapped[created_at]
    done_at: Mapped[datetime | None]
    done_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


def _erase_automation_data(member_id: int) -> None:
    # Enrolments stay (the control-group statistics); open "call this customer" tasks go.
    db.session.execute(
        delete(StaffTask).where(StaffTask.member_id == member_id, StaffTask.status == "open")
    )
    db.session.execute(
        update(StaffTask).where(StaffTask.member_id == member_id).values(title="(erased)")
    )


register_member_table("automation_enrolments", "automation_enrolments")
register_member_table(
    "automation_step_runs",
    "automation_step_runs",
    member_column=None,
    via=("enrolment_id", "automation_enrolments"),
)
register_member_table("staff_tasks", "staff_tasks")
register_eraser("automations", _erase_automation_data)
