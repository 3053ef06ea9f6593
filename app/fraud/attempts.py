"""Recording till attempts from anywhere in a request.

A till route calls ``note_attempt("coupon-redeem", code=...)`` first thing; as the request
learns more (the member, the card, the risk score) it calls ``update_attempt(...)``. When the
request ends, ``app.transactions`` writes the row: inside the request's own transaction when
it succeeded, in a fresh one after the rollback when it was refused. So every attempt is on
record exactly once, whatever the outcome, and a refusal keeps its ``type``.

The till, store and staff account come from the till session; a member's own requests
(sign-up, reward claims in the app) carry the member. A refused attempt is then shown to the
refusal rules (``app.fraud.rules.on_refusal``): a replayed live code or a blocked card used
at a till raises a fraud event with this attempt as its evidence. Writing is one INSERT on
the hot path; the code is kept only as a keyed fingerprint, never in plain.
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
    attempt = Attempt(
        outcome="refused" if refusal_type else "accepted",
        refusal_type=refusal_type,
        status_code=outcome.status,
        request_id=g.get("request_id"),
        client_address=(request.remote_addr or "")[:45] or None,
        **draft,
    )
    db.session.add(attempt)
    g.attempt_row = attempt
    if attempt.refusal_type is not None:
        from app.fraud.rules import on_refusal

        db.session.flush()
        on_refusal(attempt)
    return attempt


def note_till_login(till_key: str, email: str) -> None:
    """Start recording a till login, with the till and staff account it names (if they exist)."""
    from sqlalchemy import select

    from app.accounts.models import StaffAccount
    from app.auth.service import normalise_email, sha256_hex
    from app.stores.models import Till

    till = db.session.execute(
        select(Till.id, Till.store_id).where(Till.key_hash == sha256_hex(till_key))
    ).first()
    staff_id = db.session.scalar(
        select(StaffAccount.id).where(StaffAccount.email == normalise_email(email))
    )
    note_attempt(
        "till-login",
        till_id=till.id if till else None,
        store_id=till.store_id if till else None,
        staff_id=staff_id,
    )
