"""The risk rules: plain functions of a ``RiskContext`` that may *hit*.

Each rule looks at one request (``RiskContext``: the operation, who calls, the member, the
card and how it was shown, the amount, the rule settings, the time) and at the history in the
database, and returns a ``RuleHit`` or ``None``. Rules never refuse anything themselves and
know nothing of Flask: ``app.fraud.verdict`` combines the hits into the verdict and acts on it.
Each rule's settings come from ``app.fraud.settings``.

* ``velocity``: a member earning on more than ``max_purchases_per_day`` purchases, or
  redeeming more than ``max_redemptions_per_day`` coupons, in the last 24 hours (Square alerts
  at 5 a day). Counted from the ``purchases`` and ``coupon_redemptions`` tables, the truth,
  rather than from the attempt log, where an idempotent replay would count twice.
* ``impossible-travel``: the card's last accepted use (attempt log, within ``lookback_hours``)
  was in another store, farther away than ``max_speed_kmh`` allows in the time between
  (stores have coordinates; distances under ``min_distance_km`` are ignored). Once a use in
  the new store went through, the rest of that visit compares with it and passes.
* ``self-dealing``: the cashier on the till books onto a member account with the same e-mail
  as their staff account (the operations in ``operations``). A live code cannot answer this
  step-up: the cashier holds their own phone.
* ``refund-abuse``: on a refund, the member's refunded share of their purchases (in cents,
  over ``window_days``, this refund included) is above ``max_member_refund_share``, or the
  cashier's share of refunds against the purchases they booked is above
  ``max_staff_refund_share``; only once there are ``min_refunds`` refunds.
* ``live-code``: for each operation, whether a screenshot-able ``LW1:`` code (or a scan token
  from one) is enough. Earning, coupon redemption and scans accept it; spending points at the
  till (``points-spend``) needs a live code or a manager.
* ``reward-claim-burst`` and ``signup-burst``: more than ``max_claims`` / ``max_signups`` from
  one client address within ``window_minutes`` (attempt log).
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, select, true

from app.accounts.models import Member, StaffAccount
from app.campaigns.models import Redemption
from app.extensions import db
from app.fraud.models import Attempt
from app.ledger.models import Purchase, PurchaseRefund
from app.stores.models import Store

EVIDENCE_LIMIT = 20
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class RuleHit:
    """One rule that fired, with what it saw and the attempts behind it."""

    rule: str
    action: str
    severity: str
    score: int
    detail: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class Caller:
    """Who makes the request: a till session, a staff member, a member, or nobody yet."""

    kind: str  # "till" | "staff" | "member" | "anonymous"
    subject_id: int | None = None  # the staff account on a till session
    till_id: int | None = None
    store_id: int | None = None
    client_address: str | None = None
    email: str | None = None  # the staff account's e-mail on a till session, when known


@dataclass(frozen=True)
class PriorUse:
    """A card's last accepted use in a store (the attempt log): what impossible travel compares."""

    attempt_id: int
    store_id: int
    occurred_at: datetime


class Unread(enum.Enum):
    """Marks history the caller did not read with its own statements: the rule reads it."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD


@dataclass(frozen=True)
class RiskContext:
    """Everything the rules look at besides the history in the database.

    ``prior_use`` is the card's last accepted use when the caller read it already (the till
    reads it with the card on a scan); ``UNREAD`` lets the impossible-travel rule read it.
    ``earlier_today`` is the velocity rule's count of the member's purchases or redemptions
    in the last 24 hours, likewise. ``run_rules`` reads both in one statement when both rules
    need them.
    """

    operation: str
    caller: Caller
    member_id: int | None
    card_id: uuid.UUID | None
    credential: str | None  # "static" | "rotating" when a card was presented
    amount_cents: int | None
    settings: Mapping[str, Mapping[str, Any]]
    now: datetime
    member_email: str | None = None  # when the caller has the member's row already
    prior_use: PriorUse | None | Unread = UNREAD
    earlier_today: int | Unread = UNREAD  # the velocity rule's count, when read already


def _hit(
    ctx: RiskContext, rule: str, detail: dict[str, Any], evidence: Sequence[int] = ()
) -> RuleHit:
    settings = ctx.settings[rule]
    return RuleHit(
        rule=rule,
        action=str(settings["action"]),
        severity=str(settings["severity"]),
        score=int(settings["score"]),
        detail=detail,
        evidence=tuple(evidence),
    )


# The statements the rules run on every till request, built once: building a statement costs
# more than its round trip, and a prebuilt one is compiled once and run on the connection.
_PURCHASES_SINCE = (
    select(func.count())
    .select_from(Purchase)
    .where(Purchase.member_id == bindparam("member_id"), Purchase.created_at >= bindparam("since"))
)
_REDEMPTIONS_SINCE = (
    select(func.count())
    .select_from(Redemption)
    .where(
        Redemption.member_id == bindparam("member_id"),
        Redemption.redeemed_at >= bindparam("since"),
        Redemption.reversed_at.is_(None),
    )
)
_LAST_ACCEPTED_USE = (
    select(Attempt.id, Attempt.store_id, Attempt.occurred_at)
    .where(
        Attempt.card_id == bindparam("use_card_key"),
        Attempt.occurred_at >= bindparam("use_since"),
        Attempt.outcome == "accepted",
        Attempt.store_id.is_not(None),
    )
    .order_by(Attempt.occurred_at.desc())
    .limit(1)
)
# The same lookup as a subquery, for a caller that joins it into a statement it runs anyway
# (``prior_use_params`` gives its parameters, ``prior_use_of`` reads its three columns). Only
# a caller that does not wait for a lock first may do so: a statement that waited reads the
# history from before the wait, and would miss the use that made it wait.
LAST_ACCEPTED_USE = _LAST_ACCEPTED_USE.subquery("last_accepted_use")


def prior_use_params(
    card_id: uuid.UUID, settings: Mapping[str, Mapping[str, Any]], now: datetime
) -> dict[str, Any]:
    """Return the parameters of ``LAST_ACCEPTED_USE`` for this card, as the rule would ask."""
    lookback = timedelta(hours=float(settings["impossible-travel"]["lookback_hours"]))
    return {"use_card_key": str(card_id), "use_since": now - lookback}


def prior_use_of(attempt_id: int | None, store_id: int | None, occurred_at: Any) -> PriorUse | None:
    """Return the prior use from ``LAST_ACCEPTED_USE``'s columns (all ``None``: there was none)."""
    if attempt_id is None or store_id is None:
        return None
    return PriorUse(attempt_id, store_id, occurred_at)


# What the velocity rule counts for each operation it judges.
_EARLIER_TODAY = {"purchase": _PURCHASES_SINCE, "coupon-redeem": _REDEMPTIONS_SINCE}


def _counts_velocity(ctx: RiskContext) -> bool:
    return ctx.member_id is not None and ctx.operation in _EARLIER_TODAY


def _checks_travel(ctx: RiskContext) -> bool:
    return ctx.card_id is not None and ctx.caller.store_id is not None


def _velocity(ctx: RiskContext) -> RuleHit | None:
    if not _counts_velocity(ctx):
        return None
    settings = ctx.settings["velocity"]
    since = ctx.now - timedelta(days=1)
    if ctx.operation == "purchase":
        limit = int(settings["max_purchases_per_day"])
    else:
        limit = int(settings["max_redemptions_per_day"])
    earlier = ctx.earlier_today
    if earlier is UNREAD:
        params = {"member_id": ctx.member_id, "since": since}
        query = _EARLIER_TODAY[ctx.operation]
        earlier = int(db.session.connection().execute(query, params).scalar() or 0)
    count = earlier + 1
    if count <= limit:
        return None
    evidence = _attempt_ids(
        Attempt.member_id == ctx.member_id,
        Attempt.operation == ctx.operation,
        Attempt.outcome == "accepted",
        since=since,
    )
    return _hit(
        ctx, "velocity", {"operation": ctx.operation, "count_24h": count, "limit": limit}, evidence
    )


def _impossible_travel(ctx: RiskContext) -> RuleHit | None:
    caller = ctx.caller
    if ctx.card_id is None or not _checks_travel(ctx):  # (card_id: for the type checker)
        return None
    settings = ctx.settings["impossible-travel"]
    # Compare with the card's last accepted use: once a use here went through (a live code, a
    # manager's approval), the rest of the visit does not trip the rule again.
    previous = ctx.prior_use
    if previous is UNREAD:
        params = prior_use_params(ctx.card_id, ctx.settings, ctx.now)
        previous = prior_use_of(
            *db.session.connection().execute(_LAST_ACCEPTED_USE, params).first()
            or (None, None, None)
        )
    if previous is None or previous.store_id == caller.store_id:
        return None
    stores = {
        row.id: row
        for row in db.session.execute(
            select(Store.id, Store.latitude, Store.longitude).where(
                Store.id.in_([previous.store_id, caller.store_id])
            )
        )
    }
    here, there = stores.get(caller.store_id), stores.get(previous.store_id)
    if (
        here is None
        or there is None
        or None in (here.latitude, here.longitude, there.latitude, there.longitude)
    ):
        return None
    distance = distance_km(there.latitude, there.longitude, here.latitude, here.longitude)
    if distance < float(settings["min_distance_km"]):
        return None
    hours = max((ctx.now - previous.occurred_at).total_seconds(), 1.0) / 3600
    speed = distance / hours
    if speed <= float(settings["max_speed_kmh"]):
        return None
    detail = {
        "from_store_id": previous.store_id,
        "to_store_id": caller.store_id,
        "distance_km": round(distance, 1),
        "minutes_between": round(hours * 60, 1),
        "speed_kmh": round(speed),
    }
    return _hit(ctx, "impossible-travel", detail, [previous.attempt_id])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance between two points (haversine), in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _self_dealing(ctx: RiskContext) -> RuleHit | None:
    caller = ctx.caller
    if ctx.member_id is None or caller.kind != "till":
        return None
    if not ctx.settings["self-dealing"]["operations"].get(ctx.operation, False):
        return None
    if caller.email is not None and ctx.member_email is not None:
        same_person = caller.email == ctx.member_email  # both rows were read already
    else:
        same_person = (
            db.session.scalar(
                select(StaffAccount.id)
                .join(Member, Member.email == StaffAccount.email)
                .where(StaffAccount.id == caller.subject_id, Member.id == ctx.member_id)
            )
            is not None
        )
    if not same_person:
        return None
    return _hit(ctx, "self-dealing", {"operation": ctx.operation, "staff_id": caller.subject_id})


def _refund_abuse(ctx: RiskContext) -> RuleHit | None:
    if ctx.operation != "refund" or ctx.member_id is None:
        return None
    settings = ctx.settings["refund-abuse"]
    since = ctx.now - timedelta(days=float(settings["window_days"]))
    refunding = ctx.amount_cents or 0
    shares: dict[str, Any] = {}

    def share(purchases_where: Any, refunds_where: Any) -> tuple[float, int]:
        bought = db.session.scalar(
            select(func.coalesce(func.sum(Purchase.amount_cents), 0)).where(
                purchases_where, Purchase.created_at >= since
            )
        )
        refunded, count = db.session.execute(
            select(func.coalesce(func.sum(PurchaseRefund.amount_cents), 0), func.count())
            .select_from(PurchaseRefund)
            .join(Purchase, Purchase.id == PurchaseRefund.purchase_id)
            .where(refunds_where, PurchaseRefund.created_at >= since)
        ).one()
        total_refunded = int(refunded) + refunding
        return total_refunded / max(int(bought or 0), 1), int(count) + 1

    member_share, member_refunds = share(
        Purchase.member_id == ctx.member_id, Purchase.member_id == ctx.member_id
    )
    if member_refunds >= int(settings["min_refunds"]) and member_share > float(
        settings["max_member_refund_share"]
    ):
        shares["member_refund_share"] = round(member_share, 3)
        shares["member_refunds"] = member_refunds
    caller = ctx.caller
    if caller.kind == "till":
        staff_share, staff_refunds = share(
            Purchase.staff_id == caller.subject_id,
            PurchaseRefund.staff_id == caller.subject_id,
        )
        if staff_refunds >= int(settings["min_refunds"]) and staff_share > float(
            settings["max_staff_refund_share"]
        ):
            shares["staff_refund_share"] = round(staff_share, 3)
            shares["staff_refunds"] = staff_refunds
    if not shares:
        return None
    evidence = _attempt_ids(
        Attempt.member_id == ctx.member_id,
        Attempt.operation == "refund",
        Attempt.outcome == "accepted",
        since=since,
    )
    return _hit(ctx, "refund-abuse", {**shares, "refund_cents": refunding}, evidence)


def _live_code(ctx: RiskContext) -> RuleHit | None:
    if ctx.credential is None or ctx.credential == "rotating":
        return None
    if not ctx.settings["live-code"]["operations"].get(ctx.operation, False):
        return None
    return _hit(ctx, "live-code", {"operation": ctx.operation, "credential": ctx.credential})


def _burst(rule: str, operation: str, limit_key: str) -> Callable[[RiskContext], RuleHit | None]:
    def check(ctx: RiskContext) -> RuleHit | None:
        address = ctx.caller.client_address
        if ctx.operation != operation or not address:
            return None
        settings = ctx.settings[rule]
        since = ctx.now - timedelta(minutes=float(settings["window_minutes"]))
        limit = int(settings[limit_key])
        earlier = db.session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.client_address == address,
                Attempt.operation == operation,
                Attempt.occurred_at >= since,
                Attempt.outcome == "accepted",
            )
        )
        count = int(earlier or 0) + 1
        if count <= limit:
            return None
        evidence = _attempt_ids(
            Attempt.client_address == address,
            Attempt.operation == operation,
            since=since,
        )
        detail = {"client_address": address, "count": count, "limit": limit}
        return _hit(ctx, rule, detail, evidence)

    return check


RULES: tuple[Callable[[RiskContext], RuleHit | None], ...] = (
    _live_code,
    _self_dealing,
    _velocity,
    _impossible_travel,
    _refund_abuse,
    _burst("reward-claim-burst", "reward-claim", "max_claims"),
    _burst("signup-burst", "member-signup", "max_signups"),
)


def _attempt_ids(*conditions: Any, since: datetime) -> list[int]:
    rows = db.session.scalars(
        select(Attempt.id)
        .where(Attempt.occurred_at >= since, *conditions)
        .order_by(Attempt.id.desc())
        .limit(EVIDENCE_LIMIT)
    )
    return sorted(rows)


# The velocity count and the card's last accepted use in one statement, for a request both
# rules judge (a purchase or a member's redemption with a card shown), built once per count.
def _count_and_prior_use(count: Select[Any]) -> Select[Any]:
    earlier = count.subquery("earlier")
    return (
        select(*earlier.c, *LAST_ACCEPTED_USE.c)
        .select_from(earlier)
        .outerjoin(LAST_ACCEPTED_USE, true())
    )


_COUNT_AND_PRIOR_USE = {
    operation: _count_and_prior_use(count) for operation, count in _EARLIER_TODAY.items()
}


def _read_history(ctx: RiskContext) -> RiskContext:
    """Read what both history rules need in one statement, when both will ask."""
    unread = ctx.earlier_today is UNREAD and ctx.prior_use is UNREAD
    if not (unread and _counts_velocity(ctx) and _checks_travel(ctx)) or ctx.card_id is None:
        return ctx
    params = {
        "member_id": ctx.member_id,
        "since": ctx.now - timedelta(days=1),
        **prior_use_params(ctx.card_id, ctx.settings, ctx.now),
    }
    row = db.session.connection().execute(_COUNT_AND_PRIOR_USE[ctx.operation], params).one()
    return replace(ctx, earlier_today=int(row[0] or 0), prior_use=prior_use_of(*row[1:4]))


def run_rules(ctx: RiskContext) -> tuple[RuleHit, ...]:
    """Return the hits of every rule on this request."""
    ctx = _read_history(ctx)
    return tuple(hit for rule in RULES if (hit := rule(ctx)) is not None)
