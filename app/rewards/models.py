"""Rewards, reward claims, stamp programmes and stamp cards.

A ``Reward`` is a catalogue entry a member buys with points. Its remaining ``stock`` (``NULL``
means unlimited) is decremented by a conditional UPDATE and the database refuses a negative
value, so no race can sell more than there is. A ``RewardClaim`` is the purchase: it records the
ledger entry that took the points, the coupon it issued (discounts and free items) or the
fulfilment status of a physical gift, and the ledger entry that gave the points back if the
gift was returned (set once: the transition to ``returned`` happens once).

A ``StampProgramme`` ("buy 9 coffees, the 10th is free") names what qualifies (a category
and/or SKUs), how many stamps fill a card and the coupon benefit a full card earns. Each member
has at most one ``StampCard`` per programme (unique), locked while stamps are added so counting
is atomic; ``StampEntry`` rows are the card's history (stamps added by a receipt, taken off by
a refund, and each reward issued), so its count can always be explained.

Coupon and ledger ids are stored as plain integers: those tables belong to the campaigns and
ledger packages and the ids are only ever looked up through them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, utcnow


class RewardKind(enum.StrEnum):
    """What a reward is: a coupon for a discount or a free item, or a gift sent out."""

    DISCOUNT = "discount"
    FREE_ITEM = "free_item"
    PHYSICAL_GIFT = "physical_gift"


class FulfilmentStatus(enum.StrEnum):
    """Where a physical gift is on its way to the member (and maybe back)."""

    REQUESTED = "requested"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"


class StampEntryKind(enum.StrEnum):
    """Why a stamp card changed."""

    PURCHASE = "purchase"
    REFUND = "refund"
    REWARD = "reward"


class Reward(Base):
    """An entry of the rewards catalogue."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("cost_points >= 1", name="cost_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    image_url: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20))
    cost_points: Mapped[int]
    # Remaining units; NULL means unlimited.
    stock: Mapped[int | None]
    per_member_limit: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    active_from: Mapped[datetime | None]
    active_until: Mapped[datetime | None]  # exclusive
    # The coupon a discount or free-item reward issues (unused for physical gifts).
    amount_off_cents: Mapped[int | None]
    percent_off: Mapped[int | None]
    percent_cap_cents: Mapped[int | None]
    sku: Mapped[str | None] = mapped_column(String(64))
    min_basket_cents: Mapped[int] = mapped_column(default=0, server_default="0")
    coupon_valid_days: Mapped[int | None] = mapped_column(default=30)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def is_active_at(self, moment: datetime) -> bool:
        """Tell whether members may see and claim the reward at ``moment``."""
        return (
            self.active
            and (self.active_from is None or self.active_from <= moment)
            and (self.active_until is None or moment < self.active_until)
        )


class RewardClaim(Base):
    """A member bought a reward with points."""

    __tablename__ = "reward_claims"
    __table_args__ = (Index("ix_reward_claims_member_reward", "member_id", "reward_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    points_spent: Mapped[int]
    ledger_entry_id: Mapped[int | None]
    coupon_id: Mapped[int | None]
    fulfilment_status: Mapped[str | None] = mapped_column(String(20), index=True)
    # The entry that gave the points back after a return; set at most once.
    refund_entry_id: Mapped[int | None] = mapped_column(unique=True)
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RewardFulfilmentEvent(Base):
    """One step of a physical gift's fulfilment, and who recorded it."""

    __tablename__ = "reward_fulfilment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("reward_claims.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at]


class StampProgramme(Base):
    """A stamp card offer: qualifying purchases add stamps; a full card earns a coupon."""

    __tablename__ = "stamp_programmes"
    __table_args__ = (CheckConstraint("stamps_needed >= 1", name="stamps_needed_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    category: Mapped[str | None] = mapped_column(String(64))
    skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    stamps_needed: Mapped[int]
    # The coupon benefit as ``coupons.rules.Benefit.to_dict()`` writes it.
    reward_benefit: Mapped[dict[str, Any]] = mapped_column(JSON)
    coupon_valid_days: Mapped[int | None] = mapped_column(default=30)
    active: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[created_at]


class StampCard(Base):
    """A member's card in one stamp programme."""

    __tablename__ = "stamp_cards"
    __table_args__ = (UniqueConstraint("programme_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("stamp_programmes.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    # Stamps towards the next reward. Negative only after a refund of stamps that already
    # earned a reward: the next purchases make up the difference first.
    stamps: Mapped[int] = mapped_column(default=0, server_default="0")
    rewards_issued: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[created_at]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class StampEntry(Base):
    """One change of a stamp card: stamps from a receipt, a refund, or a reward issued."""

    __tablename__ = "stamp_entries"
    __table_args__ = (Index("ix_stamp_entries_card_receipt", "card_id", "receipt_ref"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("stamp_cards.id"))
    kind: Mapped[str] = mapped_column(String(20))
    stamps: Mapped[int]  # + added, - taken off (a reward entry takes off a full card)
    receipt_ref: Mapped[str | None] = mapped_column(String(100))
    coupon_id: Mapped[int | None]
    created_at: Mapped[created_at]
