"""Hooks for what other parts of the programme will know about a member.

Each returns a mapping member id -> value for the members it knows something about, as of a
date; members it does not name have no data (their factor is left out of the health score).
They answer nothing today: complaints, surveys and referrals are built by other work. When one
of them lands, its package fills in the one function here (a query of its own tables); the
refresh, the score and the stages need no change.
"""

from __future__ import annotations

from datetime import date


def open_complaints_by_member(as_of: date) -> dict[int, int]:
    """Return the number of complaints still open per member (none recorded yet)."""
    return {}


def survey_scores_by_member(as_of: date) -> dict[int, float]:
    """Return each member's latest 0-10 survey answer (none recorded yet)."""
    return {}


def converted_referrals_by_member(as_of: date) -> dict[int, int]:
    """Return the number of converted referrals per member (0 until referrals exist)."""
    return {}
