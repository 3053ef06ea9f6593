"""Asking whether a member agreed to a purpose, at send time.

``has_consent(member_id, "marketing")`` is what every message and automation calls right before
it sends: it reads the newest consent record of that purpose (at ``at``, default now), so a
withdrawal counts from the moment it is recorded, even for a message queued earlier. No record
means no consent: consent is opt-in. An erased member never has consent.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.profiles.models import CONSENT_PURPOSES, ConsentRecord


def has_consent(member_id: int, purpose: str, at: datetime | None = None) -> bool:
    """Tell whether the member had consented to ``purpose`` at ``at`` (default: now)."""
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    granted = db.session.scalar(
        select(ConsentRecord.granted)
        .where(
            ConsentRecord.member_id == member_id,
            ConsentRecord.purpose == purpose,
            ConsentRecord.recorded_at <= (at or utcnow()),
        )
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(granted)


def members_with_consent(member_ids: list[int], purpose: str) -> set[int]:
    """Return which of ``member_ids`` consent to ``purpose`` now (one query for a batch)."""
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    newest: dict[int, bool] = {}
    rows = db.session.execute(
        select(ConsentRecord.member_id, ConsentRecord.granted)
        .where(
            ConsentRecord.member_id.in_(member_ids),
            ConsentRecord.purpose == purpose,
            ConsentRecord.recorded_at <= utcnow(),
        )
        .order_by(ConsentRecord.recorded_at, ConsentRecord.id)
    )
    for member_id, granted in rows:
        newest[member_id] = granted
    return {member_id for member_id, granted in newest.items() if granted}
