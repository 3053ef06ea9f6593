"""Segments: create, change and delete rule trees; count and list who they select.

Functions take plain values, ``flush()`` and never commit. Membership is always computed in
SQL from the stored rules (``app.segments.rules``) at the moment of use: the preview, the
member list, the CSV and a campaign's audience all run the same query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member
from app.db import iso_or_none, utcnow
from app.errors import DomainError
from app.extensions import db
from app.segments.models import Segment
from app.segments.rules import condition_for, segment_query, validate_rules


def unknown_segment(segment_id: int) -> DomainError:
    """Return the problem for a segment id that does not exist."""
    return DomainError("unknown-segment", f"There is no segment {segment_id}.")


def get_segment(segment_id: int) -> Segment:
    """Return a segment, or refuse with ``unknown-segment``."""
    segment = db.session.get(Segment, segment_id)
    if segment is None:
        raise unknown_segment(segment_id)
    return segment


def list_segments() -> Sequence[Segment]:
    """List the segments by name."""
    return db.session.scalars(select(Segment).order_by(Segment.name, Segment.id)).all()


def _name_taken(name: str) -> DomainError:
    return DomainError("segment-name-taken", f"A segment named {name!r} exists.")


def create_segment(
    name: str, rules: Mapping[str, Any], description: str | None, staff_id: int | None
) -> Segment:
    """Store a new segment after checking its rules."""
    segment = Segment(
        name=name.strip(),
        description=description,
        rules=validate_rules(rules),
        created_by=staff_id,
    )
    try:
        with db.session.begin_nested():
            db.session.add(segment)
    except IntegrityError:
        raise _name_taken(segment.name) from None
    return segment


def update_segment(
    segment_id: int, name: str, rules: Mapping[str, Any], description: str | None
) -> Segment:
    """Replace a segment's name, description and rules."""
    segment = get_segment(segment_id)
    checked = validate_rules(rules)
    try:
        with db.session.begin_nested():
            segment.name = name.strip()
            segment.description = description
            segment.rules = checked
            segment.updated_at = utcnow()
    except IntegrityError:
        raise _name_taken(name.strip()) from None
    return segment


def delete_segment(segment_id: int) -> None:
    """Delete a segment (campaigns already sent to it keep their coupons)."""
    db.session.delete(get_segment(segment_id))
    db.session.flush()


def segment_condition(segment_id: int, now: datetime | None = None) -> ColumnElement[bool]:
    """Return the SQL condition that selects a stored segment's members."""
    return condition_for(get_segment(segment_id).rules, now or utcnow())


def count_matching(rules: Mapping[str, Any], now: datetime | None = None) -> int:
    """Count the members a rule tree selects now (the preview)."""
    subquery = segment_query(validate_rules(rules), now or utcnow()).subquery()
    return int(db.session.scalar(select(func.count()).select_from(subquery)) or 0)


def segment_member_ids(segment_id: int, limit: int | None = None) -> list[int]:
    """Return the ids of a segment's members, in id order (at most ``limit``)."""
    query = segment_query(get_segment(segment_id).rules, utcnow()).order_by(Member.id)
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


def segment_view(segment: Segment, size: int | None = None) -> dict[str, Any]:
    """Return a segment as the API shows it."""
    return {
        "segment_id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "rules": segment.rules,
        "size": size if size is not None else count_matching(segment.rules),
        "created_at": iso_or_none(segment.created_at),
        "updated_at": iso_or_none(segment.updated_at),
        "created_by_staff_id": segment.created_by,
    }


def segment_audience(segment_id: int, max_members: int) -> list[int]:
    """Return a segment's member ids as a campaign audience (not empty, not above the limit)."""
    member_ids = segment_member_ids(segment_id, limit=max_members + 1)
    if not member_ids:
        raise DomainError("segment-empty", f"Segment {segment_id} selects no one now.")
    if len(member_ids) > max_members:
        raise DomainError(
            "segment-too-large",
            f"A member campaign reaches at most {max_members} members; narrow the segment.",
            max_members=max_members,
        )
    return member_ids
