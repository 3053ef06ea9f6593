"""Survey answers (one per member per period) and complaints recorded by staff.

Privacy: all three tables are in the member's export; erasure removes the member's comments
and the text of their complaints (scores and the fact of a complaint stay, without words).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at
from app.extensions import db
from app.privacy.registry import register_eraser, register_member_table


class SurveyInvitation(Base):
    """A one-question survey offered to a member (by an automation or after a purchase)."""

    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("member_id", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    period: Mapped[str] = mapped_column(String(10))  # e.g. "2026-Q4"
    question: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(40))  # "automation:3", "purchase"
    created_at: Mapped[created_at]
    answered_at: Mapped[datetime | None]


class SurveyResponse(Base):
    """An answer: NPS 0–10 and an optional comment."""

    __tablename__ = "survey_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("survey_invitations.id"), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(String(1000))
    answered_at: Mapped[datetime]


class Complaint(Base):
    """A complaint or service case a staff member recorded on a member."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str] = mapped_column(String(20))  # complaint | service
    category: Mapped[str | None] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | resolved
    resolution: Mapped[str | None] = mapped_column(String(1000))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


def _erase_feedback(member_id: int) -> None:
    # Scores stay (the NPS history is the shop's aggregate); the member's own words go.
    db.session.execute(
        update(SurveyResponse).where(SurveyResponse.member_id == member_id).values(comment=None)
    )
    db.session.execute(
        update(Complaint)
        .where(Complaint.member_id == member_id)
        .values(description="(erased)", resolution=None)
    )


register_member_table("survey_invitations", "survey_invitations")
register_member_table("survey_responses", "survey_responses")
register_member_table("complaints", "complaints")
register_eraser("feedback", _erase_feedback)
