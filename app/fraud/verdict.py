"""The verdict on a request: run the rules, add up the risk, and act on the strongest hit.

``assess(ctx)`` is called where the caller knows the member and is about to change something
(book a purchase, refund, redeem a coupon, claim a reward, create a member). Every rule that
hits (``app.fraud.rules``) has an action, set by the admins (``app.fraud.settings``):

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
rollback (``app.fraud.attempts``).

The approval token is decoded by the caller (the till pipeline), which knows the token
formats; here it arrives as an ``Approval`` naming the staff account, and the verdict checks
that this account may approve here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from flask import g, has_request_context, request

from app.accounts.models import StaffAccount
from app.db import utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.fraud.attempts import note_attempt, raise_event, update_attempt
from app.fraud.models import StaffAudit
from app.fraud.rules import UNREAD, Caller, PriorUse, RiskContext, RuleHit, Unread, run_rules
from app.fraud.settings import ACTIONS, rule_settings

APPROVER_ROLES = ("manager", "admin")
MAX_SCORE = 100
# Step-ups a rotating code answers; every other step-up needs a manager.
LIVE_CODE_ANSWERS = frozenset({"live-code", "impossible-travel"})


@dataclass(frozen=True)
class Approval:
    """A manager's approval shown with a till request: the staff account its token names.

    ``staff_id`` is ``None`` when the token did not verify.
    """

    staff_id: int | None


@dataclass(frozen=True)
class RiskDecision:
    """The verdict on one request: total score, the action taken, the rules that fired."""

    score: int
    action: str
    events: tuple[RuleHit, ...]
    approved_by: int | None = None


def risk_context(
    operation: str,
    caller: Caller,
    *,
    member_id: int | None = None,
    card_id: uuid.UUID | None = None,
    credential: str | None = None,
    amount_cents: int | None = None,
    member_email: str | None = None,
    prior_use: PriorUse | None | Unread = UNREAD,
) -> RiskContext:
    """Build the rules' view of a request, with the current settings and time."""
    return RiskContext(
        operation=operation,
        caller=caller,
        member_id=member_id,
        card_id=card_id,
        credential=credential,
        amount_cents=amount_cents,
        settings=rule_settings(),
        now=utcnow(),
        member_email=member_email,
        prior_use=prior_use,
    )


def assess(ctx: RiskContext, approval: Approval | None = None) -> RiskDecision:
    """Run the rules; raise the refusal a rule demands, else return the verdict."""
    hits = run_rules(ctx)
    score = min(MAX_SCORE, sum(hit.score for hit in hits))
    action = max((hit.action for hit in hits), key=ACTIONS.index, default="allow")
    update_attempt(risk_score=score)
    approved_by: int | None = None
    bad_approval: Problem | None = None
    outcome = action
    if action == "step-up":
        step_ups = [hit for hit in hits if hit.action == "step-up"]
        if ctx.credential == "rotating" and all(hit.rule in LIVE_CODE_ANSWERS for hit in step_ups):
            outcome = "live-code"
        else:
            try:
                approved_by = _approving_manager(ctx, approval, hits)
            except Problem as problem:
                bad_approval = problem
            outcome = "approved" if approved_by is not None else "refused"
    elif action == "deny":
        outcome = "refused"
    for hit in hits:
        if hit.action == "allow":
            continue
        raise_event(
            hit.rule,
            severity=hit.severity,
            action=hit.action,
            detail={**hit.detail, "operation": ctx.operation, "outcome": outcome, "score": score},
            member_id=ctx.member_id,
            card_id=ctx.card_id,
            evidence=hit.evidence,
            approved_by=approved_by if hit.action == "step-up" else None,
        )
    rules = [hit.rule for hit in hits if hit.action == action]
    if bad_approval is not None:
        raise bad_approval
    if action == "deny":
        raise DomainError(
            "risk-denied",
            "This request was refused by the shop's fraud rules; staff have been notified.",
            rules=rules,
        )
    if outcome == "refused":
        accepts = ["manager-approval"]
        if all(rule in LIVE_CODE_ANSWERS for rule in rules):
            accepts.insert(0, "rotating-code")
        raise DomainError(
            "step-up-required",
            "This needs the member's live (rotating) code or a manager's approval on the till."
            if "rotating-code" in accepts
            else "This needs a manager's approval on the till.",
            rules=rules,
            accepts=accepts,
        )
    return RiskDecision(score, action, hits, approved_by)


def _approving_manager(
    ctx: RiskContext, approval: Approval | None, hits: Sequence[RuleHit]
) -> int | None:
    """Return the staff id of the manager approving this till request, if one did (audited)."""
    if approval is None:
        return None
    till = ctx.caller
    staff = db.session.get(StaffAccount, approval.staff_id) if approval.staff_id else None
    if (
        staff is None
        or not staff.active
        or staff.role not in APPROVER_ROLES
        or till.kind != "till"
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
                "operation": ctx.operation,
                "rules": [hit.rule for hit in hits if hit.action == "step-up"],
                "cashier_id": till.subject_id,
                "request_id": g.get("request_id") if has_request_context() else None,
            },
        )
    )
    return staff.id


def _bad_approval(detail: str) -> DomainError:
    return DomainError("invalid-manager-approval", detail)


def request_caller() -> Caller:
    """Return the caller of the current request (its identity and client address)."""
    if not has_request_context():
        return Caller("anonymous")
    identity = g.get("identity")
    address = request.remote_addr or None
    if identity is None:
        return Caller("anonymous", client_address=address)
    return Caller(
        identity.kind,
        identity.subject_id,
        till_id=identity.till_id,
        store_id=identity.store_id,
        client_address=address,
    )


def assess_member_request(operation: str, member_id: int | None) -> RiskDecision:
    """Judge a member's own request (a reward claim in the app, a sign-up)."""
    caller = request_caller()
    if member_id is None and caller.kind == "member":
        member_id = caller.subject_id
    return assess(risk_context(operation, caller, member_id=member_id))


def screen_member_signup() -> None:
    """Record a member sign-up as an attempt and run the sign-up rules on it."""
    note_attempt("member-signup")
    assess_member_request("member-signup", None)
