"""Selling memberships, the benefits they give, refunds, reminders and the KPIs.

Sold at the till: a ``purchase.booked`` subscriber (``on_purchase_booked``) looks for basket
lines whose SKU is an active plan's and starts one membership per unit, at the line's price.
Sold by a manager: ``sell_membership`` directly. A membership starts at once, or, when the
member still has one running, where the last one ends (a renewal bought early loses nothing).

Benefits, while a membership is active and its period contains the moment:

* the points multiplier: the same subscriber posts the extra points of every later purchase as
  a ``bonus`` entry (``reference_type = 'membership'``), ``floor(points_earned x (multiplier -
  100) / 100)``; the purchase that buys the membership earns none (no points on the fee's
  multiplier);
* the monthly coupon and the free items: member-bound coupons issued at the start (month 0 and
  every free item) and then by the daily job (``run_memberships``) at each monthly anniversary,
  each recorded once (``MembershipGrant``), valid until the end of that month of membership;
* the tier: the plan's tier name is shown with the membership (``membership_benefits``).

A refund of the plan's line (``purchase.refunded``, or a full refund) ends the membership at
once (``refunded``) and voids the coupons it issued that were not used; a refund outside the
plan's ``refund_days`` still ends it, and raises a ``membership-late-refund`` fraud event so
staff see a refund the plan's rules did not allow. A refund of any purchase takes back its share
of the membership bonus (an ``adjust`` entry, rounded up like every refund).

``run_memberships`` (``flask --app app memberships run``, daily, idempotent) grants due monthly
coupons, marks finished memberships ``ended`` and publishes ``membership.expiring`` once per
membership ``MEMBERSHIP_REMINDER_DAYS`` (14) before its end, for the automations to remind.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, update

from app.accounts.models import Member
from app.campaigns.issuing import issue_member_coupon
from app.campaigns.models import Coupon
from app.db import iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.events import DomainEvent, publish
from app.extensions import db
from app.fraud.attempts import raise_event
from app.ledger.earning import load_programme
from app.ledger.models import Purchase
from app.ledger.service import post_ledger_entry
from app.memberships.models import (
    Membership,
    MembershipBonus,
    MembershipGrant,
    MembershipPlan,
)
from app.settings_cache import bump_version, cached_setting
from app.stores import scope
from coupons.rules import Benefit

DEFAULT_REMINDER_DAYS = 14
LATE_REFUND_RULE = "membership-late-refund"
PLAN_SKUS_SETTINGS_NAME = "membership-plan-skus"  # the plans' version in ``app.settings_cache``


def add_months(moment: datetime, months: int) -> datetime:
    """Return the same day and time ``months`` later (the last day when the month is shorter)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


# --- plans --------------------------------------------------------------------------------


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error", 422, "Invalid request", message, errors={"json": {field: [message]}}
    )


def unknown_plan(plan_id: int) -> DomainError:
    """Return the problem for a plan that does not exist."""
    return DomainError("unknown-membership-plan", f"There is no membership plan {plan_id}.")


def get_plan(plan_id: int) -> MembershipPlan:
    """Return a plan or raise ``unknown-membership-plan``."""
    plan = db.session.get(MembershipPlan, plan_id)
    if plan is None:
        raise unknown_plan(plan_id)
    return plan


def _apply_plan_fields(plan: MembershipPlan, fields: Mapping[str, Any]) -> None:
    if "monthly_coupon" in fields and fields["monthly_coupon"] is not None:
        try:
            Benefit.from_dict(fields["monthly_coupon"])
        except ValueError as exc:
            raise _invalid("monthly_coupon", str(exc)) from None
    if "currency" in fields and fields["currency"].upper() != load_programme().currency:
        raise _invalid("currency", f"Plans are sold in {load_programme().currency}.")
    for name, value in fields.items():
        setattr(plan, name, value.upper() if name == "currency" else value)


def create_plan(fields: Mapping[str, Any]) -> MembershipPlan:
    """Add a plan; its SKU must not be another plan's."""
    if db.session.scalar(select(MembershipPlan.id).where(MembershipPlan.sku == fields["sku"])):
        raise DomainError("sku-taken", f"Another plan is sold as {fields['sku']}.")
    plan = MembershipPlan(currency=load_programme().currency, free_items=[])
    _apply_plan_fields(plan, fields)
    db.session.add(plan)
    db.session.flush()
    bump_version(PLAN_SKUS_SETTINGS_NAME)
    return plan


def update_plan(plan_id: int, fields: Mapping[str, Any]) -> MembershipPlan:
    """Change a plan; memberships already sold keep the price they were sold at."""
    plan = get_plan(plan_id)
    if "sku" in fields and fields["sku"] != plan.sku:
        taken = db.session.scalar(
            select(MembershipPlan.id).where(MembershipPlan.sku == fields["sku"])
        )
        if taken:
            raise DomainError("sku-taken", f"Another plan is sold as {fields['sku']}.")
    _apply_plan_fields(plan, fields)
    db.session.flush()
    bump_version(PLAN_SKUS_SETTINGS_NAME)
    return plan


def list_plans(*, only_active: bool) -> Sequence[MembershipPlan]:
    """Return the plans (only those on sale, for members)."""
    query = select(MembershipPlan).order_by(MembershipPlan.price_cents, MembershipPlan.id)
    if only_active:
        query = query.where(MembershipPlan.active.is_(True))
    return db.session.scalars(query).all()


# --- selling ------------------------------------------------------------------------------


_RUNNING_MEMBERSHIP = (
    select(Membership)
    .where(
        Membership.member_id == bindparam("member_id"),
        Membership.status == "active",
        Membership.starts_at <= bindparam("at"),
        Membership.ends_at > bindparam("at"),
    )
    .order_by(Membership.starts_at)
    .limit(1)
)
_RUNNING_MEMBERSHIP_ID = _RUNNING_MEMBERSHIP.with_only_columns(Membership.id)


def active_membership(member_id: int, at: datetime | None = None) -> Membership | None:
    """Return the member's membership running at ``at`` (default now), if any."""
    params = {"member_id": member_id, "at": at or utcnow()}
    return db.session.scalar(_RUNNING_MEMBERSHIP, params)


def _has_running_membership(member_id: int, at: datetime) -> bool:
    """Say whether the member has a membership running (a Core query: every purchase asks)."""
    params = {"member_id": member_id, "at": at}
    return db.session.connection().execute(_RUNNING_MEMBERSHIP_ID, params).first() is not None


def _grant(membership: Membership, key: str, benefit: Benefit, valid_until: datetime) -> None:
    exists = db.session.scalar(
        select(MembershipGrant.id).where(
            MembershipGrant.membership_id == membership.id, MembershipGrant.grant_key == key
        )
    )
    if exists is not None:
        return
    issued = issue_member_coupon(
        membership.member_id,
        benefit,
        source="membership",
        source_id=f"{membership.id}:{key}",
        valid_until=valid_until,
    )
    db.session.add(
        MembershipGrant(membership_id=membership.id, grant_key=key, coupon_id=issued.coupon_id)
    )
    db.session.flush()


def grant_due_coupons(membership: Membership, plan: MembershipPlan, now: datetime) -> None:
    """Issue the free items (once) and every monthly coupon due by ``now``."""
    if membership.status != "active" or membership.starts_at > now:
        return
    for sku in plan.free_items or []:
        _grant(
            membership,
            f"free:{sku}",
            Benefit.from_dict({"kind": "free_item", "sku": sku}),
            membership.ends_at,
        )
    if plan.monthly_coupon is None:
        return
    month = 0
    while True:
        month_start = add_months(membership.starts_at, month)
        if month_start > now or month_start >= membership.ends_at:
            return
        valid_until = min(add_months(membership.starts_at, month + 1), membership.ends_at)
        _grant(membership, f"month:{month}", Benefit.from_dict(plan.monthly_coupon), valid_until)
        month += 1


def sell_membership(
    member_id: int,
    plan: MembershipPlan,
    *,
    source: str,
    price_cents: int,
    purchase_id: int | None = None,
    store_id: int | None = None,
    staff_id: int | None = None,
    now: datetime | None = None,
) -> Membership:
    """Start a membership of ``plan`` (after the member's running one, if any)."""
    now = now or utcnow()
    member = db.session.get(Member, member_id)
    if member is None:
        raise DomainError("unknown-member", f"There is no member {member_id}.")
    member.had_membership = True  # the hint a purchase reads before looking for one
    latest_end = db.session.scalar(
        select(func.max(Membership.ends_at)).where(
            Membership.member_id == member_id,
            Membership.status == "active",
            Membership.ends_at > now,
        )
    )
    starts_at = max(now, latest_end) if latest_end else now
    membership = Membership(
        member_id=member_id,
        plan_id=plan.id,
        source=source,
        purchase_id=purchase_id,
        store_id=store_id,
        sold_by_staff_id=staff_id,
        price_cents=price_cents,
        currency=plan.currency,
        starts_at=starts_at,
        ends_at=add_months(starts_at, plan.duration_months),
        status="active",
    )
    db.session.add(membership)
    db.session.flush()
    grant_due_coupons(membership, plan, now)
    publish(
        DomainEvent(
            "membership.started",
            {
                "membership_id": membership.id,
                "plan_id": plan.id,
                "plan": plan.name,
                "starts_at": iso_or_none(membership.starts_at),
                "ends_at": iso_or_none(membership.ends_at),
                "price_cents": price_cents,
            },
            member_id=member_id,
            store_id=store_id,
        )
    )
    return membership


def _plan_skus() -> frozenset[str]:
    """Return the SKUs active plans are sold as (cached per process: every purchase asks)."""
    return cached_setting(PLAN_SKUS_SETTINGS_NAME, _read_plan_skus)


def _read_plan_skus() -> frozenset[str]:
    query = select(MembershipPlan.sku).where(MembershipPlan.active.is_(True))
    return frozenset(db.session.scalars(query))


def _plans_by_sku(skus: set[str]) -> dict[str, MembershipPlan]:
    skus &= _plan_skus()
    if not skus:
        return {}
    plans = db.session.scalars(
        select(MembershipPlan).where(MembershipPlan.sku.in_(skus), MembershipPlan.active.is_(True))
    )
    return {plan.sku: plan for plan in plans}


def _plan_lines(lines: Sequence[Mapping[str, Any]]) -> list[tuple[MembershipPlan, int]]:
    plans = _plans_by_sku({str(line.get("sku")) for line in lines})
    sold = []
    for line in lines:
        plan = plans.get(str(line.get("sku")))
        if plan is None:
            continue
        quantity = max(int(line.get("quantity") or 1), 1)
        unit_price = int(line["amount_cents"]) // quantity
        sold.extend([(plan, unit_price)] * quantity)
    return sold


def _post_bonus(event: DomainEvent, membership: Membership, plan: MembershipPlan) -> None:
    extra_percent = plan.points_multiplier_percent - 100
    points = int(event.data.get("points_earned", 0)) * extra_percent // 100
    if points <= 0 or event.member_id is None:
        return
    entry = post_ledger_entry(
        event.member_id,
        points,
        "bonus",
        reference_type="membership",
        reference_id=str(event.data.get("receipt_id")),
        store_id=event.store_id,
        reason=f"{plan.name}: points x{plan.points_multiplier_percent / 100:g}",
    )
    db.session.add(
        MembershipBonus(
            purchase_id=int(event.data["purchase_id"]),
            membership_id=membership.id,
            entry_id=entry.id,
            points=points,
        )
    )
    db.session.flush()


def on_purchase_booked(event: DomainEvent) -> None:
    """Start memberships bought in this basket; add the running membership's extra points."""
    if event.member_id is None:
        return
    now = utcnow()
    member = db.session.get(Member, event.member_id)  # the till's locked row: no query
    running = (
        active_membership(event.member_id, now)
        if member is not None
        and member.had_membership
        and _has_running_membership(event.member_id, now)
        else None
    )
    if running is not None:
        _post_bonus(event, running, db.session.get_one(MembershipPlan, running.plan_id))
    for plan, price in _plan_lines(event.data.get("lines") or []):
        sell_membership(
            event.member_id,
            plan,
            source="till",
            price_cents=price,
            purchase_id=int(event.data["purchase_id"]),
            store_id=event.store_id,
        )


# --- ending -------------------------------------------------------------------------------


def _void_unused_coupons(membership: Membership, now: datetime) -> None:
    coupon_ids = select(MembershipGrant.coupon_id).where(
        MembershipGrant.membership_id == membership.id
    )
    db.session.execute(
        update(Coupon)
        .where(Coupon.id.in_(coupon_ids), Coupon.redeemed_at.is_(None), Coupon.voided_at.is_(None))
        .values(voided_at=now, void_reason="membership ended")
    )


def end_membership(
    membership: Membership, status: str, reason: str, now: datetime | None = None
) -> Membership:
    """End a membership's benefits now (refunded or cancelled) and void its unused coupons."""
    now = now or utcnow()
    if membership.status != "active":
        raise DomainError(
            "membership-not-active", f"Membership {membership.id} is {membership.status} already."
        )
    membership.status = status
    membership.ended_at = now
    membership.end_reason = reason
    _void_unused_coupons(membership, now)
    db.session.flush()
    publish(
        DomainEvent(
            "membership.ended",
            {"membership_id": membership.id, "status": status, "reason": reason},
            member_id=membership.member_id,
            store_id=membership.store_id,
        )
    )
    return membership


def end_membership_by_id(
    membership_id: int, status: str, reason: str, staff_id: int | None = None
) -> Membership:
    """End a membership by a manager's decision (one sold in a store: a manager of it)."""
    membership = db.session.get(Membership, membership_id)
    if membership is None:
        raise DomainError("unknown-membership", f"No membership {membership_id}.")
    if staff_id is not None:
        scope.require_store(staff_id, membership.store_id)
    return end_membership(membership, status, reason)


def _take_back_bonus(event: DomainEvent) -> None:
    bonus = db.session.get(MembershipBonus, int(event.data["purchase_id"]))
    if bonus is None or event.member_id is None:
        return
    refunded = int(event.data["refunded_cents"])
    amount = refunded + int(event.data["remaining_cents"])
    owed = min(-(-bonus.points * refunded // amount), bonus.points) - bonus.points_taken_back
    if owed <= 0:
        return
    post_ledger_entry(
        event.member_id,
        -owed,
        "adjust",
        reference_type="membership",
        reference_id=str(event.data.get("receipt_id")),
        store_id=event.store_id,
        reason="Refund: membership bonus taken back",
    )
    bonus.points_taken_back += owed


def on_purchase_refunded(event: DomainEvent) -> None:
    """End memberships whose line was refunded; take back the refunded share of a bonus."""
    _take_back_bonus(event)
    purchase_id = int(event.data["purchase_id"])
    memberships = db.session.scalars(
        select(Membership).where(
            Membership.purchase_id == purchase_id, Membership.status == "active"
        )
    ).all()
    if not memberships:
        return
    refunded_skus = {str(line.get("sku")) for line in event.data.get("lines") or []}
    fully_refunded = int(event.data.get("remaining_cents", 1)) == 0
    now = utcnow()
    for membership in memberships:
        plan = db.session.get_one(MembershipPlan, membership.plan_id)
        if not fully_refunded and plan.sku not in refunded_skus:
            continue
        end_membership(membership, "refunded", "refunded at the till", now)
        if now - membership.created_at > timedelta(days=plan.refund_days):
            raise_event(
                LATE_REFUND_RULE,
                severity="low",
                action="flag",
                member_id=membership.member_id,
                subject=f"membership:{membership.id}",
                detail={"membership_id": membership.id, "refund_days": plan.refund_days},
            )


# --- the daily job ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """What one run of the membership job did."""

    ended: int
    reminded: int


def run_memberships(now: datetime | None = None) -> RunResult:
    """Grant due coupons, end finished memberships and announce the ones about to end."""
    now = now or utcnow()
    running = db.session.scalars(
        select(Membership).where(Membership.status == "active").order_by(Membership.id)
    ).all()
    ended = reminded = 0
    reminder_days = int(current_app.config.get("MEMBERSHIP_REMINDER_DAYS", DEFAULT_REMINDER_DAYS))
    for membership in running:
        plan = db.session.get_one(MembershipPlan, membership.plan_id)
        if membership.ends_at <= now:
            grant_due_coupons(membership, plan, membership.ends_at - timedelta(microseconds=1))
            membership.status = "ended"
            membership.ended_at = membership.ends_at
            membership.end_reason = "period over"
            ended += 1
            continue
        grant_due_coupons(membership, plan, now)
        due = membership.ends_at - timedelta(days=reminder_days) <= now
        if due and membership.reminder_sent_at is None and not _renewed(membership):
            membership.reminder_sent_at = now
            publish(
                DomainEvent(
                    "membership.expiring",
                    {
                        "membership_id": membership.id,
                        "plan_id": plan.id,
                        "plan": plan.name,
                        "ends_at": iso_or_none(membership.ends_at),
                        "renewal_sku": plan.sku,
                        "renewal_price_cents": plan.price_cents,
                    },
                    member_id=membership.member_id,
                    store_id=membership.store_id,
                )
            )
            reminded += 1
    db.session.flush()
    return RunResult(ended=ended, reminded=reminded)


def _renewed(membership: Membership) -> bool:
    return (
        db.session.scalar(
            select(Membership.id)
            .where(
                Membership.member_id == membership.member_id,
                Membership.status == "active",
                Membership.starts_at >= membership.ends_at,
            )
            .limit(1)
        )
        is not None
    )


# --- views and KPIs -----------------------------------------------------------------------


def membership_view(membership: Membership) -> dict[str, Any]:
    """Return a membership as the API shows it."""
    plan = db.session.get_one(MembershipPlan, membership.plan_id)
    return {
        "id": membership.id,
        "plan_id": plan.id,
        "plan": plan.name,
        "status": membership.status,
        "source": membership.source,
        "price_cents": membership.price_cents,
        "currency": membership.currency,
        "starts_at": iso_or_none(membership.starts_at),
        "ends_at": iso_or_none(membership.ends_at),
        "ended_at": iso_or_none(membership.ended_at),
        "end_reason": membership.end_reason,
        "purchase_id": membership.purchase_id,
    }


def membership_benefits(member_id: int, at: datetime | None = None) -> dict[str, Any] | None:
    """Return the benefits the member enjoys at ``at`` through a membership, or None."""
    membership = active_membership(member_id, at)
    if membership is None:
        return None
    plan = db.session.get_one(MembershipPlan, membership.plan_id)
    return {
        "tier": plan.tier,
        "points_multiplier_percent": plan.points_multiplier_percent,
        "monthly_coupon": plan.monthly_coupon,
        "free_items": list(plan.free_items or []),
    }


def my_membership(member_id: int) -> dict[str, Any]:
    """Return the member's running membership, its benefits and their history."""
    current = active_membership(member_id)
    history = db.session.scalars(
        select(Membership).where(Membership.member_id == member_id).order_by(Membership.id)
    ).all()
    return {
        "active": membership_view(current) if current else None,
        "benefits": membership_benefits(member_id),
        "history": [membership_view(m) for m in history],
    }


def paying_members(at: datetime | None = None) -> int:
    """Count members with a paid membership running at ``at`` (default now)."""
    at = at or utcnow()
    return int(
        db.session.scalar(
            select(func.count(func.distinct(Membership.member_id))).where(
                Membership.status == "active",
                Membership.price_cents > 0,
                Membership.starts_at <= at,
                Membership.ends_at > at,
            )
        )
        or 0
    )


def plan_revenue(start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per plan: memberships sold in ``[start, end)``, gross revenue, refunds and net revenue."""
    refunded = Membership.status == "refunded"
    rows = db.session.execute(
        select(
            MembershipPlan.id,
            MembershipPlan.name,
            func.count(Membership.id),
            func.coalesce(func.sum(Membership.price_cents), 0),
            func.coalesce(func.sum(Membership.price_cents).filter(refunded), 0),
        )
        .join(Membership, Membership.plan_id == MembershipPlan.id)
        .where(Membership.created_at >= start, Membership.created_at < end)
        .group_by(MembershipPlan.id, MembershipPlan.name)
        .order_by(MembershipPlan.id)
    ).all()
    return [
        {
            "plan_id": plan_id,
            "plan": name,
            "sold": int(sold),
            "gross_cents": int(gross),
            "refunded_cents": int(refunds),
            "net_cents": int(gross) - int(refunds),
        }
        for plan_id, name, sold, gross, refunds in rows
    ]


def membership_kpis(start: datetime, end: datetime) -> dict[str, Any]:
    """Return paying members now and at the end of the window, and revenue per plan."""
    revenue = plan_revenue(start, end)
    return {
        "start": iso_or_none(start),
        "end": iso_or_none(end),
        "paying_members_now": paying_members(),
        "paying_members_at_end": paying_members(min(end, utcnow())),
        "plans": revenue,
        "net_cents": sum(row["net_cents"] for row in revenue),
        "purchases_with_plans": int(
            db.session.scalar(
                select(func.count(func.distinct(Purchase.id))).where(
                    Purchase.id.in_(select(Membership.purchase_id))
                )
            )
            or 0
        ),
    }
