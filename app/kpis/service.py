"""KPIs for managers and admins: every figure one SQL aggregate, defined in ``docs/kpis.md``.

A period is ``[start, end]``, whole UTC days, both included. A manager sees their own stores
(all of them, or the one named by ``store_id``); an admin sees the whole programme or one
store. With a store scope, purchase-based figures count purchases in those stores, member
figures count the members who bought there at least once, and points figures count entries
booked there; points outstanding and the liability are programme-wide, because points are not
tied to a store.

Rates are fractions 0-1 (``None`` when their denominator is 0). Money is integer cents.
``docs/kpis.md`` gives the exact definition of every figure; the tests check them against
hand-computed values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, case, extract, func, select, true

from app.accounts.models import Member, StaffAccount, StaffRole
from app.campaigns.models import Campaign, Coupon, Redemption
from app.errors import DomainError, Problem
from app.extensions import db
from app.fraud.models import Attempt
from app.ledger.models import LedgerEntry, Purchase
from app.lifecycle.models import STAGES, MemberLifecycle, MemberStageChange
from app.stores.models import Store

DEFAULT_PERIOD_DAYS = 30
MAX_PERIOD_DAYS = 3 * 366
MAX_COHORTS = 24
DEFAULT_ACTIVE_DAYS = 90
DEFAULT_POINT_VALUE_CENTS = 1.0


@dataclass(frozen=True)
class Period:
    """The days a report covers and the stores it looks at (``None``: the whole programme)."""

    start: date
    end: date
    store_ids: tuple[int, ...] | None

    @property
    def begins(self) -> datetime:
        """Return the first moment of the period (UTC)."""
        return datetime.combine(self.start, time(), tzinfo=UTC)

    @property
    def ends(self) -> datetime:
        """Return the first moment after the period (UTC)."""
        return datetime.combine(self.end + timedelta(days=1), time(), tzinfo=UTC)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report_period(
    staff_id: int, start: date | None, end: date | None, store_id: int | None
) -> Period:
    """Return the period and store scope this staff member may see, or refuse."""
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end or (end - start).days >= MAX_PERIOD_DAYS:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            f"start must not be after end, and a period spans at most {MAX_PERIOD_DAYS} days.",
            errors={"query": {"start": ["Invalid period."]}},
        )
    staff = db.session.get(StaffAccount, staff_id)
    if staff is None or not staff.active:
        raise DomainError("forbidden", "This staff account is not active.")
    if store_id is not None and db.session.get(Store, store_id) is None:
        raise DomainError("unknown-store", f"There is no store {store_id}.")
    if staff.role == StaffRole.ADMIN:
        return Period(start, end, (store_id,) if store_id is not None else None)
    if store_id is not None:
        if not staff.works_in(store_id):
            raise DomainError("forbidden", "Managers see their own stores only.")
        return Period(start, end, (store_id,))
    return Period(start, end, tuple(staff.store_ids))


def _in_stores(column: Any, period: Period) -> ColumnElement[bool]:
    return true() if period.store_ids is None else column.in_(period.store_ids)


def _member_scope(period: Period) -> ColumnElement[bool]:
    """Members of the scope: everyone, or those who bought in the scoped stores."""
    if period.store_ids is None:
        return true()
    buyers = select(Purchase.member_id).where(Purchase.store_id.in_(period.store_ids))
    return Member.id.in_(buyers)


def _count(query: Select[Any]) -> int:
    return int(db.session.scalar(query) or 0)


def _buyers(period: Period, since: datetime | None, until: datetime) -> Select[tuple[int]]:
    query = select(Purchase.member_id).where(
        Purchase.created_at < until, _in_stores(Purchase.store_id, period)
    )
    if since is not None:
        query = query.where(Purchase.created_at >= since)
    return query.distinct()


def member_figures(period: Period) -> dict[str, int]:
    """Members in all, new in the period, and active in the 30 and 90 days up to its end."""
    scope = _member_scope(period)
    total = _count(select(func.count(Member.id)).where(Member.created_at < period.ends, scope))
    new = _count(
        select(func.count(Member.id)).where(
            Member.created_at >= period.begins, Member.created_at < period.ends, scope
        )
    )

    def active(days: int) -> int:
        since = period.ends - timedelta(days=days)
        return _count(
            select(func.count()).select_from(_buyers(period, since, period.ends).subquery())
        )

    return {"total": total, "new": new, "active_30d": active(30), "active_90d": active(90)}


def stage_figures(period: Period) -> dict[str, Any]:
    """Stage counts from the latest refresh, and the flows between stages in the period."""
    scope = _member_scope(period)
    counts = dict.fromkeys(STAGES, 0)
    rows = db.session.execute(
        select(MemberLifecycle.stage, func.count())
        .join(Member, Member.id == MemberLifecycle.member_id)
        .where(scope)
        .group_by(MemberLifecycle.stage)
    ).all()
    counts.update({str(stage): int(count) for stage, count in rows})
    as_of = db.session.scalar(select(func.max(MemberLifecycle.as_of)))
    flows = db.session.execute(
        select(MemberStageChange.from_stage, MemberStageChange.to_stage, func.count())
        .join(Member, Member.id == MemberStageChange.member_id)
        .where(
            MemberStageChange.as_of >= period.start,
            MemberStageChange.as_of <= period.end,
            MemberStageChange.from_stage.is_not(None),
            scope,
        )
        .group_by(MemberStageChange.from_stage, MemberStageChange.to_stage)
        .order_by(func.count().desc(), MemberStageChange.from_stage, MemberStageChange.to_stage)
    ).all()
    return {
        "as_of": as_of.isoformat() if as_of else None,
        "counts": counts,
        "flows": [{"from": f, "to": t, "members": int(n)} for f, t, n in flows],
    }


def churn_figures(period: Period, active_days: int) -> dict[str, Any]:
    """Churn and win-back over the period, with ``active_days`` as the activity window."""
    window_start = period.begins - timedelta(days=active_days)
    active_at_start = _buyers(period, window_start, period.begins)
    ever_before = _buyers(period, None, window_start)
    bought_in_period = _buyers(period, period.begins, period.ends)

    def count_members(*conditions: ColumnElement[bool]) -> int:
        return _count(select(func.count(Member.id)).where(*conditions))

    active = count_members(Member.id.in_(active_at_start))
    retained = count_members(Member.id.in_(active_at_start), Member.id.in_(bought_in_period))
    lapsed = count_members(Member.id.in_(ever_before), Member.id.not_in(active_at_start))
    won_back = count_members(
        Member.id.in_(ever_before),
        Member.id.not_in(active_at_start),
        Member.id.in_(bought_in_period),
    )
    return {
        "active_days": active_days,
        "active_at_start": active,
        "churned": active - retained,
        "churn_rate": _rate(active - retained, active),
        "lapsed_at_start": lapsed,
        "won_back": won_back,
        "win_back_rate": _rate(won_back, lapsed),
    }


def purchase_figures(period: Period) -> dict[str, Any]:
    """Receipts, buyers, repeat buyers, revenue, average basket and visits per buyer."""
    per_member = (
        select(
            Purchase.member_id,
            func.count(Purchase.id).label("receipts"),
            func.sum(Purchase.amount_cents - Purchase.refunded_cents).label("revenue"),
        )
        .where(
            Purchase.created_at >= period.begins,
            Purchase.created_at < period.ends,
            _in_stores(Purchase.store_id, period),
        )
        .group_by(Purchase.member_id)
        .subquery()
    )
    buyers, repeat, receipts, revenue = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((per_member.c.receipts >= 2, 1), else_=0)), 0),
            func.coalesce(func.sum(per_member.c.receipts), 0),
            func.coalesce(func.sum(per_member.c.revenue), 0),
        )
    ).one()
    buyers, repeat, receipts, revenue = int(buyers), int(repeat), int(receipts), int(revenue)
    return {
        "receipts": receipts,
        "buyers": buyers,
        "repeat_buyers": repeat,
        "repeat_purchase_rate": _rate(repeat, buyers),
        "revenue_cents": revenue,
        "average_basket_cents": round(revenue / receipts) if receipts else None,
        "visits_per_active_member": round(receipts / buyers, 2) if buyers else None,
    }


def points_figures(period: Period, point_value_cents: float) -> dict[str, Any]:
    """Points issued, redeemed, expired, refunded and adjusted; outstanding and the liability."""
    sums = dict.fromkeys(("earn", "bonus", "reward", "expire", "refund", "adjust", "reversal"), 0)
    rows = db.session.execute(
        select(LedgerEntry.kind, func.sum(LedgerEntry.points))
        .where(
            LedgerEntry.created_at >= period.begins,
            LedgerEntry.created_at < period.ends,
            _in_stores(LedgerEntry.store_id, period),
        )
        .group_by(LedgerEntry.kind)
    ).all()
    sums.update({str(kind): int(total or 0) for kind, total in rows})
    outstanding = _count(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.created_at < period.ends
        )
    )
    year_before = period.ends - timedelta(days=365)
    spent_or_lost: dict[str, int] = {
        str(kind): int(total or 0)
        for kind, total in db.session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.points))
            .where(
                LedgerEntry.kind.in_(("reward", "expire")),
                LedgerEntry.created_at >= year_before,
                LedgerEntry.created_at < period.ends,
            )
            .group_by(LedgerEntry.kind)
        )
    }
    expired_year = -spent_or_lost.get("expire", 0)
    redeemed_year = -spent_or_lost.get("reward", 0)
    breakage = _rate(expired_year, expired_year + redeemed_year)
    liability = round(max(outstanding, 0) * point_value_cents)
    return {
        "issued": sums["earn"] + sums["bonus"],
        "redeemed": -sums["reward"],
        "expired": -sums["expire"],
        "taken_back_by_refunds": -sums["refund"],
        "adjusted": sums["adjust"] + sums["reversal"],
        "outstanding": outstanding,
        "point_value_cents": point_value_cents,
        "liability_cents": liability,
        "breakage_rate": breakage,
        "liability_after_breakage_cents": round(liability * (1 - (breakage or 0.0))),
    }


def coupon_figures(period: Period) -> list[dict[str, Any]]:
    """Per campaign created by the period's end: coupons issued, redeemed, and the rate."""
    live = and_(Redemption.reversed_at.is_(None), _in_stores(Redemption.store_id, period))
    in_period = and_(Redemption.redeemed_at >= period.begins, Redemption.redeemed_at < period.ends)
    redeemed = func.count(Redemption.id).filter(live, Redemption.redeemed_at < period.ends)
    redeemed_in_period = func.count(Redemption.id).filter(live, in_period)
    rows = db.session.execute(
        select(Campaign.id, Campaign.name, Campaign.code_count, redeemed, redeemed_in_period)
        .outerjoin(Coupon, Coupon.campaign_id == Campaign.id)
        .outerjoin(Redemption, Redemption.coupon_id == Coupon.id)
        .where(Campaign.created_at < period.ends)
        .group_by(Campaign.id, Campaign.name, Campaign.code_count)
        .order_by(Campaign.id)
    ).all()
    return [
        {
            "campaign_id": campaign_id,
            "name": name,
            "issued": int(issued),
            "redeemed": int(total),
            "redeemed_in_period": int(recent),
            "redemption_rate": _rate(int(total), int(issued)),
        }
        for campaign_id, name, issued, total, recent in rows
    ]


def refusal_figures(period: Period) -> dict[str, int]:
    """Refused till attempts in the period, by problem type."""
    rows = db.session.execute(
        select(Attempt.refusal_type, func.count())
        .where(
            Attempt.outcome == "refused",
            Attempt.occurred_at >= period.begins,
            Attempt.occurred_at < period.ends,
            _in_stores(Attempt.store_id, period),
        )
        .group_by(Attempt.refusal_type)
        .order_by(func.count().desc())
    ).all()
    return {str(kind or "unknown"): int(count) for kind, count in rows}


def _month_index(column: Any) -> Any:
    return extract("year", column) * 12 + extract("month", column) - 1


def _month_name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def cohort_figures(period: Period) -> list[dict[str, Any]]:
    """Monthly sign-up cohorts of the period: the share still buying N months later."""
    first_month = period.start.year * 12 + period.start.month - 1
    last_month = period.end.year * 12 + period.end.month - 1
    first_month = max(first_month, last_month - MAX_COHORTS + 1)
    cohort_start = datetime(first_month // 12, first_month % 12 + 1, 1, tzinfo=UTC)
    cohort = _month_index(Member.created_at)
    in_cohorts = and_(
        Member.created_at >= cohort_start, Member.created_at < period.ends, _member_scope(period)
    )
    sizes = {
        int(month): int(size)
        for month, size in db.session.execute(
            select(cohort, func.count(Member.id)).where(in_cohorts).group_by(cohort)
        )
    }
    bought = _month_index(Purchase.created_at)
    cells = {
        (int(month), int(purchase_month)): int(members)
        for month, purchase_month, members in db.session.execute(
            select(cohort, bought, func.count(func.distinct(Member.id)))
            .join(Purchase, Purchase.member_id == Member.id)
            .where(
                in_cohorts,
                Purchase.created_at < period.ends,
                _in_stores(Purchase.store_id, period),
            )
            .group_by(cohort, bought)
        )
    }
    result = []
    for month in range(first_month, last_month + 1):
        size = sizes.get(month, 0)
        retention: Sequence[float | None] = [
            _rate(cells.get((month, month + k), 0), size) for k in range(last_month - month + 1)
        ]
        result.append({"cohort": _month_name(month), "size": size, "retention": retention})
    return result


def kpi_report(period: Period) -> dict[str, Any]:
    """Return every KPI for the period and scope."""
    config = current_app.config
    active_days = int(config.get("KPI_ACTIVE_DAYS", DEFAULT_ACTIVE_DAYS))
    point_value = float(config.get("KPI_POINT_VALUE_CENTS", DEFAULT_POINT_VALUE_CENTS))
    return {
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "store_ids": list(period.store_ids) if period.store_ids is not None else None,
        },
        "members": member_figures(period),
        "stages": stage_figures(period),
        "churn": churn_figures(period, active_days),
        "purchases": purchase_figures(period),
        "points": points_figures(period, point_value),
        "coupons": coupon_figures(period),
        "refusals": refusal_figures(period),
        "cohorts": cohort_figures(period),
    }
