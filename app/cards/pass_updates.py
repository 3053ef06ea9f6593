"""Wallet passes follow the balance: refresh them after points or the tier changed.

The ledger announces ``points.changed`` and the tiers ``tier.changed`` (``app.events``); this
module listens and notes the member, once per request. After the request's transaction has
committed (``app.transactions.after_commit``), it refreshes that member's Apple passes
(``notify_pass_changed``: compare each pass's content, push to the devices of those that
changed). So the till's answer never waits on pass state, nothing is pushed for a request
that was rolled back, and the pass sees the final balance and tier of the whole operation
(earning, tier upgrade, stamps) rather than a step in between. Changes outside a request
(the expiry job) push nothing: passes fetch on their own.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context

from app.cards.apple_web_service import notify_pass_changed
from app.events import DomainEvent, subscribe
from app.transactions import after_commit

PASS_EVENTS = ("points.changed", "tier.changed")


def note_pass_change(event: DomainEvent) -> None:
    """Refresh the member's passes once this request has committed."""
    if event.member_id is None or not has_request_context():
        return
    pending: set[int] | None = g.get("members_with_changed_passes")
    if pending is None:
        pending = g.members_with_changed_passes = set()
        after_commit(_refresh_changed_passes)
    pending.add(event.member_id)


def _refresh_changed_passes() -> None:
    for member_id in sorted(g.pop("members_with_changed_passes", ())):
        notify_pass_changed(member_id)


def subscribe_pass_updates(app: Flask) -> None:
    """Listen for the events that change what a wallet pass shows."""
    for event_type in PASS_EVENTS:
        subscribe(app, event_type, note_pass_change)
