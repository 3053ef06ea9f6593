"""Build a purchase history straight into the database, for lifecycle, segment and KPI tests.

Purchases go in with Core inserts at their original times; the lifecycle reads only
``members`` and ``purchases``, so no ledger entries are needed for these tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select

from app.accounts.models import Member
from app.extensions import db
from app.ledger.models import Purchase
from app.stores.models import Store

_RECEIPT_SERIAL = itertools.count(1)


def at(day: date, hour: int = 12) -> datetime:
    """Return noon (or ``hour``) UTC of a day."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def add_member(email: str, signed_up: date) -> int:
    """Create a member who signed up on a day; return the id."""
    member = Member(
        email=email,
        display_name=email.split("@")[0].title(),
        password_hash="!",
        created_at=at(signed_up, 9),
    )
    db.session.add(member)
    db.session.flush()
    return member.id


def first_store_id() -> int:
    """Return the id of the first store (the demo shop's Berlin store)."""
    return int(db.session.scalar(select(Store.id).order_by(Store.id).limit(1)) or 0)


def add_purchases(
    member_id: int,
    days: list[date],
    amount_cents: int = 2_000,
    store_id: int | None = None,
    refunded_cents: int = 0,
) -> None:
    """Book one receipt per day for a member (no till: like imported history)."""
    store = store_id or first_store_id()
    db.session.execute(
        insert(Purchase),
        [
            {
                "store_id": store,
                "receipt_id": f"T-{member_id}-{day.isoformat()}-{next(_RECEIPT_SERIAL)}",
                "member_id": member_id,
                "amount_cents": amount_cents,
                "currency": "EUR",
                "points_earned": 0,
                "refunded_cents": refunded_cents,
                "source": "import",
                "created_at": at(day),
            }
            for day in days
        ],
    )


def every(step_days: int, first: date, last: date) -> list[date]:
    """Return days ``step_days`` apart ending exactly on ``last``, none before ``first``."""
    days = []
    day = last
    while day >= first:
        days.append(day)
        day -= timedelta(days=step_days)
    return sorted(days)
