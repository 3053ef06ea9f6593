"""Idempotent till writes: a retried request returns the first answer and changes nothing.

Every till write carries an ``Idempotency-Key`` header. The key is claimed by inserting a row
with primary key (scope, key) in the same transaction as the work itself, so the claim and the
work commit or vanish together. A concurrent request with the same key blocks on that insert
(PostgreSQL waits for the first transaction; SQLite transactions are serialised anyway) and
then finds the committed row and replays its answer. A key reused with a different request body
is refused (``idempotency-key-reused``). A request that fails keeps nothing, so its retry runs
again, as with Stripe. Rows are kept at least 24 hours; ``flask --app app idempotency prune``
removes older ones.

Stored answers are sealed: AES-256-GCM under an instance key (``idempotency-seal``), bound to
their (scope, key). An answer may hold a member's coupon code (a reward claim) or other
secrets; a copy of the database, a backup or a reader of the table learns nothing from it.
Rows written before sealing (no ``sealed:v1:`` prefix) are replayed as they are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Response, current_app, request
from sqlalchemy import String, Text, bindparam, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, created_at, insert_unless_present, utcnow
from app.errors import DomainError, Problem
from app.extensions import db

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
KEEP_AT_LEAST = timedelta(hours=24)
SEAL_PREFIX = "sealed:v1:"
SEAL_NONCE_BYTES = 12


class IdempotencyKey(Base):
    """The first answer to a request, keyed by who sent it and the key they chose."""

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(60), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    operation: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[created_at] = mapped_column(index=True)


def idempotency_key_from_request() -> str:
    """Return the request's ``Idempotency-Key`` header, or refuse the request without one."""
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise DomainError(
            "idempotency-key-required",
            f"Send a unique '{HEADER}' header (a UUID) with every till write.",
        )
    if len(key) > MAX_KEY_LENGTH:
        # Problem, not DomainError: "validation-error" is answered with several titles today.
        raise Problem(
            "validation-error",
            422,
            "Invalid request",
            f"The {HEADER} header may be at most {MAX_KEY_LENGTH} characters.",
        )
    return key


def request_fingerprint(operation: str, payload: Mapping[str, Any]) -> str:
    """Hash an operation and its body so a reused key with other content can be told apart."""
    canonical = json.dumps({"op": operation, "body": payload}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _sealing_key() -> AESGCM:
    return AESGCM(current_app.extensions["lw_secrets"].named_key("idempotency-seal"))


def seal_answer(scope: str, key: str, body: str) -> str:
    """Encrypt a stored answer under the instance key, bound to its (scope, key)."""
    nonce = os.urandom(SEAL_NONCE_BYTES)
    sealed = _sealing_key().encrypt(nonce, body.encode(), f"{scope}\n{key}".encode())
    return SEAL_PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal_answer(scope: str, key: str, stored: str) -> str:
    """Decrypt a stored answer (answers stored before sealing come back as they are)."""
    if not stored.startswith(SEAL_PREFIX):
        return stored
    raw = base64.b64decode(stored[len(SEAL_PREFIX) :])
    nonce, sealed = raw[:SEAL_NONCE_BYTES], raw[SEAL_NONCE_BYTES:]
    return _sealing_key().decrypt(nonce, sealed, f"{scope}\n{key}".encode()).decode()


def _replay(row: IdempotencyKey) -> Response:
    body = unseal_answer(row.scope, row.key, row.response_body) if row.response_body else "{}"
    response = current_app.response_class(
        body, status=row.status_code or 200, mimetype="application/json"
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


@dataclass(frozen=True)
class IdempotencyClaim:
    """A key claimed for this request, or the first answer to replay if it was used before."""

    scope: str
    key: str
    replay: Response | None = None


def claim_idempotency_key(
    scope: str, operation: str, payload: Mapping[str, Any], key: str | None = None
) -> IdempotencyClaim:
    """Claim (scope, key) in this transaction, or find the first answer given under it.

    One ``INSERT ... ON CONFLICT DO NOTHING``: a concurrent request with the same key waits for
    the first one's transaction and then finds its row. The key comes from the request's header
    unless given. A key used before for a different request is refused.
    """
    key = key or idempotency_key_from_request()
    fingerprint = request_fingerprint(operation, payload)
    claimed = (
        db.session.connection()
        .execute(
            *insert_unless_present(
                IdempotencyKey,
                {"scope": scope, "key": key, "operation": operation, "request_hash": fingerprint},
                returning=("key",),
            )
        )
        .first()
    )
    if claimed is not None:
        return IdempotencyClaim(scope, key)
    existing = db.session.execute(
        select(IdempotencyKey)
        .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if existing.request_hash != fingerprint:
        raise DomainError(
            "idempotency-key-reused",
            "This Idempotency-Key was used for a different request; use a new key.",
        )
    return IdempotencyClaim(scope, key, _replay(existing))


_STORE_ANSWER = (
    update(IdempotencyKey)
    .where(
        IdempotencyKey.scope == bindparam("for_scope"), IdempotencyKey.key == bindparam("for_key")
    )
    .values(status_code=bindparam("status_code"), response_body=bindparam("response_body"))
)


def answer_idempotent(claim: IdempotencyClaim, body: dict[str, Any], status: int) -> Response:
    """Store the answer (sealed) under the claimed key, in this transaction, and return it."""
    text = json.dumps(body, default=str)
    db.session.connection().execute(
        _STORE_ANSWER,
        {
            "for_scope": claim.scope,
            "for_key": claim.key,
            "status_code": status,
            "response_body": seal_answer(claim.scope, claim.key, text),
        },
    )
    return current_app.response_class(text, status=status, mimetype="application/json")


def run_idempotent(
    scope: str,
    operation: str,
    payload: Mapping[str, Any],
    action: Callable[[], tuple[dict[str, Any], int]],
    key: str | None = None,
) -> Response:
    """Run ``action`` once per (scope, key); later calls get the first answer back.

    ``action`` returns a JSON-ready body and a status code.
    """
    claim = claim_idempotency_key(scope, operation, payload, key)
    if claim.replay is not None:
        return claim.replay
    body, status = action()
    return answer_idempotent(claim, body, status)


def prune_idempotency_keys(older_than: timedelta = 2 * KEEP_AT_LEAST) -> int:
    """Delete answers older than ``older_than`` (never less than 24 hours); return how many."""
    cutoff = utcnow() - max(older_than, KEEP_AT_LEAST)
    result = db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
