"""The staff side of anti-fraud: the review queue, blocks, the rules, the audit and the summary.

Managers and admins review events (newest first, filtered by status, severity, rule, store),
each with its evidence: the attempts behind it. Resolving is one conditional ``UPDATE ...
WHERE status = 'open'``, so two reviewers cannot both resolve the same event; the second gets
``event-already-resolved``. Resolving records a verdict (``legitimate`` or ``fraud``) and a
note; it does not block anyone by itself: blocking is a separate, explicit action.

Scope: admins see and act on everything. Managers see events and summaries of the stores they
work in (and events with no store, such as sign-up bursts), and may block tills of their own
stores only; members and cards they may block wherever they are used.

Every staff action here (resolve, block, unblock, rule change) writes a ``staff_audit`` row in
the same transaction as the action itself, so an action and its audit entry exist together or
not at all. Manager approvals on the till are audited by ``app.fraud.verdict``.

Answers name people and places beside their ids (``member``, ``staff``, ``store``, ``till``,
``resolved_by_staff`` as ``{"id", "name"}``, see ``app.naming``), resolved with one query per
kind for a whole page, so reviewers read "Ada Lovelace at Berlin Mitte, till 1" rather than ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, or_, select, true, update

from app.accounts.models import Member, StaffAccount, StaffRole
from app.auth.tokens import Identity
from app.cards.models import Card
from app.db import iso_or_none, utcnow
from app.errors import DomainError, Problem
from app.extensions import db
from app.fraud.models import Attempt, CardBlock, FraudEvent, FraudEventAttempt, StaffAudit
from app.fraud.settings import (
    RULE_ACTIONS,
    RULE_DEFAULTS,
    RULE_DESCRIPTIONS,
    load_rule_settings,
    update_rule_settings,
)
from app.naming import NameBook
from app.stores.models import Store, Till

BLOCK_TARGETS = ("member", "card", "till")
RESOLUTIONS = ("legitimate", "fraud")
EVIDENCE_PER_EVENT = 50


def _staff(identity: Identity) -> StaffAccount:
    staff = db.session.get(StaffAccount, identity.subject_id)
    if staff is None or not staff.active:
        raise DomainError("forbidden", "This staff account is not active.")
    return staff


def store_scope(identity: Identity) -> list[int] | None:
    """Return the stores a staff account may review (``None``: all of them)."""
    if identity.role == StaffRole.ADMIN:
        return None
    return _staff(identity).store_ids


def _audit(staff_id: int, action: str, target_type: str, target_id: object, **detail: Any) -> None:
    db.session.add(
        StaffAudit(
            staff_id=staff_id,
            action=action,
            target_type=target_type,
            target_id=str(target_id),
            detail=detail,
        )
    )


# --- events ------------------------------------------------------------------------------


def _want_names(names: NameBook, row: Attempt | FraudEvent) -> None:
    names.want("member", row.member_id)
    names.want("staff", row.staff_id)
    names.want("store", row.store_id)
    names.want("till", row.till_id)


def _names_of(names: NameBook, row: Attempt | FraudEvent) -> dict[str, Any]:
    return {
        "member": names.ref("member", row.member_id),
        "staff": names.ref("staff", row.staff_id),
        "store": names.ref("store", row.store_id),
        "till": names.ref("till", row.till_id),
    }


def attempt_view(attempt: Attempt, names: NameBook) -> dict[str, Any]:
    """Return an attempt as the review API shows it (a fingerprint, never a code)."""
    return {
        **_names_of(names, attempt),
        "id": attempt.id,
        "occurred_at": iso_or_none(attempt.occurred_at),
        "operation": attempt.operation,
        "outcome": attempt.outcome,
        "refusal_type": attempt.refusal_type,
        "status_code": attempt.status_code,
        "till_id": attempt.till_id,
        "store_id": attempt.store_id,
        "staff_id": attempt.staff_id,
        "member_id": attempt.member_id,
        "card_id": attempt.card_id,
        "code_fingerprint": attempt.code_fingerprint,
        "risk_score": attempt.risk_score,
        "request_id": attempt.request_id,
        "client_address": attempt.client_address,
    }


def event_views(
    events: Sequence[FraudEvent], evidence: dict[int, list[Attempt]]
) -> list[dict[str, Any]]:
    """Return events with their evidence as the review API shows them, names included."""
    names = NameBook()
    for event in events:
        _want_names(names, event)
        names.want("staff", event.resolved_by, event.approved_by)
        for attempt in evidence[event.id]:
            _want_names(names, attempt)
    names.load()
    return [event_view(event, evidence[event.id], names) for event in events]


def event_view(event: FraudEvent, evidence: Sequence[Attempt], names: NameBook) -> dict[str, Any]:
    """Return an event with its evidence as the review API shows it."""
    return {
        **_names_of(names, event),
        "resolved_by_staff": names.ref("staff", event.resolved_by),
        "approved_by_staff": names.ref("staff", event.approved_by),
        "id": event.id,
        "rule": event.rule,
        "severity": event.severity,
        "action": event.action,
        "status": event.status,
        "resolution": event.resolution,
        "note": event.note,
        "detail": event.detail,
        "subject": event.subject,
        "member_id": event.member_id,
        "card_id": event.card_id,
        "till_id": event.till_id,
        "store_id": event.store_id,
        "staff_id": event.staff_id,
        "client_address": event.client_address,
        "approved_by": event.approved_by,
        "created_at": iso_or_none(event.created_at),
        "last_seen_at": iso_or_none(event.last_seen_at),
        "resolved_at": iso_or_none(event.resolved_at),
        "resolved_by": event.resolved_by,
        "evidence": [attempt_view(attempt, names) for attempt in evidence],
    }


def _in_scope(column: Any, scope: list[int] | None) -> ColumnElement[bool]:
    if scope is None:
        return true()
    return or_(column.in_(scope), column.is_(None))


def _evidence(event_ids: Sequence[int]) -> dict[int, list[Attempt]]:
    found: dict[int, list[Attempt]] = {event_id: [] for event_id in event_ids}
    if not event_ids:
        return found
    rows = db.session.execute(
        select(FraudEventAttempt.event_id, Attempt)
        .join(Attempt, Attempt.id == FraudEventAttempt.attempt_id)
        .where(FraudEventAttempt.event_id.in_(event_ids))
        .order_by(Attempt.id)
    )
    for event_id, attempt in rows:
        if len(found[event_id]) < EVIDENCE_PER_EVENT:
            found[event_id].append(attempt)
    return found


def list_events(
    identity: Identity,
    *,
    status: str | None = None,
    severity: str | None = None,
    rule: str | None = None,
    store_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """List events newest first, with their evidence, within the caller's stores."""
    query: Select[tuple[FraudEvent]] = select(FraudEvent).where(
        _in_scope(FraudEvent.store_id, store_scope(identity))
    )
    if status:
        query = query.where(FraudEvent.status == status)
    if severity:
        query = query.where(FraudEvent.severity == severity)
    if rule:
        query = query.where(FraudEvent.rule == rule)
    if store_id is not None:
        query = query.where(FraudEvent.store_id == store_id)
    if before_id is not None:
        query = query.where(FraudEvent.id < before_id)
    events = db.session.scalars(query.order_by(FraudEvent.id.desc()).limit(limit)).all()
    evidence = _evidence([event.id for event in events])
    return event_views(events, evidence)


def _event_in_scope(identity: Identity, event_id: int) -> FraudEvent:
    event = db.session.get(FraudEvent, event_id)
    scope = store_scope(identity)
    if event is None or (
        scope is not None and event.store_id is not None and event.store_id not in scope
    ):
        raise DomainError("unknown-event", f"There is no event {event_id}.")
    return event


def get_event(identity: Identity, event_id: int) -> dict[str, Any]:
    """Return one event with its evidence."""
    event = _event_in_scope(identity, event_id)
    return event_views([event], _evidence([event.id]))[0]


def resolve_event(
    identity: Identity, event_id: int, resolution: str, note: str | None
) -> dict[str, Any]:
    """Close an open event with a verdict and a note (once: a second resolve is refused)."""
    event = _event_in_scope(identity, event_id)
    now = utcnow()
    resolved = db.session.execute(
        update(FraudEvent)
        .where(FraudEvent.id == event.id, FraudEvent.status == "open")
        .values(
            status="resolved",
            resolution=resolution,
            note=note,
            resolved_at=now,
            resolved_by=identity.subject_id,
        )
        .returning(FraudEvent.id)
        .execution_options(synchronize_session=False)
    ).first()
    if resolved is None:
        db.session.refresh(event)
        raise DomainError(
            "event-already-resolved",
            "Someone resolved this event already.",
            resolution=event.resolution,
            resolved_at=iso_or_none(event.resolved_at),
        )
    _audit(
        identity.subject_id, "resolve-event", "event", event.id, resolution=resolution, note=note
    )
    db.session.flush()
    db.session.refresh(event)
    return get_event(identity, event.id)


# --- blocks ------------------------------------------------------------------------------


def _unknown_target(target_type: str, target_id: str) -> DomainError:
    return DomainError("unknown-target", f"There is no {target_type} {target_id}.")


def _int_id(target_type: str, target_id: str) -> int:
    try:
        return int(target_id)
    except ValueError:
        raise _unknown_target(target_type, target_id) from None


def _card_id(target_id: str) -> str:
    try:
        card_id = uuid.UUID(target_id)
    except ValueError:
        raise _unknown_target("card", target_id) from None
    if db.session.get(Card, card_id) is None:
        raise _unknown_target("card", target_id)
    return str(card_id)


def set_block(
    identity: Identity, target_type: str, target_id: str, *, blocked: bool, reason: str | None
) -> dict[str, Any]:
    """Block or unblock a member, card or till (idempotent) and audit it."""
    if target_type == "member":
        member = db.session.get(Member, _int_id("member", target_id), with_for_update=True)
        if member is None:
            raise _unknown_target("member", target_id)
        member.blocked = blocked
        key: object = member.id
    elif target_type == "till":
        till = db.session.get(Till, _int_id("till", target_id), with_for_update=True)
        if till is None:
            raise _unknown_target("till", target_id)
        scope = store_scope(identity)
        if scope is not None and till.store_id not in scope:
            raise DomainError("forbidden", "You may block tills of your stores only.")
        till.blocked = blocked
        key = till.id
    else:
        card_id = _card_id(target_id)
        if blocked and db.session.get(CardBlock, card_id) is None:
            db.session.add(
                CardBlock(card_id=card_id, reason=reason, blocked_by=identity.subject_id)
            )
        elif not blocked:
            db.session.execute(delete(CardBlock).where(CardBlock.card_id == card_id))
        key = card_id
    _audit(
        identity.subject_id,
        "block" if blocked else "unblock",
        target_type,
        key,
        reason=reason,
    )
    db.session.flush()
    answer = {"target_type": target_type, "target_id": str(key), "blocked": blocked}
    return _name_blocks([{**answer, "reason": reason, "blocked_by": identity.subject_id}])[0]


def list_blocks(identity: Identity) -> list[dict[str, Any]]:
    """List every blocked member, card and till (tills of the caller's stores)."""
    blocks: list[dict[str, Any]] = []
    for member_id in db.session.scalars(
        select(Member.id).where(Member.blocked.is_(True)).order_by(Member.id)
    ):
        blocks.append({"target_type": "member", "target_id": str(member_id), "blocked": True})
    for block in db.session.scalars(select(CardBlock).order_by(CardBlock.blocked_at)):
        blocks.append(
            {
                "target_type": "card",
                "target_id": block.card_id,
                "blocked": True,
                "reason": block.reason,
                "blocked_at": iso_or_none(block.blocked_at),
                "blocked_by": block.blocked_by,
            }
        )
    scope = store_scope(identity)
    tills = select(Till.id).where(Till.blocked.is_(True)).order_by(Till.id)
    if scope is not None:
        tills = tills.where(Till.store_id.in_(scope))
    for till_id in db.session.scalars(tills):
        blocks.append({"target_type": "till", "target_id": str(till_id), "blocked": True})
    return _name_blocks(blocks)


def _name_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add the blocked member's or till's name and the blocking staff member's name."""
    names = NameBook()
    for block in blocks:
        if block["target_type"] in ("member", "till"):
            names.want(block["target_type"], block["target_id"])
        names.want("staff", block.get("blocked_by"))
    names.load()
    for block in blocks:
        kind = block["target_type"]
        target = names.ref(kind, block["target_id"]) if kind in ("member", "till") else None
        block["target_name"] = target["name"] if target else None
        block["blocked_by_staff"] = names.ref("staff", block.get("blocked_by"))
    return blocks


# --- rules and audit ---------------------------------------------------------------------


def rules_view() -> list[dict[str, Any]]:
    """List every rule with its current settings, its defaults and the actions it allows."""
    settings = load_rule_settings()
    return [
        {
            "rule": name,
            "description": RULE_DESCRIPTIONS[name],
            "settings": settings[name],
            "defaults": RULE_DEFAULTS[name],
            "actions": list(RULE_ACTIONS.get(name, ("allow", "flag", "step-up", "deny"))),
        }
        for name in RULE_DEFAULTS
    ]


def change_rules(identity: Identity, changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply an admin's changes to the rules (audited) and list them all."""
    update_rule_settings(changes, staff_id=identity.subject_id)
    return rules_view()


def list_audit(
    *, staff_id: int | None = None, before_id: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """List staff actions newest first."""
    query = select(StaffAudit).order_by(StaffAudit.id.desc()).limit(limit)
    if staff_id is not None:
        query = query.where(StaffAudit.staff_id == staff_id)
    if before_id is not None:
        query = query.where(StaffAudit.id < before_id)
    rows = db.session.scalars(query).all()
    names = NameBook().want_all("staff", [row.staff_id for row in rows])
    for row in rows:
        names.want_target(row.target_type, row.target_id)
    names.load()
    return [
        {
            "id": row.id,
            "staff_id": row.staff_id,
            "staff": names.ref("staff", row.staff_id),
            "action": row.action,
            "target_type": row.target_type,
            "target_id": row.target_id,
            "target_name": names.target_name(row.target_type, row.target_id),
            "detail": row.detail,
            "at": iso_or_none(row.at),
        }
        for row in rows
    ]


# --- the summary -------------------------------------------------------------------------


def _counts(rows: Iterable[Any]) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def summary(identity: Identity, start: datetime, end: datetime) -> dict[str, Any]:
    """Count attempts, refusals by type, events by rule and both per store, in [start, end)."""
    if end <= start:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            "'from' must be before 'to'.",
            errors={"query": {"from": ["Must be before 'to'."]}},
        )
    scope = store_scope(identity)
    in_window = and_(Attempt.occurred_at >= start, Attempt.occurred_at < end)
    attempts_where = and_(in_window, _in_scope(Attempt.store_id, scope))
    by_outcome = _counts(
        db.session.execute(
            select(Attempt.outcome, func.count()).where(attempts_where).group_by(Attempt.outcome)
        )
    )
    by_type = _counts(
        db.session.execute(
            select(Attempt.refusal_type, func.count())
            .where(attempts_where, Attempt.refusal_type.is_not(None))
            .group_by(Attempt.refusal_type)
            .order_by(func.count().desc())
        )
    )
    by_operation = _counts(
        db.session.execute(
            select(Attempt.operation, func.count())
            .where(attempts_where)
            .group_by(Attempt.operation)
            .order_by(Attempt.operation)
        )
    )
    events_where = and_(
        FraudEvent.created_at >= start,
        FraudEvent.created_at < end,
        _in_scope(FraudEvent.store_id, scope),
    )
    by_rule = _counts(
        db.session.execute(
            select(FraudEvent.rule, func.count())
            .where(events_where)
            .group_by(FraudEvent.rule)
            .order_by(FraudEvent.rule)
        )
    )
    open_events = db.session.scalar(
        select(func.count())
        .select_from(FraudEvent)
        .where(events_where, FraudEvent.status == "open")
    )
    per_store: dict[int | None, dict[str, Any]] = {}

    def store_row(store_id: int | None) -> dict[str, Any]:
        return per_store.setdefault(
            store_id,
            {"store_id": store_id, "name": None, "attempts": 0, "refused": 0, "events": 0},
        )

    for store_id, outcome, count in db.session.execute(
        select(Attempt.store_id, Attempt.outcome, func.count())
        .where(attempts_where)
        .group_by(Attempt.store_id, Attempt.outcome)
    ):
        row = store_row(store_id)
        row["attempts"] += count
        if outcome == "refused":
            row["refused"] += count
    for store_id, count in db.session.execute(
        select(FraudEvent.store_id, func.count()).where(events_where).group_by(FraudEvent.store_id)
    ):
        store_row(store_id)["events"] += count
    names = _counts(
        db.session.execute(
            select(Store.id, Store.name).where(
                Store.id.in_([key for key in per_store if key is not None])
            )
        )
    )
    for store_id, row in per_store.items():
        row["name"] = names.get(store_id) if store_id is not None else None
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "attempts": {
            "total": sum(by_outcome.values()),
            "accepted": by_outcome.get("accepted", 0),
            "refused": by_outcome.get("refused", 0),
        },
        "refusals_by_type": by_type,
        "attempts_by_operation": by_operation,
        "events_by_rule": by_rule,
        "open_events": int(open_events or 0),
        "per_store": sorted(
            per_store.values(), key=lambda row: (row["store_id"] is None, row["store_id"] or 0)
        ),
    }
