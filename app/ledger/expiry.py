"""Points expire after a period of inactivity.

The policy is one setting, ``expire_after_inactive_days`` (none by default: points never
expire). A member is *active* whenever a ledger entry other than ``expire`` is written for
them: a purchase, a refund, spending points on a reward, a bonus, an adjustment. When
``last activity + period`` has passed and the balance is positive, the whole balance expires
as one ``expire`` entry. The member sees the date in advance
(``GET /api/v1/me/points/expiring``).

``flask --app app points expire`` runs ``run_points_expiry``. It is safe to run twice and to
run concurrently:

* candidates are selected first, then each member is handled under their row lock
  (``SELECT ... FOR UPDATE``; SQLite transactions are serialised), where balance and last
  activity are read again: a second run finds the balance at 0, a purchase made meanwhile
  makes the member active again, and nothing is expired twice;
* as a last line of defence the ``expire`` entry's ``reference_id`` is the time of the last
  activity, and a partial UNIQUE index allows one expiry per member and inactivity episode;
* the job commits every ``batch_size`` members, so it never holds many locks for long, and a
  run that is interrupted keeps the batches it finished; running it again completes the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select

from app.accounts.models import Member
from app.db import utcnow
from app.errors import Problem
from app.extensions import db
from app.ledger.earning import load_programme
from app.ledger.models import LedgerEntry
from app.ledger.service import lock_member, post_ledger_entry, require_member

INACTIVITY_REFERENCE = "inactivity"
DEFAULT_BATCH_SIZE = 200

ProgressWrapper = Callable[[list[int]], AbstractContextManager[Iterable[int]]]


@dataclass(frozen=True)
class ExpiryReport:
    """What one expiry run did."""

    members_checked: int
    members_expired: int
    points_expired: int


def last_activity(member: Member) -> datetime:
    """Return when the member last had a ledger entry other than an expiry (or joined)."""
    latest = db.session.scalar(
        select(func.max(LedgerEntry.created_at)).where(
            LedgerEntry.member_id == member.id, LedgerEntry.kind != "expire"
        )
    )
    return latest or member.created_at


def expiry_candidates(cutoff: datetime) -> list[int]:
    """Return the members with points and no activity after ``cutoff``, by id."""
    recently_active = exists().where(
        LedgerEntry.member_id == Member.id,
        LedgerEntry.kind != "expire",
        LedgerEntry.created_at > cutoff,
    )
    query = (
        select(Member.id)
        .where(Member.points_balance > 0, Member.created_at <= cutoff, ~recently_active)
        .order_by(Member.id)
    )
    return list(db.session.scalars(query))


def expire_member_points(member_id: int, cutoff: datetime) -> int:
    """Expire the member's balance if they were inactive since ``cutoff``; return the points."""
    member = lock_member(member_id)
    balance = member.points_balance
    if balance <= 0:
        return 0
    since = last_activity(member)
    if since > cutoff:
        return 0
    try:
        post_ledger_entry(
            member_id,
            -balance,
            "expire",
            reference_type=INACTIVITY_REFERENCE,
            reference_id=since.isoformat(),
            reason=f"no activity since {since.date().isoformat()}",
        )
    except Problem as problem:
        if problem.type == "already-expired":
            return 0
        raise
    return balance


def _no_progress(ids: list[int]) -> AbstractContextManager[Iterable[int]]:
    return contextlib.nullcontext(ids)


def run_points_expiry(
    now: datetime | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressWrapper = _no_progress,
) -> ExpiryReport:
    """Expire the points of every inactive member, committing every ``batch_size`` members."""
    days = load_programme().expire_after_inactive_days
    if not days:
        db.session.rollback()
        return ExpiryReport(0, 0, 0)
    cutoff = (now or utcnow()) - timedelta(days=days)
    candidates = expiry_candidates(cutoff)
    db.session.commit()
    expired_members = expired_points = 0
    try:
        with progress(candidates) as member_ids:
            for done, member_id in enumerate(member_ids, start=1):
                points = expire_member_points(member_id, cutoff)
                if points:
                    expired_members += 1
                    expired_points += points
                if done % batch_size == 0:
                    db.session.commit()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return ExpiryReport(len(candidates), expired_members, expired_points)


def expiring_points(member_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Tell a member which points will expire when, if they stay inactive."""
    member = require_member(member_id)
    days = load_programme().expire_after_inactive_days
    since = last_activity(member)
    expiring: list[dict[str, Any]] = []
    if days and member.points_balance > 0:
        expiring.append(
            {"points": member.points_balance, "expires_at": since + timedelta(days=days)}
        )
    return {
        "expire_after_inactive_days": days,
        "last_activity_at": since,
        "expiring": expiring,
    }
