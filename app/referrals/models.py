"""Referral codes, referrals and the sightings the self-referral checks compare.

``ReferralCode``: one per member, made on first use, UNIQUE. ``Referral``: one per referred
member (UNIQUE ``referee_id``), so a member is referred once, by one code, and a refused
referral (self-referral, over the monthly cap) keeps its row with the reason: trying again
with another code changes nothing. Its life:

``pending`` (linked at sign-up) → ``qualified`` (the referee's first purchase of at least the
minimum was booked; ``eligible_at`` = booking + refund window) → ``rewarded`` (the settle job
paid both sides after ``eligible_at``, if the purchase was not refunded below the minimum
meanwhile; otherwise it goes back to ``pending`` and a later purchase may qualify). ``rejected``
is final.

``MemberSighting`` records the device (a SHA-256 of the app's random device id) and client
address of each sign-up and login, kept 90 days (the retention job), so "the new member signs
up from the referrer's phone" can be recognised without keeping anything longer.

The end of this module declares the tables to the privacy registries: exported (a referral
without the other member's number), erased (the code and sightings), pruned (sightings).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, delete, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow
from app.extensions import db
from app.privacy.registry import (
    register_eraser,
    register_export_source,
    register_member_table,
    register_retention,
)
from app.privacy.rows import row_dict

REFERRAL_STATUSES = ("pending", "qualified", "rewarded", "rejected")


class ReferralCode(Base):
    """A member's referral code."""

    __tablename__ = "referral_codes"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    created_at: Mapped[created_at]


class Referral(Base):
    """One member brought in by another, and where their reward stands."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_referrer_time", "referrer_id", "created_at"),
        Index("ix_referrals_status_eligible", "status", "eligible_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    referee_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10))
    rejection: Mapped[str | None] = mapped_column(String(40))
    qualifying_purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchases.id"))
    qualified_at: Mapped[datetime | None]
    eligible_at: Mapped[datetime | None]
    rewarded_at: Mapped[datetime | None]
    # What was paid: ledger entries (points) or coupons, per side.
    referrer_entry_id: Mapped[int | None]
    referee_entry_id: Mapped[int | None]
    referrer_coupon_id: Mapped[int | None]
    referee_coupon_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemberSighting(Base):
    """A sign-up or login of a member: from which device and address."""

    __tablename__ = "member_sightings"
    __table_args__ = (
        Index("ix_member_sightings_member_time", "member_id", "seen_at"),
        Index("ix_member_sightings_device", "device_hash"),
        Index("ix_member_sightings_address", "client_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(10))  # "signup" | "login"
    device_hash: Mapped[str | None] = mapped_column(String(64))
    client_address: Mapped[str | None] = mapped_column(String(45))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- what the privacy package exports, erases and prunes ----------------------------------


def _export_referrals(member_id: int) -> list[dict[str, Any]]:
    """The member's referrals, either side, without the other member's number."""
    rows = db.session.scalars(
        select(Referral).where(
            or_(Referral.referrer_id == member_id, Referral.referee_id == member_id)
        )
    )
    exported = []
    for row in rows:
        data = row_dict(row, omit={"referrer_id", "referee_id"})
        data["role"] = "referrer" if row.referrer_id == member_id else "referred"
        exported.append(data)
    return exported


def _erase_referral_data(member_id: int) -> None:
    db.session.execute(delete(ReferralCode).where(ReferralCode.member_id == member_id))
    db.session.execute(delete(MemberSighting).where(MemberSighting.member_id == member_id))


register_member_table("referral_code", "referral_codes")
register_export_source("referrals", ["referrals"], _export_referrals)
register_member_table("sightings", "member_sightings", omit=["device_hash"])
register_eraser("referrals", _erase_referral_data)
register_retention(
    "member_sightings",
    "seen_at",
    timedelta(days=90),
    reason="the self-referral checks look back 90 days at most",
)
