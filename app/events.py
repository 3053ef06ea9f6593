"""Domain events: what happened, announced inside the transaction that made it happen.

A service that changes something others care about (a purchase booked, points changed, a
coupon redeemed, a member signed up, a fraud event raised…) calls ``publish(DomainEvent(...))``
right after its ``flush()``, inside the request's transaction. Subscribers are registered per
application at start-up (``subscribe(app, "purchase.booked", handler)``; ``None`` for every
event) and run synchronously, in that same transaction, in the order they subscribed.

That placement is the point of the design:

* A subscriber may only *write rows* (the outbox writer records the message; the referral
  checker notes a qualifying purchase). It never talks to the network: slow or failing work
  (push, wallet-pass updates, webhooks) goes through the outbox and the worker, after commit.
* Because subscribers share the transaction, the change and its announcement commit together
  or not at all: a request that fails after publishing leaves neither behind.
* Publishers import nothing from their subscribers, so imports run one way: the ledger
  announces "points changed" and the wallet-pass updater listens, instead of the ledger
  importing the pass web service.

Event types are dotted, lower-case and stable (``purchase.booked``): webhook endpoints and
automations select events by them. ``data`` is JSON-serialisable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

EXTENSION_KEY = "lw_event_subscribers"


@dataclass(frozen=True)
class DomainEvent:
    """Something that happened, as subscribers and the outbox see it."""

    type: str
    data: Mapping[str, Any] = field(default_factory=dict)
    member_id: int | None = None
    store_id: int | None = None


Subscriber = Callable[[DomainEvent], None]


def subscribe(app: Flask, event_type: str | None, handler: Subscriber) -> None:
    """Run ``handler`` for every published event of ``event_type`` (``None``: every event)."""
    app.extensions.setdefault(EXTENSION_KEY, []).append((event_type, handler))


def publish(event: DomainEvent) -> None:
    """Announce ``event`` to this application's subscribers, inside the current transaction."""
    for event_type, handler in current_app.extensions.get(EXTENSION_KEY, ()):
        if event_type is None or event_type == event.type:
            handler(event)
