"""Coupons, campaigns, redemptions, offline-sync conflicts and the coupon settings.

What is stored instead of a code (see ``coupons.storage`` and ``docs/coupons.md``):

* ``coupons.code_hash`` is HMAC-SHA256(lookup key, canonical code), UNIQUE across every
  campaign and member coupon; the till's code is looked up by it. The key lives in the
  instance folder, so a database dump alone cannot test a guess, let alone redeem.
* ``coupons.sealed_code`` (AES-256-GCM) only for coupons bound to a member, whose wallet must
  show the code again. Anonymous campaign coupons have none.
* ``campaigns.export_sealed`` holds a campaign's anonymous codes, sealed under an instance key,
  only until the one CSV export; the export sets it to NULL.

Every coupon row carries its own terms (benefit, validity, stores, minimum basket, per-member
limit): a coupon keeps the terms it was issued with even if its campaign is edited later, and
a redemption reads one row.

Single use is ``UPDATE coupons SET redeemed_at = ..., redemption_id = ..., use_count =
use_count + 1 WHERE id = ... AND redeemed_at IS NULL AND voided_at IS NULL``. Each accepted
redemption is a ``coupon_redemptions`` row numbered by the coupon's ``use_count`` and UNIQUE on
``(coupon_id, use_no)``. A reversal keeps that row (``reversed_at``) and clears the coupon's
``redeemed_at``, so the next redemption gets the next ``use_no``: both events stay on record,
and the database still refuses two redemptions that claim the same use.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    Row,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at

CODE_HASH_BYTES = 32


class Campaign(Base):
    """A batch of coupons with one benefit: anonymous codes or one coupon per chosen member."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    audience: Mapped[str] = mapped_column(String(12))  # "anonymous" | "members"
    benefit: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    store_ids: Mapped[list[int] | None] = mapped_column(JSON)
    min_basket_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    max_uses_per_member: Mapped[int | None]
    code_count: Mapped[int] = mapped_column(default=0, server_default="0")
    created_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    created_at: Mapped[created_at]
    # Anonymous codes sealed for the one export; NULL once exported (or for member campaigns).
    export_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    exported_at: Mapped[datetime | None]
    exported_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    exported_via: Mapped[str | None] = mapped_column(String(10))  # "api" | "cli"
    voided_at: Mapped[datetime | None]
    voided_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class Coupon(Base):
    """One single-use coupon code, stored as a keyed hash, with the terms it was issued with."""

    __tablename__ = "coupons"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(CODE_HASH_BYTES), unique=True)
    sealed_code: Mapped[bytes | None] = mapped_column(LargeBinary)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    source: Mapped[str] = mapped_column(String(30))  # "campaign", "reward", "stamps", ...
    source_id: Mapped[str | None] = mapped_column(String(64))
    benefit: Mapped[dict[str, Any]] = mapped_column(JSON)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    store_ids: Mapped[list[int] | None] = mapped_column(JSON)
    min_basket_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    max_uses_per_member: Mapped[int | None]
    created_at: Mapped[created_at]
    voided_at: Mapped[datetime | None]
    voided_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    redeemed_at: Mapped[datetime | None]
    # The active (not reversed) redemption; NULL while the coupon can be redeemed.
    redemption_id: Mapped[uuid.UUID | None]
    # Redemptions ever accepted, reversed ones included: the next one gets use_no = use_count.
    use_count: Mapped[int] = mapped_column(default=0, server_default="0")


class Redemption(Base):
    """One accepted redemption of a coupon; a reversal marks it, never deletes it."""

    __tablename__ = "coupon_redemptions"
    __table_args__ = (
        UniqueConstraint("coupon_id", "use_no"),
        Index("ix_coupon_redemptions_member_time", "member_id", "redeemed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"))
    use_no: Mapped[int]
    redeemed_at: Mapped[datetime]
    # The till's own clock for offline redemptions (what the validity checks used).
    local_time: Mapped[datetime | None]
    till_id: Mapped[int] = mapped_column(ForeignKey("tills.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    card_id: Mapped[str | None] = mapped_column(String(36))
    receipt_id: Mapped[str] = mapped_column(String(64))
    basket_cents: Mapped[int]
    discount_cents: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    bonus_points: Mapped[int] = mapped_column(default=0, server_default="0")
    free_sku: Mapped[str | None] = mapped_column(String(64))
    ledger_entry_id: Mapped[int | None]
    offline: Mapped[bool] = mapped_column(default=False, server_default=false())
    event_id: Mapped[str | None] = mapped_column(String(64))
    flag: Mapped[str | None] = mapped_column(String(40))  # e.g. "over-floor-limit"
    reversed_at: Mapped[datetime | None]
    reversed_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    reversed_at_till_id: Mapped[int | None] = mapped_column(ForeignKey("tills.id"))
    reversal_reason: Mapped[str | None] = mapped_column(String(200))
    reversal_ledger_entry_id: Mapped[int | None]


class CouponSettings(Base):
    """The manager-configurable coupon policy: one row, id 1 (defaults apply until saved)."""

    __tablename__ = "coupon_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    offline_floor_limit_cents: Mapped[int]
    offline_floor_limit_points: Mapped[int]
    offline_max_age_hours: Mapped[int]
    reversal_window_minutes: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))


class SyncConflict(Base):
    """An offline till event the server could not simply accept, waiting for staff review."""

    __tablename__ = "sync_conflicts"
    __table_args__ = (Index("ix_sync_conflicts_status_time", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int]
    local_time: Mapped[datetime | None]
    till_id: Mapped[int] = mapped_column(ForeignKey("tills.id"), index=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    reason: Mapped[str] = mapped_column(String(60))  # the problem type, e.g. an already-redeemed
    detail: Mapped[str] = mapped_column(String(300))
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    # A keyed fingerprint of the code as typed: groups repeats, cannot redeem.
    code_fingerprint: Mapped[str | None] = mapped_column(String(32))
    receipt_id: Mapped[str | None] = mapped_column(String(64))
    claimed_discount_cents: Mapped[int | None]
    # The redemption that won (a lost race) or the one this event made (over the floor limit).
    winning_redemption_id: Mapped[uuid.UUID | None]
    redemption_id: Mapped[uuid.UUID | None]
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    created_at: Mapped[created_at]
    resolved_at: Mapped[datetime | None]
    resolved_by_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    resolution_note: Mapped[str | None] = mapped_column(String(500))


# A coupon as the ORM loaded it, or as a statement returned its columns (the till's claim):
# what the views and the terms read of it is the same.
CouponRecord = Coupon | Row[Any]
