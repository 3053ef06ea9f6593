"""Writing to the outbox, claiming due rows, and recording what a delivery did.

**Writing.** ``install_outbox_writer(app)`` subscribes ``record_event`` to every domain event
(``app.events``): each published event becomes an ``event`` row in the same transaction as the
change, so the change and its announcement commit together or not at all. Nothing talks to the
network inside a request. Inside ``batched_events()`` (the till's apply step, where a purchase
publishes two events) the rows wait until the block ends and go to the database together, in
one round trip.

**Fan-out.** The worker hands an ``event`` row to the *consumers* registered with
``register_consumer`` (webhooks, push notices, automations), all in one transaction: they add
further outbox rows (``enqueue``) or rows of their own, and the event row is marked done with
them. A consumer that fails rolls the whole fan-out back, and the event is retried.

**Claiming.** ``claim_due`` takes up to ``limit`` due rows for one worker. On PostgreSQL it
selects them ``FOR UPDATE SKIP LOCKED`` (concurrent workers skip each other's rows instead of
waiting), on SQLite every transaction holds the database's write lock (``BEGIN IMMEDIATE``,
see ``app.db``); on both, the claim is a conditional ``UPDATE`` that sets ``claimed_by`` and a
``lease_until`` and is committed before anything is sent. A worker that dies leaves its rows
leased; when the lease runs out, another worker claims them again, so nothing is lost (and
the receiver may see a message twice: at-least-once, deduplicate by ``message_id``).

**Retrying.** A delivery that can be retried waits ``retry_delay(attempt)``: exponential
(30 s, 1 min, 2 min, … capped at 6 h) with "equal jitter" (half fixed, half random), or exactly
what the receiver asked for with ``Retry-After`` (seconds or an HTTP date, capped at a day).
After ``OUTBOX_MAX_ATTEMPTS`` (12 by default, about a day and a half of trying) the row is
``failed`` and stays visible with its last error.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Flask, current_app
from sqlalchemy import delete, or_, select, update

from app import outbound
from app.db import insert_many, insert_values, utcnow
from app.events import DomainEvent, subscribe
from app.extensions import db
from app.outbox.models import DeliveryAttempt, OutboxMessage

log = logging.getLogger("app.outbox")

HANDLERS_KEY = "lw_outbox_handlers"
EVENT_KIND = "event"

DEFAULT_LEASE_SECONDS = 300
DEFAULT_SEND_TIMEOUT = 8.0
DEFAULT_RETENTION_DAYS = 30
DEFAULT_MAX_ATTEMPTS = 12
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 6 * 3600
RETRY_AFTER_CAP_SECONDS = 86_400

# What a handler may report, and whether the row is finished by it.
FINAL_OUTCOMES = {"delivered": "done", "gone": "done", "skipped": "done", "done": "done"}
RETRY = "retry"
DEFERRED = "deferred"
FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    """What handling one outbox row did."""

    outcome: str  # delivered | gone | skipped | done | retry | deferred | failed
    status_code: int | None = None
    detail: str | None = None
    retry_after_seconds: float | None = None
    target: str | None = None
    record: bool = True  # write a DeliveryAttempt row (fan-out of events does not)


@dataclass(frozen=True)
class EventEnvelope:
    """A domain event as the worker's consumers see it, with its stable id and time."""

    message_id: str
    type: str
    data: Mapping[str, Any]
    member_id: int | None
    store_id: int | None
    occurred_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Return the event as webhook receivers get it."""
        return {
            "id": self.message_id,
            "type": self.type,
            "timestamp": self.occurred_at.isoformat(),
            "member_id": self.member_id,
            "store_id": self.store_id,
            "data": dict(self.data),
        }


@dataclass(frozen=True)
class OutgoingRequest:
    """An HTTP POST a handler wants made outside any transaction, and how to read the answer.

    ``on_answer(status, retry_after, now)`` runs in a fresh transaction after the call;
    ``status`` is 0 when no answer came (refused, timed out).
    """

    url: str
    body: bytes
    headers: Mapping[str, str]
    on_answer: Callable[[int, str | None, datetime], Delivery]
    allowed_hosts: Sequence[str] | None = None  # on top of the outbound guard's rule


Handler = Callable[[OutboxMessage, datetime], "Delivery | OutgoingRequest"]
Consumer = Callable[[EventEnvelope, datetime], None]


@dataclass
class Registry:
    """The handlers (per row kind) and event consumers of one application."""

    handlers: dict[str, Handler] = field(default_factory=dict)
    consumers: list[tuple[str | None, Consumer]] = field(default_factory=list)


def _registry(app: Flask) -> Registry:
    registry = app.extensions.get(HANDLERS_KEY)
    if registry is None:
        registry = app.extensions[HANDLERS_KEY] = Registry()
    assert isinstance(registry, Registry)
    return registry


def register_handler(app: Flask, kind: str, handler: Handler) -> None:
    """Deliver outbox rows of ``kind`` with ``handler`` (one handler per kind)."""
    _registry(app).handlers[kind] = handler


def register_consumer(app: Flask, event_type: str | None, consumer: Consumer) -> None:
    """Hand every event of ``event_type`` (``None``: every event) to ``consumer`` in the worker."""
    _registry(app).consumers.append((event_type, consumer))


def new_message_id() -> str:
    """Return a fresh stable message id (``msg_`` and a UUID4)."""
    return f"msg_{uuid.uuid4().hex}"


def enqueue(
    kind: str,
    payload: Mapping[str, Any],
    *,
    member_id: int | None = None,
    store_id: int | None = None,
    event_type: str | None = None,
    available_at: datetime | None = None,
    message_id: str | None = None,
) -> OutboxMessage:
    """Add a row of outgoing work to the current transaction."""
    values = _message_values(
        kind, payload, member_id, store_id, event_type, available_at, message_id
    )
    message = OutboxMessage(**values)
    db.session.add(message)
    db.session.flush()
    return message


def _message_values(
    kind: str,
    payload: Mapping[str, Any],
    member_id: int | None,
    store_id: int | None,
    event_type: str | None,
    available_at: datetime | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    return {
        "message_id": message_id or new_message_id(),
        "kind": kind,
        "event_type": event_type,
        "member_id": member_id,
        "store_id": store_id,
        "payload": dict(payload),
        "status": "pending",
        "attempts": 0,
        "available_at": available_at or utcnow(),
    }


# The rows of the events recorded inside ``batched_events()``, waiting for the block to end.
_BATCH: ContextVar[list[dict[str, Any]] | None] = ContextVar("outbox_batch", default=None)


def record_event(event: DomainEvent) -> None:
    """Write a published domain event to the outbox (a subscriber of ``app.events``).

    One Core ``INSERT`` on the transaction's connection (``app.db.insert_values``): the till
    publishes events on its hottest paths, and nobody needs the row as an object. Inside
    ``batched_events()`` the row waits for the block's end.
    """
    payload = {"data": dict(event.data), "occurred_at": utcnow().isoformat()}
    values = _message_values(EVENT_KIND, payload, event.member_id, event.store_id, event.type)
    batch = _BATCH.get()
    if batch is not None:
        batch.append(values)
    else:
        insert_values(db.session.connection(), OutboxMessage, values)


@contextmanager
def batched_events() -> Iterator[None]:
    """Write the events recorded inside the block together, when it ends without an error.

    An error drops them: the block's work fails with it (the caller's transaction or savepoint
    rolls back). The block must not hold a savepoint that is rolled back while the block goes
    on, since the events published inside that savepoint would be written all the same.
    """
    batch: list[dict[str, Any]] = []
    token = _BATCH.set(batch)
    try:
        yield
    finally:
        _BATCH.reset(token)
    insert_many(db.session.connection(), OutboxMessage, batch)


def envelope_of(message: OutboxMessage) -> EventEnvelope:
    """Read an ``event`` row back as the event it records."""
    return EventEnvelope(
        message_id=message.message_id,
        type=message.event_type or "",
        data=message.payload.get("data", {}),
        member_id=message.member_id,
        store_id=message.store_id,
        occurred_at=datetime.fromisoformat(message.payload["occurred_at"]),
    )


def fan_out_event(message: OutboxMessage, now: datetime) -> Delivery:
    """Hand an event row to every consumer registered for its type (the ``event`` handler)."""
    envelope = envelope_of(message)
    for event_type, consumer in _registry(current_app).consumers:
        if event_type is None or event_type == envelope.type:
            consumer(envelope, now)
    return Delivery("done", record=False)


def install_outbox_writer(app: Flask) -> None:
    """Record every published domain event in the outbox, and fan events out in the worker."""
    subscribe(app, None, record_event)
    register_handler(app, EVENT_KIND, fan_out_event)


# --- claiming and finishing -------------------------------------------------------------


def _lease_seconds() -> int:
    return int(current_app.config.get("OUTBOX_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def max_attempts() -> int:
    """Return how many tries a row gets before it is marked failed."""
    return int(current_app.config.get("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))


def _claimable(now: datetime) -> Any:
    return (
        OutboxMessage.status == "pending",
        OutboxMessage.available_at <= now,
        or_(OutboxMessage.lease_until.is_(None), OutboxMessage.lease_until < now),
    )


def claim_due(worker: str, *, limit: int = 10, now: datetime | None = None) -> list[int]:
    """Lease up to ``limit`` due rows to ``worker`` and commit; return their ids."""
    now = now or utcnow()
    lease_until = now + timedelta(seconds=_lease_seconds())
    query = (
        select(OutboxMessage.id)
        .where(*_claimable(now))
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(db.session.scalars(query))
    claimed: list[int] = []
    for message_id in candidates:
        # Conditional: only a row still free is taken (the SQLite path relies on this alone).
        result = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, *_claimable(now))
            .values(
                claimed_by=worker,
                lease_until=lease_until,
                attempts=OutboxMessage.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(message_id)
    db.session.commit()
    return claimed


def retry_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Return the wait before try ``attempt + 1``: exponential with equal jitter, capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1))
    return float(ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Read a ``Retry-After`` header (delta seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(min(int(value), RETRY_AFTER_CAP_SECONDS))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - now).total_seconds(), RETRY_AFTER_CAP_SECONDS))


def finish(message: OutboxMessage, delivery: Delivery, worker: str, now: datetime) -> None:
    """Record what a try did and move the row on (done, retry later, or failed)."""
    if delivery.record:
        db.session.add(
            DeliveryAttempt(
                outbox_message_id=message.id,
                target=delivery.target,
                worker=worker,
                outcome=delivery.outcome,
                status_code=delivery.status_code,
                detail=(delivery.detail or None) and delivery.detail[:500],
                attempted_at=now,
            )
        )
    message.claimed_by = None
    message.lease_until = None
    if delivery.outcome == DEFERRED:
        # Not a failure: the handler chose a later time (quiet hours). The try is not counted.
        message.attempts = max(0, message.attempts - 1)
        message.available_at = now + timedelta(seconds=delivery.retry_after_seconds or 0)
    elif delivery.outcome in FINAL_OUTCOMES:
        message.status = FINAL_OUTCOMES[delivery.outcome]
        message.finished_at = now
        message.last_error = None
    elif delivery.outcome == RETRY and message.attempts < max_attempts():
        wait = delivery.retry_after_seconds
        if wait is None:
            wait = retry_delay(message.attempts)
        message.available_at = now + timedelta(seconds=wait)
        message.last_error = (delivery.detail or RETRY)[:500]
    else:
        message.status = FAILED
        message.finished_at = now
        message.last_error = (delivery.detail or delivery.outcome)[:500]
    db.session.flush()


def post(request: OutgoingRequest) -> tuple[int, str | None]:
    """POST through the outbound guard; return the status (0: no answer) and ``Retry-After``.

    A URL the guard refuses now (its host resolves to an internal address since it was
    stored) counts as no answer: retried, and in the end given up.
    """
    try:
        answer = outbound.post(
            request.url,
            request.body,
            dict(request.headers),
            allowed_hosts=request.allowed_hosts,
            deadline_seconds=_send_timeout_seconds(),
        )
    except outbound.EndpointNotAllowed as refused:
        log.warning("outbound call refused at send time: %s", refused.detail)
        return 0, None
    except outbound.OutboundFailed as failed:
        log.warning("outbound call failed: %s", failed)
        return 0, None
    return answer.status, answer.retry_after


def _own_row(message_id: int, worker: str) -> OutboxMessage | None:
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.claimed_by != worker or message.status != "pending":
        return None
    return message


def deliver_claimed(message_id: int, worker: str, now: datetime | None = None) -> str | None:
    """Hand one claimed row to its handler and record the outcome; commit. Return the outcome.

    A handler that needs the network returns an ``OutgoingRequest``: the transaction is ended
    before the call (no lock is held while a receiver thinks, so the till never waits on a
    webhook), and the answer is recorded in a new one. Returns None when the row is no longer
    this worker's (its lease ran out and another worker took it), so it is left alone.
    """
    now = now or utcnow()
    message = _own_row(message_id, worker)
    if message is None:
        db.session.rollback()
        return None
    kind = message.kind
    handler = _registry(current_app).handlers.get(kind)
    try:
        if handler is None:
            result: Delivery | OutgoingRequest = Delivery(
                FAILED, detail=f"no handler for kind {kind!r}"
            )
        else:
            result = handler(message, now)
        if isinstance(result, OutgoingRequest):
            db.session.commit()
            status, retry_after = post(result)
            message = _own_row(message_id, worker)
            if message is None:
                db.session.rollback()
                return None
            result = result.on_answer(status, retry_after, now)
        finish(message, result, worker, now)
        db.session.commit()
        return result.outcome
    except Exception as exc:
        db.session.rollback()
        log.exception("outbox row %s (%s) failed in its handler", message_id, kind)
        message = _own_row(message_id, worker)
        if message is None:
            db.session.rollback()
            return None
        finish(message, Delivery(RETRY, detail=f"error: {exc.__class__.__name__}"), worker, now)
        db.session.commit()
        return RETRY


def _send_timeout_seconds() -> float:
    return float(current_app.config.get("OUTBOX_SEND_TIMEOUT_SECONDS", DEFAULT_SEND_TIMEOUT))


def pending_count(now: datetime | None = None) -> int:
    """Return how many rows are due now (waiting rows included, leased ones too)."""
    now = now or utcnow()
    return len(
        db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == "pending", OutboxMessage.available_at <= now
            )
        ).all()
    )


def prune_finished(now: datetime | None = None) -> int:
    """Delete finished rows (and their attempts) past their retention; return rows deleted.

    Delivered rows are kept ``OUTBOX_RETENTION_DAYS`` (30), failed ones three times as long,
    so staff can still see why something never arrived. Pending rows are never deleted.
    """
    now = now or utcnow()
    days = int(current_app.config.get("OUTBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS))
    old = or_(
        (OutboxMessage.status == "done") & (OutboxMessage.finished_at < now - timedelta(days=days)),
        (OutboxMessage.status == FAILED)
        & (OutboxMessage.finished_at < now - timedelta(days=3 * days)),
    )
    ids = list(db.session.scalars(select(OutboxMessage.id).where(old).limit(10_000)))
    if ids:
        db.session.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.outbox_message_id.in_(ids))
        )
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)
