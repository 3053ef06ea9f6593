"""Profiles and the consent history.

``MemberProfile`` holds what a member may tell us after the short sign-up: birthday, home
store, preferred language, phone. One row per member, created on first save; the name stays on
``members.display_name`` where the rest of the app reads it.

``ConsentRecord`` is append-only: each give or withdraw of consent for one purpose is a new row
with when, through what (app, till, staff, import), who recorded it (the member or a staff
account) and the version of the wording shown. The current state of a purpose is its newest
row, and the state at any past moment is the newest row before it: that is what GDPR Art. 7(1)
asks a shop to be able to show. Nothing updates or deletes these rows, not even erasure: after
an erasure they name only an anonymous member number.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow

CONSENT_PURPOSES = ("marketing", "personalised_offers", "surveys")
CONSENT_SOURCES = ("app", "till", "staff", "import")


class MemberProfile(Base):
    """The optional details a member keeps about themselves."""

    __tablename__ = "member_profiles"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    home_store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    preferred_language: Mapped[str | None] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentRecord(Base):
    """One change of a member's consent to one purpose."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(
            "purpose IN (" + ", ".join(f"'{p}'" for p in CONSENT_PURPOSES) + ")", name="purpose"
        ),
        CheckConstraint(
            "source IN (" + ", ".join(f"'{s}'" for s in CONSENT_SOURCES) + ")", name="source"
        ),
        Index("ix_consent_records_member_purpose_time", "member_id", "purpose", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    purpose: Mapped[str] = mapped_column(String(30))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(10))
    # Who recorded it: None = the member themselves, else the staff account.
    recorded_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    wording_version: Mapped[str | None] = mapped_column(String(40))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
