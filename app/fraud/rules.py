"""Risk rules: what looks like fraud at the till, and what to do about it.

``assess(operation, presented, ...)`` is called by the services at the point where they know
the member and are about to change something (book a purchase, refund, redeem a coupon,
claim a reward, create a member). Each rule that applies to the operation looks at the
request and the history and may *hit*. Every rule has an action and admins may change it and
its thresholds (``GET/PUT /api/v1/fraud/rules``):

* ``allow``: nothing happens (the hit still adds to the risk score);
* ``flag``: the request goes ahead and a fraud event is raised for review;
* ``step-up``: the request is refused with ``step-up-required`` (428) unless the till
  presented a rotating ``LW2:`` code (for the rules a live code answers: ``live-code`` and
  ``impossible-travel``) or a manager approves it on the till (``X-Manager-Approval: <access
  token of a manager or admin of this store, not the cashier>``). Either way an event is
  raised; an approval is audited. 428 rather than 403: the same request succeeds once it
  carries the missing proof, so the till knows to ask for it instead of giving up;
* ``deny``: the request is refused with ``risk-denied`` (403) and an event is raised.

The strongest action of all hits wins; the risk score is the sum of the hits' scores (capped
at 100) and is written into the request's attempt. Events of refused requests survive the
rollback (``app.fraud.events``).

The rules (defaults in ``RULE_DEFAULTS``):

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

Refusal rules (``on_refusal``) run when a till attempt was refused for a reason that is
itself a warning sign: ``replayed-code`` (``code-replayed``), ``stale-code`` (``code-stale``),
``revoked-card`` (``card-revoked``) and ``blocked`` (``member-blocked``, ``card-blocked``,
``till-blocked``). The request is refused anyway; the action says whether that raises an
event (``flag``) or not (``allow``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import func, select

from app.accounts.models import Member, StaffAccount
from app.auth.tokens import API_AUDIENCE, TILL_AUDIENCE, Identity, decode_access_token
from app.db import utcnow
from app.errors import Problem
from app.extensions import db
from app.fraud.attempts import update_attempt
from app.fraud.events import build_event, raise_event, write_event
from app.fraud.models import Attempt, FraudRuleSetting, StaffAudit
from app.stores.models import Store

if TYPE_CHECKING:
    from app.cards.presentation import PresentedCard

ACTIONS = ("allow", "flag", "step-up", "deny")  # weakest first
SEVERITIES = ("low", "medium", "high")
APPROVAL_HEADER = "X-Manager-Approval"
APPROVER_ROLES = ("manager", "admin")
MAX_SCORE = 100
EVIDENCE_LIMIT = 20
EARTH_RADIUS_KM = 6371.0
RULES_CACHE_SECONDS = 5

RULE_DEFAULTS: dict[str, dict[str, Any]] = {
    "velocity": {
        "action": "flag",
        "severity": "medium",
        "score": 30,
        "max_purchases_per_day": 5,
        "max_redemptions_per_day": 5,
    },
    "impossible-travel": {
        "action": "step-up",
        "severity": "high",
        "score": 60,
        "max_speed_kmh": 300.0,
        "min_distance_km": 2.0,
        "lookback_hours": 24,
    },
    "self-dealing": {
        "action": "step-up",
        "severity": "high",
        "score": 70,
        "operations": {"purchase": True, "coupon-redeem": True, "refund": True},
    },
    "refund-abuse": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "window_days": 30,
        "min_refunds": 3,
        "max_member_refund_share": 0.5,
        "max_staff_refund_share": 0.25,
    },
    "live-code": {
        "action": "step-up",
        "severity": "low",
        "score": 20,
        "operations": {
            "scan": False,
            "purchase": False,
            "coupon-redeem": False,
            "points-spend": True,
        },
    },
    "replayed-code": {"action": "flag", "severity": "medium", "score": 50},
    "stale-code": {"action": "allow", "severity": "low", "score": 10},
    "revoked-card": {"action": "flag", "severity": "medium", "score": 40},
    "blocked": {"action": "flag", "severity": "high", "score": 80},
    "reward-claim-burst": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "max_claims": 5,
        "window_minutes": 10,
    },
    "signup-burst": {
        "action": "flag",
        "severity": "medium",
        "score": 40,
        "max_signups": 5,
        "window_minutes": 60,
    },
}

# The actions that make sense for each rule (a refusal rule can only be quiet or raise an event;
# a member's own request has no till to step up on).
RULE_ACTIONS: dict[str, tuple[str, ...]] = {
    "replayed-code": ("allow", "flag"),
    "stale-code": ("allow", "flag"),
    "revoked-card": ("allow", "flag"),
    "blocked": ("allow", "flag"),
    "reward-claim-burst": ("allow", "flag", "deny"),
    "signup-burst": ("allow", "flag", "deny"),
}

RULE_DESCRIPTIONS: dict[str, str] = {
    "velocity": "A member earns on or redeems too many times in 24 hours.",
    "impossible-travel": "One card used in two stores farther apart than anyone could travel.",
    "self-dealing": "A cashier books onto a member account with their own e-mail.",
    "refund-abuse": "A member's or cashier's refund share is too high.",
    "live-code": "Operations that need a rotating LW2 code (or a manager) instead of LW1.",
    "replayed-code": "A rotating code was presented again (screenshot or relay).",
    "stale-code": "A rotating code from outside the time window was presented.",
    "revoked-card": "A replaced or revoked card was presented.",
    "blocked": "A blocked member, card or till was used.",
    "reward-claim-burst": "Many reward claims from one client address.",
    "signup-burst": "Many sign-ups from one client address.",
}

# Step-ups a rotating code answers; every other step-up needs a manager.
LIVE_CODE_ANSWERS = frozenset({"live-code", "impossible-travel"})

REFUSAL_RULES = {
    "code-replayed": "replayed-code",
    "code-stale": "stale-code",
    "card-revoked": "revoked-card",
    "member-blocked": "blocked",
    "card-blocked": "blocked",
    "till-blocked": "blocked",
}


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
class RiskDecision:
    """The verdict on one request: total score, the action taken, the rules that fired."""

    score: int
    action: str
    events: tuple[RuleHit, ...]
    approved_by: int | None = None


@dataclass(frozen=True)
class _Context:
    operation: str
    presented: PresentedCard | None
    member_id: int | None
    identity: Identity | None
    amount_cents: int | None
    settings: Mapping[str, Mapping[str, Any]]
    now: datetime


# --- settings ----------------------------------------------------------------------------


def rule_settings() -> dict[str, dict[str, Any]]:
    """Return every rule's settings: the defaults with the admins' changes applied.

    Each process keeps them for ``FRAUD_RULES_CACHE_SECONDS`` (default 5), so the rules cost
    no query on most requests; a change made through this process applies at once, one made
    through another process within those seconds.
    """
    seconds = float(current_app.config.get("FRAUD_RULES_CACHE_SECONDS", RULES_CACHE_SECONDS))
    cached = current_app.extensions.get("lw_fraud_rules")
    if cached is not None and cached[0] > time.monotonic():
        settings: dict[str, dict[str, Any]] = cached[1]
        return settings
    settings = load_rule_settings()
    if seconds > 0:
        current_app.extensions["lw_fraud_rules"] = (time.monotonic() + seconds, settings)
    return settings


def load_rule_settings() -> dict[str, dict[str, Any]]:
    """Read every rule's settings from the database (defaults plus the stored changes)."""
    settings = {name: _copy(defaults) for name, defaults in RULE_DEFAULTS.items()}
    for row in db.session.scalars(select(FraudRuleSetting)):
        if row.rule in settings:
            settings[row.rule] = _merge(settings[row.rule], row.settings)
    return settings


def _copy(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {k: dict(v) if isinstance(v, dict) else v for k, v in settings.items()}


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = _copy(base)
    for key, value in changes.items():
        if key in merged and isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        elif key in merged:
            merged[key] = value
    return merged


def update_rule_settings(
    changes: Mapping[str, Mapping[str, Any]], *, staff_id: int
) -> dict[str, dict[str, Any]]:
    """Apply an admin's changes to rules (validated by the schema) and audit them."""
    for rule, rule_changes in changes.items():
        if rule not in RULE_DEFAULTS:
            raise _invalid_rule(rule, "There is no such rule.")
        action = rule_changes.get("action")
        if action is not None and action not in RULE_ACTIONS.get(rule, ACTIONS):
            raise _invalid_rule(
                rule, f"Action must be one of: {', '.join(RULE_ACTIONS.get(rule, ACTIONS))}."
            )
        row = db.session.get(FraudRuleSetting, rule, with_for_update=True)
        if row is None:
            row = FraudRuleSetting(rule=rule, settings={})
            db.session.add(row)
        row.settings = _merge_stored(row.settings, rule_changes)
        row.updated_at = utcnow()
        row.updated_by = staff_id
        db.session.add(
            StaffAudit(
                staff_id=staff_id,
                action="update-rule",
                target_type="rule",
                target_id=rule,
                detail={"changes": dict(rule_changes)},
            )
        )
    db.session.flush()
    current_app.extensions.pop("lw_fraud_rules", None)
    return load_rule_settings()


def _merge_stored(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(stored)
    for key, value in changes.items():
        if isinstance(value, dict):
            merged[key] = {**dict(merged.get(key) or {}), **value}
        else:
            merged[key] = value
    return merged


def _invalid_rule(rule: str, message: str) -> Problem:
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        f"Rule {rule}: {message}",
        errors={"json": {rule: [message]}},
    )


# --- the rules ---------------------------------------------------------------------------


def _hit(ctx: _Context, rule: str, detail: dict[str, Any], evidence: Sequence[int] = ()) -> RuleHit:
    settings = ctx.settings[rule]
    return RuleHit(
        rule=rule,
        action=str(settings["action"]),
        severity=str(settings["severity"]),
        score=int(settings["score"]),
        detail=detail,
        evidence=tuple(evidence),
    )


def _velocity(ctx: _Context) -> RuleHit | None:
    if ctx.member_id is None or ctx.operation not in ("purchase", "coupon-redeem"):
        return None
    settings = ctx.settings["velocity"]
    since = ctx.now - timedelta(days=1)
    if ctx.operation == "purchase":
        from app.ledger.models import Purchase

        limit = int(settings["max_purchases_per_day"])
        earlier = db.session.scalar(
            select(func.count())
            .select_from(Purchase)
            .where(Purchase.member_id == ctx.member_id, Purchase.created_at >= since)
        )
    else:
        from app.campaigns.models import Redemption

        limit = int(settings["max_redemptions_per_day"])
        earlier = db.session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.member_id == ctx.member_id,
                Redemption.redeemed_at >= since,
                Redemption.reversed_at.is_(None),
            )
        )
    count = int(earlier or 0) + 1
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


def _impossible_travel(ctx: _Context) -> RuleHit | None:
    identity = ctx.identity
    if ctx.presented is None or identity is None or identity.store_id is None:
        return None
    settings = ctx.settings["impossible-travel"]
    since = ctx.now - timedelta(hours=float(settings["lookback_hours"]))
    # Compare with the card's last accepted use: once a use here went through (a live code, a
    # manager's approval), the rest of the visit does not trip the rule again.
    previous = db.session.execute(
        select(Attempt.id, Attempt.store_id, Attempt.occurred_at)
        .where(
            Attempt.card_id == str(ctx.presented.card_id),
            Attempt.occurred_at >= since,
            Attempt.outcome == "accepted",
            Attempt.store_id.is_not(None),
        )
        .order_by(Attempt.occurred_at.desc())
        .limit(1)
    ).first()
    if previous is None or previous.store_id == identity.store_id:
        return None
    stores = {
        row.id: row
        for row in db.session.execute(
            select(Store.id, Store.latitude, Store.longitude).where(
                Store.id.in_([previous.store_id, identity.store_id])
            )
        )
    }
    here, there = stores.get(identity.store_id), stores.get(previous.store_id)
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
        "to_store_id": identity.store_id,
        "distance_km": round(distance, 1),
        "minutes_between": round(hours * 60, 1),
        "speed_kmh": round(speed),
    }
    return _hit(ctx, "impossible-travel", detail, [previous.id])


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the great-circle distance between two points (haversine), in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def _self_dealing(ctx: _Context) -> RuleHit | None:
    identity = ctx.identity
    if ctx.member_id is None or identity is None or identity.kind != "till":
        return None
    if not ctx.settings["self-dealing"]["operations"].get(ctx.operation, False):
        return None
    same_person = db.session.scalar(
        select(StaffAccount.id)
        .join(Member, Member.email == StaffAccount.email)
        .where(StaffAccount.id == identity.subject_id, Member.id == ctx.member_id)
    )
    if same_person is None:
        return None
    return _hit(ctx, "self-dealing", {"operation": ctx.operation, "staff_id": identity.subject_id})


def _refund_abuse(ctx: _Context) -> RuleHit | None:
    if ctx.operation != "refund" or ctx.member_id is None:
        return None
    from app.ledger.models import Purchase, PurchaseRefund

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
    identity = ctx.identity
    if identity is not None and identity.kind == "till":
        staff_share, staff_refunds = share(
            Purchase.staff_id == identity.subject_id,
            PurchaseRefund.staff_id == identity.subject_id,
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


def _live_code(ctx: _Context) -> RuleHit | None:
    if ctx.presented is None or ctx.presented.credential == "rotating":
        return None
    if not ctx.settings["live-code"]["operations"].get(ctx.operation, False):
        return None
    return _hit(
        ctx, "live-code", {"operation": ctx.operation, "credential": ctx.presented.credential}
    )


def _burst(rule: str, operation: str, limit_key: str) -> Callable[[_Context], RuleHit | None]:
    def check(ctx: _Context) -> RuleHit | None:
        if ctx.operation != operation or not has_request_context() or not request.remote_addr:
            return None
        settings = ctx.settings[rule]
        since = ctx.now - timedelta(minutes=float(settings["window_minutes"]))
        limit = int(settings[limit_key])
        earlier = db.session.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.client_address == request.remote_addr,
                Attempt.operation == operation,
                Attempt.occurred_at >= since,
                Attempt.outcome == "accepted",
            )
        )
        count = int(earlier or 0) + 1
        if count <= limit:
            return None
        evidence = _attempt_ids(
            Attempt.client_address == request.remote_addr,
            Attempt.operation == operation,
            since=since,
        )
        detail = {"client_address": request.remote_addr, "count": count, "limit": limit}
        return _hit(ctx, rule, detail, evidence)

    return check


RULES: tuple[Callable[[_Context], RuleHit | None], ...] = (
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


# --- the verdict -------------------------------------------------------------------------


def assess(
    operation: str,
    presented: PresentedCard | None,
    *,
    amount_cents: int | None = None,
    member_id: int | None = None,
) -> RiskDecision:
    """Run the rules for an operation; raise the refusal a rule demands, else return the verdict.

    ``member_id`` names the member when no card was presented (a refund, a member's own
    request); the presented card's member wins otherwise.
    """
    identity = g.get("identity") if has_request_context() else None
    if member_id is None and presented is not None:
        member_id = presented.member_id
    if member_id is None and identity is not None and identity.kind == "member":
        member_id = identity.subject_id
    ctx = _Context(
        operation=operation,
        presented=presented,
        member_id=member_id,
        identity=identity,
        amount_cents=amount_cents,
        settings=rule_settings(),
        now=utcnow(),
    )
    hits = tuple(hit for rule in RULES if (hit := rule(ctx)) is not None)
    score = min(MAX_SCORE, sum(hit.score for hit in hits))
    action = max((hit.action for hit in hits), key=ACTIONS.index, default="allow")
    update_attempt(risk_score=score)
    approved_by: int | None = None
    bad_approval: Problem | None = None
    outcome = action
    if action == "step-up":
        step_ups = [hit for hit in hits if hit.action == "step-up"]
        live_code_shown = presented is not None and presented.credential == "rotating"
        if live_code_shown and all(hit.rule in LIVE_CODE_ANSWERS for hit in step_ups):
            outcome = "live-code"
        else:
            try:
                approved_by = manager_approval(operation, hits)
            except Problem as problem:
                bad_approval = problem
            outcome = "approved" if approved_by is not None else "refused"
    elif action == "deny":
        outcome = "refused"
    card_id = presented.card_id if presented is not None else None
    for hit in hits:
        if hit.action == "allow":
            continue
        raise_event(
            hit.rule,
            severity=hit.severity,
            action=hit.action,
            detail={**hit.detail, "operation": operation, "outcome": outcome, "score": score},
            member_id=member_id,
            card_id=card_id,
            evidence=hit.evidence,
            approved_by=approved_by if hit.action == "step-up" else None,
        )
    rules = [hit.rule for hit in hits if hit.action == action]
    if bad_approval is not None:
        raise bad_approval
    if action == "deny":
        raise Problem(
            "risk-denied",
            403,
            "Refused by the fraud rules",
            "This request was refused by the shop's fraud rules; staff have been notified.",
            rules=rules,
        )
    if outcome == "refused":
        accepts = ["manager-approval"]
        if all(rule in LIVE_CODE_ANSWERS for rule in rules):
            accepts.insert(0, "rotating-code")
        raise Problem(
            "step-up-required",
            428,
            "Step-up required",
            "This needs the member's live (rotating) code or a manager's approval on the till."
            if "rotating-code" in accepts
            else "This needs a manager's approval on the till.",
            rules=rules,
            accepts=accepts,
        )
    return RiskDecision(score, action, hits, approved_by)


def manager_approval(operation: str, hits: Sequence[RuleHit]) -> int | None:
    """Return the staff id of the manager approving this till request, if one did (audited)."""
    if not has_request_context():
        return None
    token = request.headers.get(APPROVAL_HEADER, "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        return None
    till = g.get("identity")
    approver: Identity | None = None
    for audience in (TILL_AUDIENCE, API_AUDIENCE):
        try:
            approver = decode_access_token(token, audience)
            break
        except Problem:
            continue
    staff = db.session.get(StaffAccount, approver.subject_id) if approver else None
    if (
        approver is None
        or approver.kind not in ("staff", "till")
        or staff is None
        or not staff.active
        or staff.role not in APPROVER_ROLES
        or till is None
        or till.store_id is None
        or not staff.works_in(till.store_id)
    ):
        raise _bad_approval("The approval must be the access token of a manager of this store.")
    if staff.id == till.subject_id:
        raise _bad_approval("A manager cannot approve their own till session; ask another one.")
    db.session.add(
        StaffAudit(
            staff_id=staff.id,
            action="approve-step-up",
            target_type="till",
            target_id=str(till.till_id),
            detail={
                "operation": operation,
                "rules": [hit.rule for hit in hits if hit.action == "step-up"],
                "cashier_id": till.subject_id,
                "request_id": g.get("request_id"),
            },
        )
    )
    return staff.id


def _bad_approval(detail: str) -> Problem:
    return Problem("invalid-manager-approval", 403, "Invalid manager approval", detail)


def on_refusal(attempt: Attempt) -> None:
    """Raise the event a refusal rule asks for when a till attempt was refused (at finish)."""
    rule = REFUSAL_RULES.get(attempt.refusal_type or "")
    if rule is None:
        return
    settings = rule_settings()[rule]
    attempt.risk_score = max(attempt.risk_score or 0, int(settings["score"]))
    if settings["action"] == "allow":
        return
    pending = build_event(
        rule,
        severity=str(settings["severity"]),
        action=str(settings["action"]),
        detail={"refusal": attempt.refusal_type, "operation": attempt.operation},
        member_id=attempt.member_id,
        card_id=attempt.card_id,
        till_id=attempt.till_id,
        store_id=attempt.store_id,
        staff_id=attempt.staff_id,
    )
    write_event(pending, attempt)


def screen_member_signup() -> None:
    """Record a member sign-up as an attempt and run the sign-up rules on it."""
    from app.fraud.attempts import note_attempt

    note_attempt("member-signup")
    assess("member-signup", None)
