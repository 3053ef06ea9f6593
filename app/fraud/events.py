"""Fraud events: describing one, and writing it with the attempts behind it as evidence.

``build_event`` describes an event about the current request; ``write_event`` writes it (or
joins it to the open one). Events raised *during* a request wait until it ends and are written
by ``app.fraud.attempts.raise_event``, after the request's own attempt, whatever the outcome.

Repeats join the open event instead of opening a new one: an event that is still open for
the same rule and the same subject (the till, card, member or address it is about) and was
last seen less than ``FRAUD_EVENT_MERGE_SECONDS`` (default 3600) ago gets the new evidence and
a new ``last_seen_at``. A till hammering a forged code raises one event with many attempts,
not hundreds of events. Two processes may both open an event for the same burst at the same
instant; that costs a duplicate in the queue, never a lost attempt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt, FraudEvent, FraudEventAttempt

DEFAULT_MERGE_SECONDS = 3600
EVIDENCE_LIMIT = 50


@dataclass
class PendingEvent:
    """An event raised during a request, to be written when the request ends."""

    rule: str
    severity: str
    action: str
    subject: str
    detail: dict[str, Any] = field(default_factory=dict)
    member_id: int | None = None
    card_id: str | None = None
    till_id: int | None = None
    store_id: int | None = None
    staff_id: int | None = None
    client_address: str | None = None
    approved_by: int | None = None
    evidence: list[int] = field(default_factory=list)


def _subject(pending: PendingEvent) -> str:
    if pending.card_id:
        return f"card:{pending.card_id}"
    if pending.member_id is not None:
        return f"member:{pending.member_id}"
    if pending.till_id is not None:
        return f"till:{pending.till_id}"
    if pending.staff_id is not None:
        return f"staff:{pending.staff_id}"
    return f"addr:{pending.client_address or '-'}"


def build_event(
    rule: str,
    *,
    severity: str,
    action: str,
    detail: dict[str, Any] | None = None,
    member_id: int | None = None,
    card_id: object | None = None,
    till_id: int | None = None,
    store_id: int | None = None,
    staff_id: int | None = None,
    subject: str | None = None,
    evidence: Iterable[int] = (),
    approved_by: int | None = None,
) -> PendingEvent:
    """Describe an event about the current request (till, staff, address from the request)."""
    identity = g.get("identity") if has_request_context() else None
    if identity is not None and identity.kind == "till":
        till_id = till_id if till_id is not None else identity.till_id
        store_id = store_id if store_id is not None else identity.store_id
    if identity is not None and identity.kind in ("till", "staff") and staff_id is None:
        staff_id = identity.subject_id
    if identity is not None and identity.kind == "member" and member_id is None:
        member_id = identity.subject_id
    pending = PendingEvent(
        rule=rule,
        severity=severity,
        action=action,
        subject="",
        detail=dict(detail or {}),
        member_id=member_id,
        card_id=str(card_id) if card_id is not None else None,
        till_id=till_id,
        store_id=store_id,
        staff_id=staff_id,
        client_address=(request.remote_addr or None) if has_request_context() else None,
        approved_by=approved_by,
        evidence=list(evidence),
    )
    pending.subject = subject or _subject(pending)
    return pending


def write_event(pending: PendingEvent, attempt: Attempt | None) -> FraudEvent:
    """Write an event now (or join the open one for the same rule and subject)."""
    now = utcnow()
    merge_seconds = current_app.config.get("FRAUD_EVENT_MERGE_SECONDS", DEFAULT_MERGE_SECONDS)
    event = db.session.scalar(
        select(FraudEvent)
        .where(
            FraudEvent.rule == pending.rule,
            FraudEvent.status == "open",
            FraudEvent.subject == pending.subject,
            FraudEvent.last_seen_at >= now - timedelta(seconds=merge_seconds),
        )
        .order_by(FraudEvent.id.desc())
        .limit(1)
        .with_for_update()
    )
    if event is None:
        event = FraudEvent(
            rule=pending.rule,
            severity=pending.severity,
            action=pending.action,
            subject=pending.subject,
            detail=pending.detail,
            member_id=pending.member_id,
            card_id=pending.card_id,
            till_id=pending.till_id,
            store_id=pending.store_id,
            staff_id=pending.staff_id,
            client_address=pending.client_address,
            approved_by=pending.approved_by,
            created_at=now,
            last_seen_at=now,
        )
        db.session.add(event)
        db.session.flush()
        already: set[int] = set()
    else:
        event.last_seen_at = now
        event.action = pending.action
        event.detail = {
            **event.detail,
            **pending.detail,
            "repeats": event.detail.get("repeats", 0) + 1,
        }
        if pending.approved_by is not None:
            event.approved_by = pending.approved_by
        already = set(
            db.session.scalars(
                select(FraudEventAttempt.attempt_id).where(FraudEventAttempt.event_id == event.id)
            )
        )
    evidence = list(dict.fromkeys([*pending.evidence, *([attempt.id] if attempt else [])]))
    for attempt_id in evidence[-EVIDENCE_LIMIT:]:
        if attempt_id not in already:
            db.session.add(FraudEventAttempt(event_id=event.id, attempt_id=attempt_id))
    db.session.flush()
    return event


def recent_attempt_ids(*conditions: Any, since_seconds: float, limit: int = 20) -> Sequence[int]:
    """Return the ids of the newest attempts matching ``conditions`` in the last seconds."""
    since = utcnow() - timedelta(seconds=since_seconds)
    return list(
        db.session.scalars(
            select(Attempt.id)
            .where(Attempt.occurred_at >= since, *conditions)
            .order_by(Attempt.id.desc())
            .limit(limit)
        )
    )[::-1]
