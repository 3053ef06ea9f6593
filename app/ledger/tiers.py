"""Status tiers: a ladder of levels reached by points earned in a rolling window.

A manager sets the ladder (``base`` at 0 points, say ``silver`` at 500, ``gold`` at 2000), each
level with a multiplier on earning and a list of benefits, plus two periods:

* the **rolling window** (``tier_window_days``, default 365): a member's *qualifying points*
  are the points of their ``earn`` and ``refund`` entries dated inside it (bonus points,
  rewards, adjustments and expiry do not count; a refund lowers them);
* the **qualification period** (``tier_period_months``, default 12; 1, 2, 3, 4, 6 or 12),
  calendar-aligned in UTC: 12 months are calendar years, 3 are quarters.

Rules (``decide_tier``, a pure function):

* **Upgrade at once.** When qualifying points reach a higher level, the member has it from
  that moment (the purchase that crosses the threshold still earns at the old multiplier; the
  next one earns at the new).
* **Downgrade only at the end of a period.** At each period boundary the member's level is
  set to what the qualifying points in the window ending at the boundary are worth; that level
  (``period_tier``) is held until the next boundary, whatever happens to the window meanwhile.
* **A refund can take back an upgrade it paid for.** If the member rose above ``period_tier``
  during the current period and a refund leaves too few qualifying points for that level, they
  fall back to the higher of ``period_tier`` and what the points still reach. Without this,
  "buy a lot, reach gold, return it all" would buy gold for free until the period ends.

Evaluation is lazy and idempotent: ``refresh_tier`` runs after every earning and refund, when
``/api/v1/me`` is read, and from ``flask --app app points review-tiers`` (for reports on members
who stay away). It writes only when something changed, under the member's row lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from app.accounts.models import Member
from app.db import utcnow
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.earning import Programme, load_programme, save_programme
from app.ledger.models import LedgerEntry, MemberTierStatus, Tier
from app.ledger.service import lock_member
from app.settings_cache import bump_version, cached_setting

QUALIFYING_KINDS = ("earn", "refund")
LADDER_SETTINGS_NAME = "tier-ladder"
PERIOD_MONTHS = (1, 2, 3, 4, 6, 12)


@dataclass(frozen=True)
class TierLevel:
    """One level of the ladder."""

    code: str
    name: str
    threshold_points: int
    multiplier_percent: int = 100
    benefits: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the level as JSON-ready data."""
        return {
            "code": self.code,
            "name": self.name,
            "threshold_points": self.threshold_points,
            "multiplier_percent": self.multiplier_percent,
            "benefits": list(self.benefits),
        }


DEFAULT_LADDER = (TierLevel("base", "Base", 0),)


@dataclass(frozen=True)
class TierLadder:
    """The levels, lowest first; the lowest needs 0 points."""

    levels: tuple[TierLevel, ...] = DEFAULT_LADDER

    @property
    def lowest(self) -> TierLevel:
        """Return the level everyone has."""
        return self.levels[0]

    def get(self, code: str) -> TierLevel:
        """Return the level with this code (a code no longer on the ladder counts as lowest)."""
        return next((level for level in self.levels if level.code == code), self.lowest)

    def rank(self, level: TierLevel) -> int:
        """Return the position of a level, 0 for the lowest."""
        return self.levels.index(level)

    def qualified(self, points: int) -> TierLevel:
        """Return the highest level these qualifying points reach."""
        reached = [level for level in self.levels if points >= level.threshold_points]
        return reached[-1] if reached else self.lowest

    def above(self, level: TierLevel) -> TierLevel | None:
        """Return the next level up, or None at the top."""
        rank = self.rank(level)
        return self.levels[rank + 1] if rank + 1 < len(self.levels) else None

    def higher(self, first: TierLevel, second: TierLevel) -> TierLevel:
        """Return the higher of two levels."""
        return first if self.rank(first) >= self.rank(second) else second


@dataclass(frozen=True)
class TierStanding:
    """What is remembered per member: the period last reviewed and the tier confirmed for it."""

    period_start: datetime
    period_tier: str
    gained_at: datetime | None = None


@dataclass(frozen=True)
class TierDecision:
    """The member's level now and the standing to remember."""

    tier: TierLevel
    standing: TierStanding


PointsBetween = Callable[[datetime, datetime | None], int]


def period_start(moment: datetime, months: int) -> datetime:
    """Return the start of the calendar-aligned qualification period holding ``moment``."""
    moment = moment.astimezone(UTC)
    first_month = (moment.month - 1) // months * months + 1
    return datetime(moment.year, first_month, 1, tzinfo=UTC)


def period_end(start: datetime, months: int) -> datetime:
    """Return the start of the period after the one starting at ``start``."""
    month_index = start.year * 12 + start.month - 1 + months
    return datetime(month_index // 12, month_index % 12 + 1, 1, tzinfo=UTC)


def decide_tier(
    current_code: str,
    standing: TierStanding | None,
    ladder: TierLadder,
    *,
    window: timedelta,
    period_months: int,
    now: datetime,
    points_between: PointsBetween,
    after_refund: bool = False,
) -> TierDecision:
    """Decide a member's level now: upgrade at once, downgrade only at a period boundary."""
    this_period = period_start(now, period_months)
    if standing is not None and standing.period_start < this_period:
        # One or more boundaries passed since the last review: the latest one decides.
        at_boundary = ladder.qualified(points_between(this_period - window, this_period))
        standing = TierStanding(this_period, at_boundary.code)
        current = at_boundary
    else:
        current = ladder.get(current_code)
        if standing is None:
            standing = TierStanding(this_period, current.code)
    qualified_now = ladder.qualified(points_between(now - window, None))
    gained_at = standing.gained_at
    if after_refund and gained_at is not None and ladder.rank(qualified_now) < ladder.rank(current):
        period_level = ladder.get(standing.period_tier)
        current = ladder.higher(period_level, qualified_now)
        if current == period_level:
            gained_at = None
    if ladder.rank(qualified_now) > ladder.rank(current):
        current, gained_at = qualified_now, now
    return TierDecision(
        current, TierStanding(standing.period_start, standing.period_tier, gained_at)
    )


# --- database side -----------------------------------------------------------------------------


def load_ladder() -> TierLadder:
    """Return the ladder in force (cached per process; see ``app.settings_cache``)."""
    return cached_setting(LADDER_SETTINGS_NAME, _read_ladder)


def _read_ladder() -> TierLadder:
    """Read the ladder (a single ``base`` level until a manager sets one)."""
    tiers = db.session.scalars(select(Tier).order_by(Tier.threshold_points)).all()
    if not tiers:
        return TierLadder()
    return TierLadder(
        tuple(
            TierLevel(t.code, t.name, t.threshold_points, t.multiplier_percent, tuple(t.benefits))
            for t in tiers
        )
    )


_QUALIFYING_SINCE = select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
    LedgerEntry.member_id == bindparam("member_id"),
    LedgerEntry.kind.in_(QUALIFYING_KINDS),
    LedgerEntry.created_at >= bindparam("since"),
)
_QUALIFYING_BETWEEN = _QUALIFYING_SINCE.where(LedgerEntry.created_at < bindparam("until"))


def qualifying_points(member_id: int, since: datetime, until: datetime | None = None) -> int:
    """Sum the member's earn and refund points dated from ``since`` (to before ``until``)."""
    query = _QUALIFYING_SINCE if until is None else _QUALIFYING_BETWEEN
    params = {"member_id": member_id, "since": since, "until": until}
    return int(db.session.connection().execute(query, params).scalar() or 0)


# A purchase's first tier review in one statement: the member's standing and the qualifying
# points of the window that ends now.
_STATUS_AND_POINTS = (
    select(
        MemberTierStatus.period_start,
        MemberTierStatus.period_tier,
        MemberTierStatus.gained_at,
        _QUALIFYING_SINCE.scalar_subquery().label("points"),
    )
    .select_from(Member)
    .outerjoin(MemberTierStatus, MemberTierStatus.member_id == Member.id)
    .where(Member.id == bindparam("member_id"))
)


class QualifyingPoints:
    """A member's qualifying points per window, summed once and kept current by the caller.

    A purchase reviews the tier before and after it earns; the second review needs the same
    sum plus the points just earned, so the caller ``add``s them instead of summing again. The
    member's tier status row is read once for both reviews too (``status``), and, when the
    caller names the window that ends now (``window_since``), in the same statement as that
    window's sum.
    """

    def __init__(self, member_id: int, window_since: datetime | None = None) -> None:
        self.member_id = member_id
        self.window_since = window_since
        self._sums: dict[tuple[datetime, datetime | None], int] = {}
        self._status: tuple[MemberTierStatus | None] | None = None

    def status(self) -> MemberTierStatus | None:
        """Return the member's tier status row (read on the first call; ``None``: no row)."""
        if self._status is None:
            self._status = (self._read_status(),)
        return self._status[0]

    def _read_status(self) -> MemberTierStatus | None:
        known = db.session.identity_map.get(identity_key(MemberTierStatus, self.member_id))
        if self.window_since is None or known is not None:
            return db.session.get(MemberTierStatus, self.member_id)
        found = (
            db.session.connection()
            .execute(_STATUS_AND_POINTS, {"member_id": self.member_id, "since": self.window_since})
            .one()
        )
        self._sums[(self.window_since, None)] = int(found.points)
        if found.period_start is None:
            return None
        # The row as the session would have loaded it: persistent, clean, no second query.
        row = MemberTierStatus(
            member_id=self.member_id,
            period_start=found.period_start,
            period_tier=found.period_tier,
            gained_at=found.gained_at,
        )
        make_transient_to_detached(row)
        db.session.add(row)
        return row

    def status_written(self, row: MemberTierStatus) -> None:
        """Remember the row a review wrote, for the next review."""
        self._status = (row,)

    def __call__(self, since: datetime, until: datetime | None) -> int:
        """Return the qualifying points dated from ``since`` (to before ``until``)."""
        if (since, until) not in self._sums:
            self._sums[(since, until)] = qualifying_points(self.member_id, since, until)
        return self._sums[(since, until)]

    def add(self, points: int) -> None:
        """Count qualifying points posted just now (they fall in every window still open)."""
        for since, until in self._sums:
            if until is None:
                self._sums[(since, until)] += points


def _standing_of(row: MemberTierStatus | None) -> TierStanding | None:
    if row is None:
        return None
    return TierStanding(row.period_start, row.period_tier, row.gained_at)


def _decide(
    member: Member,
    row: MemberTierStatus | None,
    ladder: TierLadder,
    programme: Programme,
    now: datetime,
    after_refund: bool,
    points: PointsBetween | None = None,
) -> TierDecision:
    return decide_tier(
        member.tier,
        _standing_of(row),
        ladder,
        window=timedelta(days=programme.tier_window_days),
        period_months=programme.tier_period_months,
        now=now,
        points_between=points or (lambda since, until: qualifying_points(member.id, since, until)),
        after_refund=after_refund,
    )


def _needs_write(
    member: Member, row: MemberTierStatus | None, decision: TierDecision, ladder: TierLadder
) -> bool:
    if member.tier != decision.tier.code:
        return True
    if row is None:
        # Holding the lowest level needs no record: there is nothing to lose at a boundary.
        return decision.tier != ladder.lowest
    return _standing_of(row) != decision.standing


def refresh_tier(
    member_id: int,
    *,
    now: datetime | None = None,
    after_refund: bool = False,
    member_locked: bool = False,
    member: Member | None = None,
    points: QualifyingPoints | None = None,
) -> TierLevel:
    """Bring the member's tier up to date and return it; writes only when it changed.

    ``member_locked`` says the caller holds the member's row lock; it may pass the row it
    locked as ``member`` so it is not read again.
    """
    now = now or utcnow()
    programme = load_programme()
    ladder = load_ladder()
    if member is None:
        member = lock_member(member_id) if member_locked else db.session.get(Member, member_id)
    if member is None:
        return ladder.lowest
    row = points.status() if points is not None else db.session.get(MemberTierStatus, member_id)
    decision = _decide(member, row, ladder, programme, now, after_refund, points)
    if not _needs_write(member, row, decision, ladder):
        return decision.tier
    if not member_locked:
        # Decide again under the row lock: a concurrent request may have changed things.
        member = lock_member(member_id)
        row = db.session.get(MemberTierStatus, member_id, populate_existing=True)
        decision = _decide(member, row, ladder, programme, now, after_refund)
    if member.tier != decision.tier.code:
        publish(
            DomainEvent(
                "tier.changed",
                {"from": member.tier, "to": decision.tier.code},
                member_id=member.id,
            )
        )
    member.tier = decision.tier.code
    if row is None:
        row = MemberTierStatus(member_id=member_id)
        db.session.add(row)
    row.period_start = decision.standing.period_start
    row.period_tier = decision.standing.period_tier
    row.gained_at = decision.standing.gained_at
    db.session.flush()
    if points is not None:
        points.status_written(row)
    return decision.tier


def tier_progress(member_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Return (JSON-ready) the member's tier, the next one and the points still needed."""
    now = now or utcnow()
    programme = load_programme()
    ladder = load_ladder()
    current = refresh_tier(member_id, now=now)
    points = qualifying_points(member_id, now - timedelta(days=programme.tier_window_days))
    upcoming = ladder.above(current)
    return {
        "current": current.to_dict(),
        "next": None
        if upcoming is None
        else {
            "code": upcoming.code,
            "name": upcoming.name,
            "threshold_points": upcoming.threshold_points,
        },
        "points_in_window": points,
        "points_needed": 0 if upcoming is None else max(0, upcoming.threshold_points - points),
        "window_days": programme.tier_window_days,
        "held_until": period_end(
            period_start(now, programme.tier_period_months), programme.tier_period_months
        ).isoformat(),
    }


def tier_settings_view() -> dict[str, Any]:
    """Return the ladder and its periods as the API shows them."""
    programme = load_programme()
    return {
        "window_days": programme.tier_window_days,
        "qualification_period_months": programme.tier_period_months,
        "tiers": [level.to_dict() for level in load_ladder().levels],
    }


def replace_tier_ladder(
    staff_id: int | None,
    levels: Sequence[dict[str, Any]],
    window_days: int,
    qualification_period_months: int,
) -> dict[str, Any]:
    """Replace the ladder and its periods as a whole (members are re-evaluated lazily)."""
    save_programme(
        staff_id, tier_window_days=window_days, tier_period_months=qualification_period_months
    )
    db.session.execute(delete(Tier))
    db.session.add_all(
        Tier(
            code=level["code"],
            name=level["name"],
            threshold_points=level["threshold_points"],
            multiplier_percent=level["multiplier_percent"],
            benefits=list(level["benefits"]),
        )
        for level in levels
    )
    db.session.flush()
    bump_version(LADDER_SETTINGS_NAME)
    return tier_settings_view()


def members_to_review() -> list[int]:
    """Return the members whose tier a period boundary might change."""
    lowest = load_ladder().lowest.code
    query = (
        select(Member.id)
        .outerjoin(MemberTierStatus, MemberTierStatus.member_id == Member.id)
        .where(or_(Member.tier != lowest, MemberTierStatus.member_id.is_not(None)))
        .order_by(Member.id)
    )
    return list(db.session.scalars(query))
