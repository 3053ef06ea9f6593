"""Recording till attempts from anywhere in a request.

A till route calls ``note_attempt("coupon-redeem", code=...)`` first thing; as the request
learns more (the member, the card, the risk score) it calls ``update_attempt(...)``. When the
request ends, ``app.transactions`` writes the row: inside the request's own transaction when
it succeeded, in a fresh one after the rollback when it was refused. So every attempt is on
record exactly once, whatever the outcome, and a refusal keeps its ``type``.

The till, store and staff account come from the till session; a member's own requests
(sign-up, reward claims in the app) carry the member. A refused attempt is then shown to the
refusal rules (``on_refusal``): a replayed live code or a blocked card used at a till raises
a fraud event with this attempt as its evidence. Writing is one INSERT on the hot path; the
code is kept only as a keyed fingerprint, never in plain.

Fraud events raised during a request (``raise_event``) wait on ``flask.g`` too: the request
may yet be refused (a ``deny``, a ``step-up`` nobody approved, a lockout) and its transaction
rolled back. They are written when the request ends, right after the attempt, which becomes
part of their evidence next to the earlier attempts the rule pointed at.

Refusal rules run when a till attempt was refused for a reason that is itself a warning sign:
``replayed-code`` (``code-replayed``), ``stale-code`` (``code-stale``), ``revoked-card``
(``card-revoked``) and ``blocked`` (``member-blocked``, ``card-blocked``, ``till-blocked``).
The request is refused anyway; the rule's action says whether that raises an event (``flag``)
or not (``allow``).
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Any

from flask import current_app, g, has_request_context, request

from app.db import insert_values, utcnow
from app.extensions import db
from app.fraud.events import PendingEvent, build_event, write_event
from app.fraud.models import Attempt
from app.fraud.settings import REFUSAL_RULES, rule_settings
from app.transactions import Outcome, record_on_finish

FINGERPRINT_HEX_CHARS = 32


def fingerprint_code(text: str) -> str:
    """Return a keyed fingerprint of a code: groups repeats, reveals nothing."""
    key = current_app.extensions["lw_secrets"].named_key("code-fingerprint")
    normalised = "".join(text.split()).upper().replace("-", "")
    return hmac.new(key, normalised.encode(), sha256).hexdigest()[:FINGERPRINT_HEX_CHARS]


def note_attempt(operation: str, code: str | None = None, **fields: Any) -> None:
    """Start recording this request as an attempt at ``operation``."""
    draft: dict[str, Any] = {"operation": operation, **fields}
    if code:
        draft["code_fingerprint"] = fingerprint_code(code)
    if "attempt" not in g:
        record_on_finish(_write_attempt)
    g.attempt = draft


def update_attempt(**fields: Any) -> None:
    """Add what the request has learnt (member, card, risk score) to its attempt."""
    if "attempt" in g:
        g.attempt.update({k: v for k, v in fields.items() if v is not None})


def _write_attempt(outcome: Outcome) -> None:
    write_attempt_now(outcome)


def write_attempt_now(outcome: Outcome) -> Attempt | None:
    """Write the request's attempt (once) and return it; ``None`` if nothing was noted."""
    written: Attempt | None = g.get("attempt_row")
    # After a failed commit the row was rolled back (and left the session): write it again.
    if written is not None and written in db.session:
        return written
    if "attempt" not in g:
        return None
    draft = dict(g.attempt)
    identity = g.get("identity")
    if identity is not None and identity.kind == "till":
        draft.setdefault("till_id", identity.till_id)
        draft.setdefault("store_id", identity.store_id)
        draft.setdefault("staff_id", identity.subject_id)
    elif identity is not None and identity.kind == "staff":
        draft.setdefault("staff_id", identity.subject_id)
    elif identity is not None and identity.kind == "member":
        draft.setdefault("member_id", identity.subject_id)
    if "card_id" in draft and draft["card_id"] is not None:
        draft["card_id"] = str(draft["card_id"])
    # A dry run (coupon validation) answers 200 yet reports a refusal: it is on record as one.
    reported_refusal = draft.pop("refusal_type", None)
    refusal_type = outcome.problem_type if outcome.status >= 400 else reported_refusal
    row = {
        "outcome": "refused" if refusal_type else "accepted",
        "refusal_type": refusal_type,
        "status_code": outcome.status,
        "request_id": g.get("request_id"),
        "client_address": (request.remote_addr or "")[:45] or None,
        "occurred_at": utcnow(),
        **draft,
    }
    if refusal_type is None and not g.get("pending_fraud_events"):
        # The hot path (an accepted attempt that no fraud event points at): one Core INSERT
        # in the request's transaction, no ORM object. A failed commit rolls it back, and the
        # outcome (then a 409) is written again in the fresh transaction.
        if outcome.status < 400 and g.get("attempt_inserted"):
            return None
        insert_values(db.session.connection(), Attempt, row)
        g.attempt_inserted = outcome.status < 400
        return None
    attempt = Attempt(**row)
    db.session.add(attempt)
    g.attempt_row = attempt
    if attempt.refusal_type is not None:
        db.session.flush()
        on_refusal(attempt)
    return attempt


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


def raise_event(rule: str, **fields: Any) -> PendingEvent:
    """Raise a fraud event about the current request; it is written when the request ends.

    Takes the keyword arguments of ``app.fraud.events.build_event``. Outside a request it is
    written at once.
    """
    pending = build_event(rule, **fields)
    if not has_request_context():
        write_event(pending, None)
        return pending
    if "pending_fraud_events" not in g:
        g.pending_fraud_events = []
        record_on_finish(_write_pending_events)
    g.pending_fraud_events.append(pending)
    return pending


def _write_pending_events(outcome: Outcome) -> None:
    attempt = write_attempt_now(outcome)
    for pending in g.get("pending_fraud_events", []):
        write_event(pending, attempt)
