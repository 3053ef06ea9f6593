"""Booking a purchase at the till, and refunding it.

A purchase runs in the request's transaction, inside ``run_idempotent`` (the route's), in this
order:

1. refuse a currency the programme does not take (before the card is touched, so a live code
   is not used up for nothing);
2. ``present_card``: the scan token, static or rotating code names the member (and consumes a
   rotating code);
3. lock the member row (``SELECT ... FOR UPDATE``): this member's earnings, refunds and tier
   changes run one at a time from here to commit;
4. insert the ``purchases`` row in a savepoint; the UNIQUE (store, receipt) index refuses a
   receipt booked before (``duplicate-receipt``), also one booked concurrently by another till;
5. review the tier (a period boundary may have passed), compute the points, post the ``earn``
   entry (balance and entry together), check for an upgrade;
6. add stamps (``app.rewards.stamps.record_stamps_for_purchase``).

If anything fails, the request rolls back and none of it stays: no purchase, no entry, no
balance change, no stamps, and no idempotency key, so the till's retry runs again.

A refund locks the purchase row (``FOR UPDATE``), found by the till's store and the receipt id,
and takes back points in proportion to the refunded amount, cumulatively:
``ceil(points_earned x refunded_so_far / amount) - points_refunded_before``. Earning rounds
down and refunds round up, both in the shop's favour, and a full refund takes back exactly what
was earned, never more. The points are taken even if they were spent meanwhile: the balance
may go negative, and a negative balance blocks spending (``spend_points``) until new purchases
repay it. That closes "buy, earn, spend the points, return the goods".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.tokens import Identity
from app.cards.presentation import present_card
from app.db import utcnow
from app.errors import Problem
from app.events import DomainEvent, publish
from app.extensions import db
from app.fraud.attempts import update_attempt
from app.fraud.rules import assess
from app.ledger.earning import (
    basket_lines,
    compute_points,
    load_programme,
    load_rules,
    running_promotion,
)
from app.ledger.models import Purchase, PurchaseRefund
from app.ledger.service import lock_member, post_ledger_entry
from app.ledger.tiers import refresh_tier
from app.rewards.stamps import record_stamps_for_purchase, reverse_stamps_for_refund

RECEIPT_REFERENCE = "receipt"


def receipt_ref(store_id: int, receipt_id: str) -> str:
    """Return the text that names a receipt across stores (for stamps and references)."""
    return f"{store_id}:{receipt_id}"


def _till_context(identity: Identity) -> tuple[int, int]:
    if identity.till_id is None or identity.store_id is None:
        raise Problem("forbidden", 403, "Forbidden", "Only a till session may book purchases.")
    return identity.till_id, identity.store_id


def record_purchase(
    identity: Identity,
    *,
    code: str,
    receipt_id: str,
    amount_cents: int,
    currency: str,
    lines: list[dict[str, Any]],
) -> dict[str, Any]:
    """Book a receipt for the member whose card was presented and credit the points earned."""
    till_id, store_id = _till_context(identity)
    programme = load_programme()
    if currency.upper() != programme.currency:
        raise Problem(
            "currency-not-accepted",
            422,
            "Currency not accepted",
            f"Points are earned on purchases in {programme.currency} only.",
            accepted_currency=programme.currency,
        )
    card = present_card(code)
    update_attempt(member_id=card.member_id, card_id=card.card_id)
    member = lock_member(card.member_id)
    if member.blocked:
        raise Problem("member-blocked", 403, "Member blocked", "This membership is blocked.")
    assess("purchase", card, amount_cents=amount_cents)  # fraud rules, under the member lock
    purchase = Purchase(
        store_id=store_id,
        receipt_id=receipt_id,
        till_id=till_id,
        staff_id=identity.subject_id,
        member_id=member.id,
        card_id=str(card.card_id),
        amount_cents=amount_cents,
        currency=programme.currency,
        lines=lines or None,
    )
    try:
        with db.session.begin_nested():
            db.session.add(purchase)
    except IntegrityError:
        raise Problem(
            "duplicate-receipt",
            409,
            "Receipt already booked",
            f"Receipt {receipt_id} was booked in this store already.",
            receipt_id=receipt_id,
        ) from None
    now = utcnow()
    tier = refresh_tier(member.id, now=now, member_locked=True)
    promotion = running_promotion(store_id, now)
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
        till_id=till_id,
        store_id=store_id,
        staff_id=identity.subject_id,
    )
    purchase.points_earned = points
    purchase.ledger_entry_id = entry.id
    tier = refresh_tier(member.id, now=now, member_locked=True)
    stamps = record_stamps_for_purchase(member.id, lines, receipt_ref(store_id, receipt_id))
    db.session.flush()
    publish(
        DomainEvent(
            "purchase.booked",
            {
                "purchase_id": purchase.id,
                "receipt_id": receipt_id,
                "amount_cents": amount_cents,
                "currency": programme.currency,
                "points_earned": points,
                "points_balance": entry.balance_after,
            },
            member_id=member.id,
            store_id=store_id,
        )
    )
    return {
        "purchase_id": purchase.id,
        "entry_id": entry.id,
        "points_earned": points,
        "points_balance": entry.balance_after,
        "tier": tier.code,
        "promotion": promotion.name if promotion else None,
        "stamps": stamps,
    }


def _locked_purchase(store_id: int, receipt_id: str) -> Purchase:
    purchase = db.session.execute(
        select(Purchase)
        .where(Purchase.store_id == store_id, Purchase.receipt_id == receipt_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if purchase is None:
        raise Problem(
            "unknown-receipt",
            404,
            "Unknown receipt",
            f"No purchase with receipt {receipt_id} was booked in this store.",
            receipt_id=receipt_id,
        )
    return purchase


def points_to_refund(purchase: Purchase, amount_cents: int) -> int:
    """Return the points a refund of ``amount_cents`` takes back (cumulative, rounded up)."""
    refunded_after = purchase.refunded_cents + amount_cents
    owed_after = -(-purchase.points_earned * refunded_after // purchase.amount_cents)
    return min(owed_after, purchase.points_earned) - purchase.points_refunded


def refund_purchase(
    identity: Identity,
    *,
    receipt_id: str,
    amount_cents: int,
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Refund (part of) a receipt of this store and take back its share of the points."""
    till_id, store_id = _till_context(identity)
    purchase = _locked_purchase(store_id, receipt_id)
    update_attempt(member_id=purchase.member_id)
    remaining = purchase.amount_cents - purchase.refunded_cents
    if amount_cents > remaining:
        raise Problem(
            "refund-exceeds-purchase",
            422,
            "Refund exceeds purchase",
            f"Only {remaining} cents of receipt {receipt_id} are left to refund.",
            remaining_cents=remaining,
        )
    lock_member(purchase.member_id)
    assess("refund", None, amount_cents=amount_cents, member_id=purchase.member_id)
    points = points_to_refund(purchase, amount_cents)
    entry = post_ledger_entry(
        purchase.member_id,
        -points,
        "refund",
        reference_type=RECEIPT_REFERENCE,
        reference_id=receipt_id,
        till_id=till_id,
        store_id=store_id,
        staff_id=identity.subject_id,
    )
    purchase.refunded_cents += amount_cents
    purchase.points_refunded += points
    refund = PurchaseRefund(
        purchase_id=purchase.id,
        amount_cents=amount_cents,
        points_refunded=points,
        ledger_entry_id=entry.id,
        till_id=till_id,
        staff_id=identity.subject_id,
    )
    db.session.add(refund)
    tier = refresh_tier(purchase.member_id, after_refund=True, member_locked=True)
    if lines is None and purchase.refunded_cents == purchase.amount_cents:
        lines = purchase.lines  # a full refund returns every line
    stamps = (
        reverse_stamps_for_refund(purchase.member_id, lines, receipt_ref(store_id, receipt_id))
        if lines
        else []
    )
    db.session.flush()
    return {
        "refund_id": refund.id,
        "entry_id": entry.id,
        "points_refunded": points,
        "points_balance": entry.balance_after,
        "tier": tier.code,
        "refunded_cents": purchase.refunded_cents,
        "remaining_cents": purchase.amount_cents - purchase.refunded_cents,
        "stamps": stamps,
    }
