"""Offline tills: replaying what a till did while the network was down.

A till that loses the network keeps working (it checks coupon check symbols and LW1 card
signatures locally) and queues each purchase or redemption with a client-made UUID, its own
sequence number and its local time. ``POST /api/v1/till/sync`` takes the queue in one batch and
answers per event, in sequence order.

Idempotency. Each event's UUID is its idempotency key, in the same scope as the till's online
requests (``till:<id>``) and with the same request fingerprint as the online route, for the
payload the online route accepts. So an online redemption whose answer was lost and that the till
then queued under the same UUID is answered with the online result, and replaying a batch (or
one event twice in a batch) changes nothing. Unlike online requests, every outcome of an offline
event is final and is stored: the till already gave the discount, so a refusal is not something
to retry but something for staff to look at.

Conflicts. An offline redemption the server cannot accept (someone redeemed the coupon first,
it was voided, expired, unknown, or the event is older than the allowed offline age) is answered
``conflict`` and written to ``sync_conflicts`` with status ``open``, never dropped. So is one
worth more than the manager's floor limit: that one is still recorded as a redemption (the
coupon was used and must not be used again) but flagged ``over-floor-limit`` for review.

Each event runs through the till pipeline (``app.till.pipeline``) with the online route's own
operation (``BookPurchase``, ``RedeemCoupon``) in its own savepoints, so one event's failure
never undoes another's work; the batch commits together at the end of the request. A refused
offline purchase (unknown card, receipt booked before, ...) is a conflict too, since the
customer left the shop believing they earned points.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.campaigns.codes import storage_keys
from app.campaigns.models import Coupon, SyncConflict
from app.campaigns.redemption import OfflineContext
from app.campaigns.schemas import OfflineRedeemPayloadSchema
from app.campaigns.settings import coupon_settings
from app.db import utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.fraud.attempts import fingerprint_code, raise_event
from app.fraud.models import Attempt
from app.idempotency import IdempotencyKey, request_fingerprint, seal_answer, unseal_answer
from app.ledger.schemas import PurchaseRequestSchema
from app.request_limits import harden_schema
from app.till.operations import BookPurchase, RedeemCoupon
from app.till.pipeline import TillContext, run_till_operation
from coupons.codes import normalise_code
from coupons.errors import InvalidCode
from coupons.storage import code_lookup_hash

REDEEM_OPERATION = RedeemCoupon.name
PURCHASE_OPERATION = BookPurchase.name  # the online routes use the same operations
# Fields an offline event may carry that the online route does not take; they are left out of
# the request fingerprint so an event and its online twin match.
OFFLINE_ONLY_FIELDS = ("discount_cents",)
OFFLINE_REDEEM_ATTEMPT = "coupon-redeem-offline"
OFFLINE_PURCHASE_ATTEMPT = "purchase-offline"


def offline_policy() -> dict[str, int]:
    """Return the limits an offline till must apply, as the managers set them."""
    settings = coupon_settings()
    return {
        "offline_floor_limit_cents": settings["offline_floor_limit_cents"],
        "offline_floor_limit_points": settings["offline_floor_limit_points"],
        "offline_max_age_hours": settings["offline_max_age_hours"],
    }


def sync_events(events: Sequence[Mapping[str, Any]], *, till: TillContext) -> dict[str, Any]:
    """Apply a batch of offline events in sequence order; answer each one."""
    policy = offline_policy()
    ordered = sorted(events, key=lambda event: event["sequence"])
    results = [_process_event(event, till, policy) for event in ordered]
    return {"results": results, "policy": policy}


def _result(
    event: Mapping[str, Any], status: str, status_code: int, body: Any, replayed: bool
) -> dict[str, Any]:
    """Return the answer to one event."""
    return {
        "event_id": str(event["event_id"]),
        "sequence": event["sequence"],
        "type": event["type"],
        "status": status,
        "status_code": status_code,
        "replayed": replayed,
        "result": body,
    }


def _process_event(
    event: Mapping[str, Any], till: TillContext, policy: Mapping[str, int]
) -> dict[str, Any]:
    """Claim the event's id, apply the event once, and store its outcome under the id."""
    is_redemption = event["type"] == "redemption"
    operation = REDEEM_OPERATION if is_redemption else PURCHASE_OPERATION
    try:
        payload = _load_payload(event)
    except ValidationError as exc:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        problem = Problem(
            "validation-error",
            422,
            "Invalid event",
            "The event's payload is missing fields or has invalid ones.",
            errors={"payload": exc.messages},
        )
        return _result(event, "rejected", problem.status, problem.to_dict(), False)
    fingerprint_payload = {k: v for k, v in payload.items() if k not in OFFLINE_ONLY_FIELDS}
    claim = IdempotencyKey(
        scope=f"till:{till.till_id}",
        key=str(event["event_id"]),
        operation=operation,
        request_hash=request_fingerprint(operation, fingerprint_payload),
    )
    body: dict[str, Any] | None = None
    try:
        with db.session.begin_nested():  # the claim and the work are kept or undone together
            try:
                with db.session.begin_nested():
                    db.session.add(claim)
            except IntegrityError:
                pass  # the id was used before: replay below
            else:
                apply = _redeem_offline if is_redemption else _purchase_offline
                body, status_code = apply(event, payload, till, policy)
                claim.status_code = status_code
                claim.response_body = seal_answer(
                    claim.scope, claim.key, json.dumps(body, default=str)
                )
                db.session.flush()
    except OperationalError:
        # PostgreSQL broke a deadlock with another till's batch (both redeemed the same codes
        # offline, in opposite orders) by cancelling this event: nothing of it stays, resend it.
        problem = DomainError("conflict", "This event collided with another sync; send it again.")
        return _result(event, "rejected", problem.status, problem.to_dict(), False)
    if body is None:
        return _replay(event, claim)
    status = "conflict" if "conflict_id" in body else "accepted"
    return _result(event, status, status_code, body, False)


def _load_payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """Validate an event's payload with the schema of the matching online route."""
    if event["type"] == "redemption":
        schema = harden_schema(OfflineRedeemPayloadSchema(), strict_integers=True)
        loaded: dict[str, Any] = schema.load(event["payload"])
        return loaded
    purchase_schema = harden_schema(PurchaseRequestSchema(), strict_integers=True)
    purchase: dict[str, Any] = purchase_schema.load(event["payload"])
    return purchase


def _check_offline_age(local_time: datetime, policy: Mapping[str, int]) -> None:
    """Refuse an offline event older than the managers allow."""
    max_age = timedelta(hours=policy["offline_max_age_hours"])
    if utcnow() - local_time > max_age:
        raise DomainError(
            "offline-event-too-old", f"Offline events must reach the server within {max_age}."
        )


def _purchase_offline(
    event: Mapping[str, Any],
    payload: Mapping[str, Any],
    till: TillContext,
    policy: Mapping[str, int],
) -> tuple[dict[str, Any], int]:
    """Book one offline purchase as the online route does; a refusal becomes an open conflict."""
    try:
        with db.session.begin_nested():
            _check_offline_age(event["local_time"], policy)
            answer = run_till_operation(till, BookPurchase(payload), offline=True).body
    except Problem as problem:
        conflict = _open_conflict(
            event,
            till,
            reason=problem.type,
            detail=problem,
            code=payload["code"],
            receipt_id=payload["receipt_id"],
        )
        _record_attempt(
            OFFLINE_PURCHASE_ATTEMPT, payload["code"], till, problem.status, problem.type
        )
        return {**problem.to_dict(), "conflict_id": conflict.id}, problem.status
    _record_attempt(OFFLINE_PURCHASE_ATTEMPT, payload["code"], till, 201, None)
    return answer, 201


def _replay(event: Mapping[str, Any], claim: IdempotencyKey) -> dict[str, Any]:
    """Answer an event whose UUID was used before, online or in an earlier batch."""
    existing = db.session.scalar(
        select(IdempotencyKey)
        .where(IdempotencyKey.scope == claim.scope, IdempotencyKey.key == claim.key)
        .execution_options(populate_existing=True)
    )
    assert existing is not None
    if existing.request_hash != claim.request_hash or existing.operation != claim.operation:
        problem = DomainError(
            "idempotency-key-reused",
            "This event id was used for a different request; give each event a new UUID.",
        )
        return _result(event, "rejected", problem.status, problem.to_dict(), False)
    body = json.loads(unseal_answer(existing.scope, existing.key, existing.response_body or "{}"))
    status_code = existing.status_code or 200
    status = "conflict" if "conflict_id" in body or status_code >= 400 else "accepted"
    return _result(event, status, status_code, body, True)


def _redeem_offline(
    event: Mapping[str, Any],
    payload: Mapping[str, Any],
    till: TillContext,
    policy: Mapping[str, int],
) -> tuple[dict[str, Any], int]:
    """Apply one offline redemption; a refusal becomes an open conflict, never a loss."""
    offline = OfflineContext(
        event_id=str(event["event_id"]),
        local_time=event["local_time"],
        floor_limit_cents=policy["offline_floor_limit_cents"],
        floor_limit_points=policy["offline_floor_limit_points"],
    )
    try:
        with db.session.begin_nested():
            _check_offline_age(offline.local_time, policy)
            operation = RedeemCoupon(payload, offline=offline)
            answer = run_till_operation(till, operation, offline=True).body
    except Problem as problem:
        conflict = _open_redemption_conflict(event, payload, till, problem, None)
        _record_attempt(
            "coupon-redeem-offline", payload["code"], till, problem.status, problem.type
        )
        return {**problem.to_dict(), "conflict_id": conflict.id}, problem.status
    _record_attempt(OFFLINE_REDEEM_ATTEMPT, payload["code"], till, 200, None)
    if answer["flag"] is not None:
        # Problem, not DomainError: the type is the redemption's stored flag, not a fixed one.
        over_limit = Problem(
            str(answer["flag"]),
            409,
            "Over the offline floor limit",
            "The redemption was worth more than an offline till may accept; it is recorded and "
            "waits for review.",
        )
        redemption_id = uuid.UUID(answer["redemption_id"])
        answer["conflict_id"] = _open_redemption_conflict(
            event, payload, till, over_limit, redemption_id
        ).id
    return answer, 200


def _coupon_for_code(text: str) -> Coupon | None:
    """Find the coupon a code names without raising (for the conflict record)."""
    try:
        canonical = normalise_code(text)
    except InvalidCode:
        return None
    code_hash = code_lookup_hash(canonical, storage_keys().lookup)
    return db.session.scalar(
        select(Coupon)
        .where(Coupon.code_hash == code_hash)
        .execution_options(populate_existing=True)
    )


def _open_redemption_conflict(
    event: Mapping[str, Any],
    payload: Mapping[str, Any],
    till: TillContext,
    problem: Problem,
    redemption_id: uuid.UUID | None,
) -> SyncConflict:
    """Queue an offline redemption for review, naming the coupon and who won it, if anyone."""
    coupon = _coupon_for_code(payload["code"])
    winning = None
    if coupon is not None and redemption_id is None:
        winning = coupon.redemption_id
    return _open_conflict(
        event,
        till,
        reason=problem.type,
        detail=problem,
        code=payload["code"],
        receipt_id=payload["receipt_id"],
        coupon_id=coupon.id if coupon is not None else None,
        claimed_discount_cents=payload.get("discount_cents"),
        winning_redemption_id=winning,
        redemption_id=redemption_id,
    )


def _open_conflict(
    event: Mapping[str, Any],
    till: TillContext,
    *,
    reason: str,
    detail: Problem,
    code: str,
    receipt_id: str,
    coupon_id: int | None = None,
    claimed_discount_cents: int | None = None,
    winning_redemption_id: uuid.UUID | None = None,
    redemption_id: uuid.UUID | None = None,
) -> SyncConflict:
    """Put an offline event that could not simply be accepted in the review queue."""
    conflict = SyncConflict(
        event_id=str(event["event_id"]),
        event_type=str(event["type"]),
        sequence=int(event["sequence"]),
        local_time=event["local_time"],
        till_id=till.till_id,
        store_id=till.store_id,
        staff_id=till.staff_id,
        reason=reason,
        detail=(detail.detail or detail.title)[:300],
        coupon_id=coupon_id,
        code_fingerprint=fingerprint_code(code),
        receipt_id=receipt_id,
        claimed_discount_cents=claimed_discount_cents,
        winning_redemption_id=winning_redemption_id,
        redemption_id=redemption_id,
    )
    db.session.add(conflict)
    db.session.flush()
    raise_event(  # the conflict also appears in the fraud review queue
        "sync-conflict",
        severity="medium",
        action="flag",
        subject=f"sync-conflict:{conflict.id}",
        detail={
            "sync_conflict_id": conflict.id,
            "reason": reason,
            "event_type": conflict.event_type,
        },
    )
    return conflict


def _record_attempt(
    operation: str, code: str, till: TillContext, status_code: int, refusal_type: str | None
) -> None:
    """Put an offline event in the attempt log, like an online request."""
    db.session.add(
        Attempt(
            occurred_at=utcnow(),
            operation=operation,
            outcome="accepted" if status_code < 400 else "refused",
            refusal_type=refusal_type,
            status_code=status_code,
            till_id=till.till_id,
            store_id=till.store_id,
            staff_id=till.staff_id,
            code_fingerprint=fingerprint_code(code),
        )
    )
