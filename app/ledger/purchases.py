"""Booking a purchase at the till, and refunding it: the ledger's part.

The till pipeline (``app.till.pipeline``) has presented the card, checked blocks, locked the
member row (``SELECT ... FOR UPDATE``: this member's earnings, refunds and tier changes run one
at a time from there to commit) and run the fraud rules. Then ``book_purchase``:

1. reviews the tier (a period boundary may have passed), computes the points, posts the
   ``earn`` entry (balance and entry together);
2. inserts the complete ``purchases`` row (``INSERT ... ON CONFLICT DO NOTHING``); the UNIQUE
   (store, receipt) index turns a receipt booked before, also one booked concurrently by
   another till, into no row: ``duplicate-receipt``, and the entry goes with the rollback;
3. checks for a tier upgrade and announces ``purchase.booked``.

Stamps are added by the till (``app.rewards.stamps``), not from here: the ledger imports
nothing above it. If anything fails, the request rolls back and none of it stays: no purchase,
no entry, no balance change, no stamps, and no idempotency key, so the till's retry runs again.

A refund locks the purchase row (``FOR UPDATE``), found by the till's store and the receipt id,
and takes back points in proportion to the refunded amount, cumulatively:
``ceil(points_earned x refunded_so_far / amount) - points_refunded_before``. Earning rounds
down and refunds round up, both in the shop's favour, and a full refund takes back exactly what
was earned, never more. The points are taken even if they were spent meanwhile: the balance
may go negative, and a negative balance blocks spending (``spend_points``) until new purchases
repay it. That closes "buy, earn, spend the points, return the goods".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.accounts.models import Member
from app.db import insert_unless_present
from app.errors import DomainError
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.earning import (
    Programme,
    RunningPromotion,
    basket_lines,
    compute_points,
    load_programme,
    load_rules,
    running_promotion,
)
from app.ledger.models import LedgerEntry, Purchase, PurchaseRefund
from app.ledger.service import post_ledger_entry
from app.ledger.tiers import QualifyingPoints, TierLevel, refresh_tier

RECEIPT_REFERENCE = "receipt"


@dataclass(frozen=True)
class TillStaff:
    """The till, store and cashier an operation is booked under."""

    till_id: int
    store_id: int
    staff_id: int | None


@dataclass(frozen=True)
class BookedPurchase:
    """A purchase just booked, with the entry that credited its points."""

    purchase_id: int
    points_earned: int
    entry: LedgerEntry
    tier: TierLevel
    promotion: RunningPromotion | None


@dataclass(frozen=True)
class BookedRefund:
    """A refund just booked, with the entry that took its points back."""

    refund: PurchaseRefund
    purchase: Purchase
    entry: LedgerEntry
    tier: TierLevel


def receipt_ref(store_id: int, receipt_id: str) -> str:
    """Return the text that names a receipt across stores (for stamps and references)."""
    return f"{store_id}:{receipt_id}"


def accepted_programme(currency: str) -> Programme:
    """Return the programme, or refuse a purchase in a currency it does not take."""
    programme = load_programme()
    if currency.upper() != programme.currency:
        raise DomainError(
            "currency-not-accepted",
            f"Points are earned on purchases in {programme.currency} only.",
            accepted_currency=programme.currency,
        )
    return programme


def book_purchase(
    member: Member,
    *,
    at: TillStaff,
    card_id: uuid.UUID,
    receipt_id: str,
    amount_cents: int,
    lines: list[dict[str, Any]],
    programme: Programme,
    now: datetime,
) -> BookedPurchase:
    """Book a receipt for a (locked) member and credit the points it earns.

    The entry is posted first and the purchase inserted last, complete, with one ``INSERT ...
    ON CONFLICT DO NOTHING``: a receipt booked before (or concurrently, by another till: the
    insert waits for it) inserts nothing and is refused as ``duplicate-receipt``, and the
    caller's transaction (or savepoint) takes the entry back with it.
    """
    counted = QualifyingPoints(member.id, now - timedelta(days=programme.tier_window_days))
    tier = refresh_tier(member.id, now=now, member_locked=True, member=member, points=counted)
    promotion = running_promotion(at.store_id, now)
    points = compute_points(
        amount_cents,
        basket_lines(lines),
        load_rules(programme),
        tier_percent=tier.multiplier_percent,
        promotion_percent=promotion.multiplier_percent if promotion else 100,
    )
    entry = post_ledger_entry(
        member.id,
        points,
        "earn",
        reference_type=RECEIPT_REFERENCE,
        reference_id=receipt_id,
        till_id=at.till_id,
        store_id=at.store_id,
        staff_id=at.staff_id,
    )
    purchase_id = (
        db.session.connection()
        .execute(
            *insert_unless_present(
                Purchase,
                {
                    "store_id": at.store_id,
                    "receipt_id": receipt_id,
                    "till_id": at.till_id,
                    "staff_id": at.staff_id,
                    "member_id": member.id,
                    "card_id": str(card_id),
                    "amount_cents": amount_cents,
                    "currency": programme.currency,
                    "lines": lines or None,
                    "points_earned": points,
                    "ledger_entry_id": entry.id,
                },
                returning=("id",),
            )
        )
        .scalar_one_or_none()
    )
    if purchase_id is None:
        raise DomainError(
            "duplicate-receipt",
            f"Receipt {receipt_id} was booked in this store already.",
            receipt_id=receipt_id,
        )
    counted.add(points)
    tier = refresh_tier(member.id, now=now, member_locked=True, member=member, points=counted)
    publish(
        DomainEvent(
            "purchase.booked",
            {
                "purchase_id": purchase_id,
                "receipt_id": receipt_id,
                "amount_cents": amount_cents,
                "currency": programme.currency,
                "points_earned": points,
                "till_id": at.till_id,
                "lines": list(lines or []),
            },
            member_id=member.id,
            store_id=at.store_id,
        )
    )
    return BookedPurchase(purchase_id, points, entry, tier, promotion)


def lock_receipt(store_id: int, receipt_id: str) -> Purchase:
    """Return the store's purchase with this receipt, its row locked; or refuse."""
    purchase = db.session.execute(
        select(Purchase)
        .where(Purchase.store_id == store_id, Purchase.receipt_id == receipt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if purchase is None:
        raise DomainError(
            "unknown-receipt",
            f"No purchase with receipt {receipt_id} was booked in this store.",
            receipt_id=receipt_id,
        )
    return purchase


def check_refund_amount(purchase: Purchase, amount_cents: int) -> None:
    """Refuse a refund of more than what is left of the purchase."""
    remaining = purchase.amount_cents - purchase.refunded_cents
    if amount_cents > remaining:
        raise DomainError(
            "refund-exceeds-purchase",
            f"Only {remaining} cents of receipt {purchase.receipt_id} are left to refund.",
            remaining_cents=remaining,
        )


def points_to_refund(purchase: Purchase, amount_cents: int) -> int:
    """Return the points a refund of ``amount_cents`` takes back (cumulative, rounded up)."""
    refunded_after = purchase.refunded_cents + amount_cents
    owed_after = -(-purchase.points_earned * refunded_after // purchase.amount_cents)
    return min(owed_after, purchase.points_earned) - purchase.points_refunded


def _returned_lines(purchase: Purchase, lines: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if lines is not None:
        return list(lines)
    if purchase.refunded_cents == purchase.amount_cents:
        return list(purchase.lines or [])  # a full refund returns every line
    return []


def book_refund(
    purchase: Purchase,
    member: Member,
    *,
    at: TillStaff,
    amount_cents: int,
    lines: list[dict[str, Any]] | None = None,
) -> BookedRefund:
    """Refund (part of) a locked purchase of a locked member and take back its points.

    ``lines`` are the returned lines as the till reported them (a full refund without lines
    returns every line); ``purchase.refunded`` carries them for subscribers.
    """
    points = points_to_refund(purchase, amount_cents)
    entry = post_ledger_entry(
        purchase.member_id,
        -points,
        "refund",
        reference_type=RECEIPT_REFERENCE,
        reference_id=purchase.receipt_id,
        till_id=at.till_id,
        store_id=at.store_id,
        staff_id=at.staff_id,
    )
    purchase.refunded_cents += amount_cents
    purchase.points_refunded += points
    refund = PurchaseRefund(
        purchase_id=purchase.id,
        amount_cents=amount_cents,
        points_refunded=points,
        ledger_entry_id=entry.id,
        till_id=at.till_id,
        staff_id=at.staff_id,
    )
    db.session.add(refund)
    tier = refresh_tier(member.id, after_refund=True, member_locked=True, member=member)
    db.session.flush()
    publish(
        DomainEvent(
            "purchase.refunded",
            {
                "purchase_id": purchase.id,
                "refund_id": refund.id,
                "receipt_id": purchase.receipt_id,
                "amount_cents": amount_cents,
                "points_refunded": points,
                "till_id": at.till_id,
                "refunded_cents": purchase.refunded_cents,
                "remaining_cents": purchase.amount_cents - purchase.refunded_cents,
                "lines": _returned_lines(purchase, lines),
            },
            member_id=purchase.member_id,
            store_id=at.store_id,
        )
    )
    return BookedRefund(refund, purchase, entry, tier)
