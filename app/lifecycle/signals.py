"""Hooks for what other parts of the programme will know about a member.

Each returns a mapping member id -> value for the members it knows something about, as of a
date; members it does not name have no data (their factor is left out of the health score).
Open complaints and survey answers come from the feedback package's tables (``app.feedback``);
the refresh, the score and the stages only see the mappings. A referral counts as converted
once it was rewarded (the referee's qualifying purchase stayed un-refunded through the refund
window, ``app.referrals``). Those tables are read through the shared metadata rather than by
importing their packages: they register with the privacy package, which reads the lifecycle's
tables, so an import here would close a cycle between the packages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Table, func, select

from app.extensions import db


def _end_of(as_of: date) -> datetime:
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)


def open_complaints_by_member(as_of: date) -> dict[int, int]:
    """Return the number of complaints open per member (recorded by the end of ``as_of``)."""
    complaints: Table = db.metadata.tables["complaints"]
    rows = db.session.execute(
        select(complaints.c.member_id, func.count(complaints.c.id))
        .where(complaints.c.status == "open", complaints.c.created_at < _end_of(as_of))
        .group_by(complaints.c.member_id)
    )
    return {int(member_id): int(count) for member_id, count in rows}


def survey_scores_by_member(as_of: date) -> dict[int, float]:
    """Return each member's latest 0-10 survey answer up to the end of ``as_of``."""
    responses: Table = db.metadata.tables["survey_responses"]
    rows = db.session.execute(
        select(responses.c.member_id, responses.c.score)
        .where(responses.c.answered_at < _end_of(as_of))
        .order_by(responses.c.answered_at, responses.c.id)
    )
    return {int(member_id): float(score) for member_id, score in rows}  # the latest wins


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
