"""The lifecycle refresh: RFM in SQL, health, model and stages in NumPy, results in bulk.

``refresh_lifecycle(as_of)`` runs in the caller's transaction (the CLI commits once at the
end; the automations worker calls the same function nightly) and is idempotent: it is a pure
function of the purchases up to the end of ``as_of`` (UTC), so running it again for the same
date rewrites the same rows and records no stage change.

1. **One aggregate query** reads, for every member who had signed up by then, purchase days,
   first and last day, receipts, net spend, the last 90 days' days and spend, and the last
   year's gross and refunded amounts (``purchases`` grouped per member and day, then per
   member), plus the stage the previous refresh gave. Nothing loads purchases into Python.
2. **One window query** finds each member's latest return after a lapse: ``LAG`` over their
   purchase days gives each gap, and the rhythm before the gap decides whether it was one.
3. **NumPy** computes rhythm, health factors and stages for all members at once
   (``app.lifecycle.health``, ``app.lifecycle.stages``) and fits the customer-base model
   (``app.lifecycle.model``) on a random sample of at most ``fit_sample`` buyers, then scores
   every buyer with it.
4. **Bulk writes**: the members' ``member_lifecycle`` rows are replaced (one ``DELETE`` and one
   ``COPY`` per 20,000 members, ``app.bulk``); changed stages are appended to
   ``member_stage_changes`` and announced as ``stage.changed`` domain events (member id; data
   ``from``, ``to``, ``as_of``) for automations. A member's first classification is recorded
   in the history (``from`` NULL) but not announced: it is not news, and a first refresh over
   an imported history would otherwise fire one automation per member.

Run refreshes in date order: the stage history compares each run with the one before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import numpy as np
from sqlalchemy import Integer, Table, and_, case, delete, func, literal, select
from sqlalchemy import cast as sql_cast

from app.accounts.models import Member
from app.bulk import among, insert_rows
from app.db import utcnow
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.models import Purchase
from app.lifecycle import model as customer_model
from app.lifecycle.health import MemberFigures, compute_health, population_interval
from app.lifecycle.models import LifecycleModelFit, MemberLifecycle, MemberStageChange
from app.lifecycle.settings import LifecycleSettings, lifecycle_settings
from app.lifecycle.signals import (
    converted_referrals_by_member,
    open_complaints_by_member,
    survey_scores_by_member,
)
from app.lifecycle.sql import day_number, epoch_day
from app.lifecycle.stages import decide_stages

log = logging.getLogger("app.lifecycle")

WRITE_CHUNK = 5_000
DAYS_PER_WEEK = 7.0
STAGE_CHANGED = "stage.changed"


@dataclass
class RefreshSummary:
    """What a refresh did, for the CLI and the worker's log."""

    as_of: date
    members: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    announced: int = 0
    model: dict[str, Any] | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as plain data."""
        return {
            "as_of": self.as_of.isoformat(),
            "members": self.members,
            "stages": self.stages,
            "changes": self.changes,
            "announced": self.announced,
            "model": self.model,
            "seconds": self.seconds,
        }


def end_of_day(day: date) -> datetime:
    """Return the first moment after ``day`` (UTC): purchases before it count."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _aggregate_rows(as_of: date, settings: LifecycleSettings) -> Sequence[Any]:
    """Return one row of RFM figures per member who had signed up by the end of ``as_of``."""
    end = end_of_day(as_of)
    today = day_number(as_of)
    day = epoch_day(Purchase.created_at)
    per_day = (
        select(
            Purchase.member_id.label("member_id"),
            day.label("day"),
            func.count(Purchase.id).label("receipts"),
            func.sum(Purchase.amount_cents).label("gross"),
            func.sum(Purchase.refunded_cents).label("refunded"),
        )
        .where(Purchase.created_at < end)
        .group_by(Purchase.member_id, day)
        .subquery()
    )
    recent = per_day.c.day > today - settings.trend_days
    last_year = per_day.c.day > today - 365
    per_member = (
        select(
            per_day.c.member_id,
            func.count().label("purchase_days"),
            func.min(per_day.c.day).label("first_day"),
            func.max(per_day.c.day).label("last_day"),
            func.sum(per_day.c.receipts).label("receipts"),
            func.sum(per_day.c.gross - per_day.c.refunded).label("spend"),
            func.sum(case((recent, 1), else_=0)).label("recent_days"),
            func.sum(case((recent, per_day.c.receipts), else_=0)).label("recent_receipts"),
            func.sum(case((recent, per_day.c.gross - per_day.c.refunded), else_=0)).label(
                "recent_spend"
            ),
            func.sum(case((last_year, per_day.c.gross), else_=0)).label("gross_365"),
            func.sum(case((last_year, per_day.c.refunded), else_=0)).label("refunded_365"),
        )
        .group_by(per_day.c.member_id)
        .subquery()
    )
    query = (
        select(
            Member.id,
            epoch_day(Member.created_at).label("signup_day"),
            per_member.c.purchase_days,
            per_member.c.first_day,
            per_member.c.last_day,
            per_member.c.receipts,
            per_member.c.spend,
            per_member.c.recent_days,
            per_member.c.recent_receipts,
            per_member.c.recent_spend,
            per_member.c.gross_365,
            per_member.c.refunded_365,
            MemberLifecycle.stage,
            MemberLifecycle.stage_since,
        )
        .outerjoin(per_member, per_member.c.member_id == Member.id)
        .outerjoin(MemberLifecycle, MemberLifecycle.member_id == Member.id)
        .where(Member.created_at < end)
        .order_by(Member.id)
    )
    return db.session.execute(query).all()


def _last_returns(as_of: date, settings: LifecycleSettings, population: float) -> dict[int, int]:
    """Return, per member, the latest purchase day that ended a lapse (a long enough gap)."""
    end = end_of_day(as_of)
    day = epoch_day(Purchase.created_at)
    days = (
        select(Purchase.member_id.label("member_id"), day.label("day"))
        .where(Purchase.created_at < end)
        .group_by(Purchase.member_id, day)
        .subquery()
    )
    partition, order = days.c.member_id, days.c.day
    ordered = select(
        days.c.member_id,
        days.c.day,
        func.lag(days.c.day).over(partition_by=partition, order_by=order).label("previous_day"),
        func.first_value(days.c.day)
        .over(partition_by=partition, order_by=order)
        .label("first_day"),
        func.row_number().over(partition_by=partition, order_by=order).label("position"),
    ).subquery()
    gap = ordered.c.day - ordered.c.previous_day
    k = float(settings.prior_intervals)
    # The member's interval before the gap, pulled towards the shop's rhythm like the health
    # score's: (span before the gap + k x population) / (intervals before the gap + k).
    interval_before = (
        sql_cast(ordered.c.previous_day - ordered.c.first_day, Integer) * literal(1.0)
        + literal(k * population)
    ) / (sql_cast(ordered.c.position - 2, Integer) * literal(1.0) + literal(k))
    lapse = and_(
        ordered.c.previous_day.is_not(None),
        gap >= settings.lapsed_min_days,
        (gap >= interval_before * literal(float(settings.lapsed_ratio)))
        | (gap >= settings.lapsed_max_days),
    )
    query = (
        select(ordered.c.member_id, func.max(ordered.c.day))
        .where(lapse)
        .group_by(ordered.c.member_id)
    )
    return {int(member_id): int(day_value) for member_id, day_value in db.session.execute(query)}


def _column(rows: Sequence[Any], index: int, empty: float = np.nan) -> np.ndarray[Any, Any]:
    return np.array(
        [empty if row[index] is None else float(row[index]) for row in rows], dtype=np.float64
    )


def figures_from_rows(
    rows: Sequence[Any], as_of: date, last_returns: dict[int, int]
) -> MemberFigures:
    """Turn the aggregate rows into the arrays the health and stage rules work on."""
    member_ids = [int(row[0]) for row in rows]
    return MemberFigures(
        as_of_day=day_number(as_of),
        signup_day=_column(rows, 1, 0.0),
        purchase_days=_column(rows, 2, 0.0),
        first_day=_column(rows, 3),
        last_day=_column(rows, 4),
        receipts=_column(rows, 5, 0.0),
        spend_cents=_column(rows, 6, 0.0),
        recent_days=_column(rows, 7, 0.0),
        recent_spend=_column(rows, 9, 0.0),
        gross_365=_column(rows, 10, 0.0),
        refunded_365=_column(rows, 11, 0.0),
        last_return_day=np.array(
            [float(last_returns.get(member_id, np.nan)) for member_id in member_ids]
        ),
    )


def _signal(
    values: dict[int, Any], member_ids: list[int], missing: float = np.nan
) -> np.ndarray[Any, Any] | None:
    """Line a signal up with the members; ``None`` while the shop has no such data at all."""
    if not values:
        return None
    return np.array([float(values.get(member_id, missing)) for member_id in member_ids])


def _fit_model(
    figures: MemberFigures, as_of: date, settings: LifecycleSettings
) -> tuple[customer_model.ModelParameters | None, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Fit the model on (a sample of) the buyers; return it with P(active) and E[purchases]."""
    count = len(figures.purchase_days)
    p_active = np.full(count, np.nan)
    expected = np.full(count, np.nan)
    buyers = np.flatnonzero(figures.purchase_days >= 1)
    if len(buyers) < settings.min_fit_customers:
        return None, p_active, expected
    x = figures.purchase_days[buyers] - 1
    t_x = (figures.last_day[buyers] - figures.first_day[buyers]) / DAYS_PER_WEEK
    age = (figures.as_of_day - figures.first_day[buyers]) / DAYS_PER_WEEK
    sample = np.arange(len(buyers))
    if len(buyers) > settings.fit_sample:
        generator = np.random.default_rng(as_of.toordinal())
        sample = np.sort(generator.choice(len(buyers), settings.fit_sample, replace=False))
    params = customer_model.fit(x[sample], t_x[sample], age[sample], variant=settings.model)
    p_active[buyers] = customer_model.p_active(params, x, t_x, age)
    expected[buyers] = customer_model.expected_purchases(
        params, settings.horizon_days / DAYS_PER_WEEK, x, t_x, age
    )
    db.session.add(
        LifecycleModelFit(
            as_of=as_of,
            variant=params.variant,
            r=params.r,
            alpha=params.alpha,
            a=params.a,
            b=params.b,
            customers=len(buyers),
            sample_size=len(sample),
            log_likelihood=params.log_likelihood,
            converged=params.converged,
        )
    )
    return params, p_active, expected


def _replace_rows(rows: list[dict[str, Any]]) -> None:
    """Replace the members' lifecycle rows: delete theirs, insert the new ones in bulk.

    Every refreshed member gets a new row, so delete-and-insert (``COPY`` on PostgreSQL) does
    the work of an upsert at a fraction of the cost; other transactions keep seeing the old
    rows until the refresh commits.
    """
    table = cast(Table, MemberLifecycle.__table__)
    for chunk in _chunks(rows, WRITE_CHUNK * 4):
        member_ids = [row["member_id"] for row in chunk]
        db.session.execute(delete(table).where(among(table.c.member_id, member_ids, Integer)))
        insert_rows(table, chunk)


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _optional(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 4)


def _moment(day_value: float) -> datetime | None:
    if not np.isfinite(day_value):
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=int(day_value))


def refresh_lifecycle(as_of: date | None = None) -> RefreshSummary:
    """Recompute every member's lifecycle figures, health, model outlook and stage."""
    as_of = as_of or utcnow().date()
    settings = lifecycle_settings()
    summary = RefreshSummary(as_of=as_of)
    started = time.perf_counter()
    rows = _aggregate_rows(as_of, settings)
    member_ids = [int(row[0]) for row in rows]
    summary.members = len(rows)
    if not rows:
        return summary
    empty: dict[int, int] = {}
    preliminary = figures_from_rows(rows, as_of, empty)
    population = population_interval(preliminary)
    last_returns = _last_returns(as_of, settings, population)
    figures = figures_from_rows(rows, as_of, last_returns)
    summary.seconds["sql"] = round(time.perf_counter() - started, 3)

    step = time.perf_counter()
    health = compute_health(
        figures,
        settings,
        population,
        # Once the shop records complaints, a member without one has none open (not "unknown").
        open_complaints=_signal(open_complaints_by_member(as_of), member_ids, missing=0.0),
        survey_scores=_signal(survey_scores_by_member(as_of), member_ids),
    )
    referrals = converted_referrals_by_member(as_of)
    stages = decide_stages(
        figures,
        settings,
        health.days_since,
        health.recency_ratio,
        np.array([referrals.get(member_id, 0) for member_id in member_ids], dtype=np.int64),
    )
    params, p_active, expected = _fit_model(figures, as_of, settings)
    summary.seconds["compute"] = round(time.perf_counter() - step, 3)
    if params is not None:
        summary.model = {
            "variant": params.variant,
            "r": round(params.r, 4),
            "alpha": round(params.alpha, 4),
            "a": round(params.a, 4),
            "b": round(params.b, 4),
            "converged": params.converged,
        }

    step = time.perf_counter()
    now = utcnow()
    records: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        member_id = member_ids[index]
        stage = str(stages[index])
        previous, previous_since = row[12], row[13]
        if previous != stage:
            changes.append(
                {"member_id": member_id, "from_stage": previous, "to_stage": stage, "as_of": as_of}
            )
        bought = figures.purchase_days[index] >= 1
        records.append(
            {
                "member_id": member_id,
                "as_of": as_of,
                "stage": stage,
                "stage_since": previous_since if previous == stage else as_of,
                "health_score": int(health.score[index]),
                "health_factors": health.factors[index],
                "first_purchase_at": _moment(figures.first_day[index]),
                "last_purchase_at": _moment(figures.last_day[index]),
                "days_since_last_purchase": int(health.days_since[index]) if bought else None,
                "purchase_days": int(figures.purchase_days[index]),
                "purchases": int(figures.receipts[index]),
                "spend_cents": int(figures.spend_cents[index]),
                "purchases_90d": int(row[8] or 0),
                "spend_90d_cents": int(figures.recent_spend[index]),
                "interval_days": round(float(health.interval[index]), 2),
                "recency_ratio": round(float(health.recency_ratio[index]), 3),
                "frequency_trend": _optional(health.frequency_trend[index]),
                "spend_trend": _optional(health.spend_trend[index]),
                "refund_share": round(float(health.refund_share[index]), 4),
                "p_active": _optional(p_active[index]),
                "expected_purchases_90d": _optional(expected[index]),
                "refreshed_at": now,
            }
        )
    _replace_rows(records)
    if changes:
        insert_rows(cast(Table, MemberStageChange.__table__), changes)
    for change in changes:
        if change["from_stage"] is None:
            continue
        publish(
            DomainEvent(
                STAGE_CHANGED,
                data={
                    "from": change["from_stage"],
                    "to": change["to_stage"],
                    "as_of": as_of.isoformat(),
                },
                member_id=change["member_id"],
            )
        )
        summary.announced += 1
    db.session.flush()
    summary.seconds["write"] = round(time.perf_counter() - step, 3)
    summary.changes = len(changes)
    values, counts = np.unique(stages, return_counts=True)
    summary.stages = {str(stage): int(count) for stage, count in zip(values, counts, strict=True)}
    log.info("lifecycle refreshed", extra={"summary": summary.to_dict()})
    return summary
