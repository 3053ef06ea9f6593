"""Finding a member: the staff search, the member detail, and rows for lists and CSV files.

The search runs as one SQL query over ``members`` outer-joined to ``member_lifecycle``:

* ``q`` matches a member number exactly (``app.member_numbers``: typed with or without dashes,
  in any case), a member id, or a part of the e-mail address or the name (case-insensitive);
* ``stage``, ``min_health`` and ``max_health`` filter on the last lifecycle refresh;
* ``segment_id`` adds the segment's own SQL condition (``app.segments.service``).

Results are ordered by member id, newest first, and paginated by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select

from app.accounts.models import Member
from app.campaigns.models import Coupon
from app.campaigns.views import coupon_view
from app.cards.models import Card
from app.db import iso_or_none, utcnow
from app.extensions import db
from app.ledger.models import Purchase
from app.ledger.service import require_member
from app.lifecycle.models import MemberLifecycle
from app.member_numbers import format_member_number, member_id_from_number
from app.segments.service import segment_condition

RECENT_PURCHASES = 10
MAX_QUERY_LENGTH = 100


@dataclass(frozen=True)
class MemberSearch:
    """What staff filter the member list by; every part is optional."""

    q: str | None = None
    stage: str | None = None
    segment_id: int | None = None
    min_health: int | None = None
    max_health: int | None = None


def _text_match(q: str) -> ColumnElement[bool]:
    pattern = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches: list[ColumnElement[bool]] = [
        func.lower(Member.email).like(pattern, escape="\\"),
        func.lower(Member.display_name).like(pattern, escape="\\"),
    ]
    by_number = member_id_from_number(q)
    if by_number is not None:
        matches.append(Member.id == by_number)
    if q.isdigit() and len(q) < 12:
        matches.append(Member.id == int(q))
    return or_(*matches)


def search_query(search: MemberSearch) -> Select[tuple[Member, MemberLifecycle]]:
    """Return the query of members matching the search, newest first."""
    query = select(Member, MemberLifecycle).outerjoin(
        MemberLifecycle, MemberLifecycle.member_id == Member.id
    )
    q = (search.q or "").strip()[:MAX_QUERY_LENGTH]
    if q:
        query = query.where(_text_match(q))
    if search.stage:
        query = query.where(MemberLifecycle.stage == search.stage)
    if search.min_health is not None:
        query = query.where(MemberLifecycle.health_score >= search.min_health)
    if search.max_health is not None:
        query = query.where(MemberLifecycle.health_score <= search.max_health)
    if search.segment_id is not None:
        query = query.where(segment_condition(search.segment_id))
    return query.order_by(Member.id.desc())


def search_members(
    search: MemberSearch, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Return one page of matching members and how many match in all."""
    query = search_query(search)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.execute(query.offset(offset).limit(limit)).all()
    return [member_row(member, lifecycle) for member, lifecycle in rows], int(total or 0)


def iterate_members(search: MemberSearch, batch: int = 2_000) -> Any:
    """Yield every matching member's row, in batches (for CSV exports of any size)."""
    last_id: int | None = None
    base = search_query(search)
    while True:
        query = base if last_id is None else base.where(Member.id < last_id)
        rows = db.session.execute(query.limit(batch)).all()
        if not rows:
            return
        for member, lifecycle in rows:
            yield member_row(member, lifecycle)
        last_id = rows[-1][0].id


def member_row(member: Member, lifecycle: MemberLifecycle | None) -> dict[str, Any]:
    """Return what a member list shows of one member."""
    return {
        "member_id": member.id,
        "member_number": format_member_number(member.id),
        "email": member.email,
        "display_name": member.display_name,
        "tier": member.tier,
        "points_balance": member.points_balance,
        "blocked": member.blocked,
        "created_at": iso_or_none(member.created_at),
        "stage": lifecycle.stage if lifecycle else None,
        "health_score": lifecycle.health_score if lifecycle else None,
        "p_active": lifecycle.p_active if lifecycle else None,
        "days_since_last_purchase": lifecycle.days_since_last_purchase if lifecycle else None,
    }


def lifecycle_view(lifecycle: MemberLifecycle | None) -> dict[str, Any] | None:
    """Return a member's lifecycle figures with the health factors, or None before a refresh."""
    if lifecycle is None:
        return None
    return {
        "as_of": lifecycle.as_of.isoformat(),
        "stage": lifecycle.stage,
        "stage_since": lifecycle.stage_since.isoformat(),
        "health_score": lifecycle.health_score,
        "health_factors": lifecycle.health_factors,
        "first_purchase_at": iso_or_none(lifecycle.first_purchase_at),
        "last_purchase_at": iso_or_none(lifecycle.last_purchase_at),
        "days_since_last_purchase": lifecycle.days_since_last_purchase,
        "purchase_days": lifecycle.purchase_days,
        "purchases": lifecycle.purchases,
        "spend_cents": lifecycle.spend_cents,
        "purchases_90d": lifecycle.purchases_90d,
        "spend_90d_cents": lifecycle.spend_90d_cents,
        "interval_days": lifecycle.interval_days,
        "recency_ratio": lifecycle.recency_ratio,
        "frequency_trend": lifecycle.frequency_trend,
        "spend_trend": lifecycle.spend_trend,
        "refund_share": lifecycle.refund_share,
        "p_active": lifecycle.p_active,
        "expected_purchases_90d": lifecycle.expected_purchases_90d,
    }


def _card_state(member_id: int) -> dict[str, Any]:
    cards: Sequence[Card] = db.session.scalars(
        select(Card).where(Card.member_id == member_id).order_by(Card.created_at.desc())
    ).all()
    active = next((card for card in cards if card.revoked_at is None), None)
    now = utcnow()
    state = "none" if active is None else ("expired" if active.not_after <= now else "active")
    return {
        "state": state,
        "card_id": str(active.id) if active else None,
        "not_after": iso_or_none(active.not_after) if active else None,
        "revoked_cards": sum(1 for card in cards if card.revoked_at is not None),
    }


def member_detail(member_id: int) -> dict[str, Any]:
    """Return what staff see of one member: profile, card, points, stage, health, history."""
    member = require_member(member_id)
    lifecycle = db.session.get(MemberLifecycle, member_id)
    purchases = db.session.scalars(
        select(Purchase)
        .where(Purchase.member_id == member_id)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc())
        .limit(RECENT_PURCHASES)
    ).all()
    coupons = db.session.scalars(
        select(Coupon).where(Coupon.member_id == member_id).order_by(Coupon.id.desc())
    ).all()
    now = utcnow()
    return {
        **member_row(member, lifecycle),
        "card": _card_state(member_id),
        "lifecycle": lifecycle_view(lifecycle),
        "recent_purchases": [
            {
                "purchase_id": purchase.id,
                "store_id": purchase.store_id,
                "receipt_id": purchase.receipt_id,
                "amount_cents": purchase.amount_cents,
                "refunded_cents": purchase.refunded_cents,
                "currency": purchase.currency,
                "points_earned": purchase.points_earned,
                "source": purchase.source,
                "occurred_at": iso_or_none(purchase.created_at),
            }
            for purchase in purchases
        ],
        "coupons": [coupon_view(coupon, now) for coupon in coupons],
    }
