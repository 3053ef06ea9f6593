"""Wallet passes follow the balance: refresh them after points or the tier changed.

The ledger announces ``points.changed`` and the tiers ``tier.changed`` (``app.events``); both
are written to the outbox with the change. The worker hands each to ``refresh_passes``, which
refreshes that member's Apple passes (``notify_pass_changed``: compare each pass's content,
push to the devices of those that changed; the push goes out after the worker's commit). So
the till's answer never waits on pass state or Apple, nothing is pushed for a request that was
rolled back, and changes made outside a request (the expiry job) wake the passes too. A
purchase that moved points and the tier announces two events; the second finds the pass
unchanged and pushes nothing, so a device is woken once per change.
"""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from app.cards.apple_web_service import notify_pass_changed
from app.outbox.service import EventEnvelope, register_consumer

PASS_EVENTS = ("points.changed", "tier.changed")


def refresh_passes(event: EventEnvelope, now: datetime) -> None:
    """Refresh the member's passes (an outbox consumer, run by the worker)."""
    if event.member_id is not None:
        notify_pass_changed(event.member_id)


def subscribe_pass_updates(app: Flask) -> None:
    """Refresh passes in the worker for the events that change what a pass shows."""
    for event_type in PASS_EVENTS:
        register_consumer(app, event_type, refresh_passes)
