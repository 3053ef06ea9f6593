"""Hooks for what other parts of the programme will know about a member.

Each returns a mapping member id -> value for the members it knows something about, as of a
date; members it does not name have no data (their factor is left out of the health score).
Complaints and surveys do not exist yet and answer nothing; when one lands, its package fills in
the one function here (a query of its own tables) and the refresh, the score and the stages need
no change. Referrals exist: a referral counts as converted once it was rewarded (the referee's
qualifying purchase stayed un-refunded through the refund window, ``app.referrals``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Table, func, select

from app.extensions import db


def open_complaints_by_member(as_of: date) -> dict[int, int]:
    """Return the number of complaints still open per member (none recorded yet)."""
    return {}


def survey_scores_by_member(as_of: date) -> dict[int, float]:
    """Return each member's latest 0-10 survey answer (none recorded yet)."""
    return {}


def converted_referrals_by_member(as_of: date) -> dict[int, int]:
    """Return the number of referrals each referrer had rewarded by the end of ``as_of``."""
    # The table is read through the shared metadata, not by importing app.referrals: referrals
    # issue coupons, coupons may go to segments, segments read the lifecycle, so an import here
    # would close a cycle between the packages.
    referrals: Table = db.metadata.tables["referrals"]
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    rows = db.session.execute(
        select(referrals.c.referrer_id, func.count(referrals.c.id))
        .where(referrals.c.status == "rewarded", referrals.c.rewarded_at < end)
        .group_by(referrals.c.referrer_id)
    )
    return {int(member_id): int(count) for member_id, count in rows}
