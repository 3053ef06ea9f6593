"""Triggers: which members an automation catches, and what counts as one occurrence.

Event triggers react to a domain event in the worker; time triggers are evaluated by
``flask --app app automations run [--as-of DATE]`` (and the worker's daily job). Every match is
a ``Match(member_id, occurrence, context)``; the enrolment's unique key includes the
occurrence, so a trigger fires at most once per member per occurrence however often it is
evaluated. What one occurrence is, per trigger:

=====================  ===========================================  =========================
trigger                params                                       occurrence
=====================  ===========================================  =========================
``member_signed_up``   –                                            ``signup``
``first_purchase``     –                                            ``first``
``purchase_booked``    ``min_amount_cents`` (optional)              ``purchase:<id>``
``stage_entered``      ``stage`` (e.g. ``at_risk``, ``lapsed``)     ``stage:<stage>:<as_of>``
``health_below``       ``score`` (0–100)                            ``health:<last purchase>``
``no_purchase_for``    ``days``                                     ``lapse:<last purchase>``
``birthday``           –                                            ``birthday:<year>``
``points_expiring``    ``days``                                     ``expiry:<expiry date>``
``near_next_tier``     ``points``                                   ``tier:<next tier>:<held>``
=====================  ===========================================  =========================

"Last purchase" episodes mean: a member who stays lapsed is caught once; after buying again
and lapsing again, once more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from app.accounts.models import Member
from app.automations import seams
from app.extensions import db
from app.ledger.expiry import expiring_points
from app.ledger.models import Purchase
from app.ledger.tiers import tier_progress
from app.outbox.service import EventEnvelope

EVENT_TRIGGERS = {
    "member_signed_up": "member.signed_up",
    "first_purchase": "purchase.booked",
    "purchase_booked": "purchase.booked",
    "stage_entered": "stage.changed",
}
TIME_TRIGGERS = ("health_below", "no_purchase_for", "birthday", "points_expiring", "near_next_tier")
TRIGGERS = (*EVENT_TRIGGERS, *TIME_TRIGGERS)

# Required parameters per trigger: name -> (minimum, maximum); "stage" is text.
TRIGGER_PARAMS: dict[str, dict[str, tuple[int, int] | None]] = {
    "member_signed_up": {},
    "first_purchase": {},
    "purchase_booked": {},
    "stage_entered": {"stage": None},
    "health_below": {"score": (1, 100)},
    "no_purchase_for": {"days": (1, 3650)},
    "birthday": {},
    "points_expiring": {"days": (1, 365)},
    "near_next_tier": {"points": (1, 1_000_000)},
}
OPTIONAL_PARAMS = {"purchase_booked": {"min_amount_cents": (0, 100_000_000)}}


@dataclass(frozen=True)
class Match:
    """A member caught by a trigger, once per ``occurrence``."""

    member_id: int
    occurrence: str
    context: Mapping[str, Any] = field(default_factory=dict)


def check_params(trigger: str, params: Mapping[str, Any]) -> str | None:
    """Return what is wrong with a trigger's parameters, or None."""
    if trigger not in TRIGGER_PARAMS:
        return f"unknown trigger {trigger!r}"
    allowed = {**TRIGGER_PARAMS[trigger], **OPTIONAL_PARAMS.get(trigger, {})}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        return f"unknown parameters for {trigger}: {', '.join(unknown)}"
    for name, bounds in allowed.items():
        if name not in params:
            if name in TRIGGER_PARAMS[trigger]:
                return f"{trigger} needs {name}"
            continue
        value = params[name]
        if bounds is None:
            if not isinstance(value, str) or not value.strip():
                return f"{name} must be a non-empty text"
        elif not isinstance(value, int) or isinstance(value, bool):
            return f"{name} must be a whole number"
        elif not bounds[0] <= value <= bounds[1]:
            return f"{name} must be from {bounds[0]} to {bounds[1]}"
    return None


def match_event(trigger: str, params: Mapping[str, Any], event: EventEnvelope) -> Match | None:
    """Return the member an event trigger catches in ``event``, or None."""
    if event.member_id is None or EVENT_TRIGGERS.get(trigger) != event.type:
        return None
    data = event.data
    if trigger == "member_signed_up":
        return Match(event.member_id, "signup")
    if trigger == "purchase_booked":
        if int(data.get("amount_cents") or 0) < int(params.get("min_amount_cents") or 0):
            return None
        return Match(event.member_id, f"purchase:{data.get('purchase_id')}", dict(data))
    if trigger == "first_purchase":
        count = db.session.scalar(
            select(func.count(Purchase.id)).where(
                Purchase.member_id == event.member_id, Purchase.id <= data.get("purchase_id")
            )
        )
        return Match(event.member_id, "first", dict(data)) if count == 1 else None
    if trigger == "stage_entered":
        if data.get("to") != params.get("stage"):
            return None
        return Match(event.member_id, f"stage:{data.get('to')}:{data.get('as_of')}", dict(data))
    return None


def _last_purchases(as_of: datetime) -> dict[int, datetime]:
    rows = db.session.execute(
        select(Purchase.member_id, func.max(Purchase.created_at))
        .where(Purchase.created_at <= as_of)
        .group_by(Purchase.member_id)
    ).all()
    return {member_id: _aware(last) for member_id, last in rows}


def _aware(moment: Any) -> datetime:
    # func.max() loses the column type on some backends: read it back as aware UTC.
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    assert isinstance(moment, datetime)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def match_time(trigger: str, params: Mapping[str, Any], as_of: datetime) -> list[Match]:
    """Return every member a time trigger catches as of ``as_of``."""
    if trigger == "no_purchase_for":
        cutoff = as_of - timedelta(days=int(params["days"]))
        return [
            Match(
                member_id,
                f"lapse:{last.date().isoformat()}",
                {"last_purchase_at": last.isoformat()},
            )
            for member_id, last in sorted(_last_purchases(as_of).items())
            if last <= cutoff
        ]
    if trigger == "health_below":
        last = _last_purchases(as_of)
        return [
            Match(
                member_id,
                f"health:{last[member_id].date().isoformat() if member_id in last else 'none'}",
                {"health_score": score},
            )
            for member_id, score in sorted(seams.health_scores(as_of).items())
            if score < int(params["score"])
        ]
    if trigger == "birthday":
        return [
            Match(member_id, f"birthday:{as_of.year}")
            for member_id in sorted(seams.birthdays_on(as_of.date()))
        ]
    if trigger == "points_expiring":
        return _points_expiring(int(params["days"]), as_of)
    if trigger == "near_next_tier":
        return _near_next_tier(int(params["points"]), as_of)
    return []


def _members_with_points() -> list[int]:
    return list(
        db.session.scalars(
            select(Member.id).where(Member.points_balance > 0, Member.blocked.is_(False))
        )
    )


def _points_expiring(days: int, as_of: datetime) -> list[Match]:
    matches = []
    for member_id in _members_with_points():
        for batch in expiring_points(member_id, as_of)["expiring"]:
            expires_at: datetime = batch["expires_at"]
            if as_of < expires_at <= as_of + timedelta(days=days):
                matches.append(
                    Match(
                        member_id,
                        f"expiry:{expires_at.date().isoformat()}",
                        {"points": batch["points"], "expires_at": expires_at.isoformat()},
                    )
                )
                break
    return matches


def _near_next_tier(points: int, as_of: datetime) -> list[Match]:
    matches = []
    for member_id in _members_with_points():
        progress = tier_progress(member_id, as_of)
        upcoming = progress["next"]
        if upcoming is None or not 0 < progress["points_needed"] <= points:
            continue
        matches.append(
            Match(
                member_id,
                f"tier:{upcoming['code']}:{progress['held_until'][:10]}",
                {"next_tier": upcoming["code"], "points_needed": progress["points_needed"]},
            )
        )
    return matches
