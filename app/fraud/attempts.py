"""Recording till attempts from anywhere in a request.

A till route calls ``note_attempt("coupon-redeem", code=...)`` first thing; as the request
learns more (the member, the card, the risk score) it calls ``update_attempt(...)``. When the
request ends, ``app.transactions`` writes the row: inside the request's own transaction when
it succeeded, in a fresh one after the rollback when it was refused. So every attempt is on
record exactly once, whatever the outcome, and a refusal keeps its ``type``.
"""

from __future__ import annotations

import hmac
from hashlib import sha256
from typing import Any

from flask import current_app, g, request

from app.extensions import db
from app.fraud.models import Attempt
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
    draft = dict(g.attempt)
    identity = g.get("identity")
    if identity is not None and identity.kind == "till":
        draft.setdefault("till_id", identity.till_id)
        draft.setdefault("store_id", identity.store_id)
        draft.setdefault("staff_id", identity.subject_id)
    if "card_id" in draft and draft["card_id"] is not None:
        draft["card_id"] = str(draft["card_id"])
    db.session.add(
        Attempt(
            outcome="accepted" if outcome.status < 400 else "refused",
            refusal_type=outcome.problem_type if outcome.status >= 400 else None,
            status_code=outcome.status,
            request_id=g.get("request_id"),
            client_address=(request.remote_addr or "")[:45] or None,
            **draft,
        )
    )
