"""The facts automations ask for: consent, birthdays, segments and health scores.

Registered at start-up into ``app.automations.seams``: consent comes from
``app.profiles.consent.members_with_consent`` (opt-in: no record means no consent), birthdays
from ``member_profiles.birthday``, segment membership from the segment's own SQL condition
(``app.segments.service.segment_condition``, evaluated in the database for the candidates
only), and health scores from the last lifecycle refresh (``member_lifecycle``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from flask import Flask
from sqlalchemy import extract, select

from app.accounts.models import Member
from app.automations.seams import (
    register_birthday_source,
    register_consent_filter,
    register_health_source,
    register_segment_filter,
)
from app.extensions import db
from app.lifecycle.models import MemberLifecycle
from app.profiles.consent import members_with_consent
from app.profiles.models import MemberProfile
from app.segments.service import segment_condition


def members_in_segment(segment_id: int, member_ids: Sequence[int], as_of: datetime) -> set[int]:
    """Return the members of ``member_ids`` a stored segment selects."""
    if not member_ids:
        return set()
    return set(
        db.session.scalars(
            select(Member.id).where(
                Member.id.in_(list(member_ids)), segment_condition(segment_id, as_of)
            )
        )
    )


def health_scores(as_of: datetime) -> dict[int, int]:
    """Return each member's health score from the last lifecycle refresh."""
    rows = db.session.execute(select(MemberLifecycle.member_id, MemberLifecycle.health_score))
    return {int(member_id): int(score) for member_id, score in rows}


def birthdays_on(day: date) -> list[int]:
    """Return the members whose birthday (month and day) is ``day``."""
    return list(
        db.session.scalars(
            select(MemberProfile.member_id).where(
                extract("month", MemberProfile.birthday) == day.month,
                extract("day", MemberProfile.birthday) == day.day,
            )
        )
    )


def install_profile_sources(app: Flask) -> None:
    """Answer the automations' consent, birthday, segment and health questions."""
    register_consent_filter(app, members_with_consent)
    register_birthday_source(app, birthdays_on)
    register_segment_filter(app, members_in_segment)
    register_health_source(app, health_scores)
