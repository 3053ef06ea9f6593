"""The facts automations ask for, answered by the member profiles (consent and birthdays).

Registered at start-up into ``app.automations.seams``: consent comes from
``app.profiles.consent.members_with_consent`` (opt-in: no record means no consent), birthdays
from ``member_profiles.birthday``. Segments and health scores are answered by the lifecycle
package once it is part of the app (see ``seams``); until then segment-limited automations
enrol nobody and ``health_below`` finds nobody.
"""

from __future__ import annotations

from datetime import date

from flask import Flask
from sqlalchemy import extract, select

from app.automations.seams import register_birthday_source, register_consent_filter
from app.extensions import db
from app.profiles.consent import members_with_consent
from app.profiles.models import MemberProfile


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
    """Answer the automations' consent and birthday questions from the member profiles."""
    register_consent_filter(app, members_with_consent)
    register_birthday_source(app, birthdays_on)
