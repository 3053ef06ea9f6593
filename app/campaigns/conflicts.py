"""The review queue of offline events the server could not simply accept (sync conflicts).

Offline sync (``app.till.sync``) writes a ``sync_conflicts`` row for every offline event it
could not accept as it was (or accepted but flagged); managers list them and close each one
with a note of what was done.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from app.campaigns.models import SyncConflict
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db


def list_conflicts(status: str | None) -> Sequence[SyncConflict]:
    """List sync conflicts, open ones first by default, oldest first."""
    query = select(SyncConflict).order_by(SyncConflict.created_at, SyncConflict.id)
    if status is not None:
        query = query.where(SyncConflict.status == status)
    return db.session.scalars(query).all()


def resolve_conflict(conflict_id: int, *, staff_id: int, note: str) -> SyncConflict:
    """Close a conflict after review, with a note saying what was done."""
    conflict = db.session.get(SyncConflict, conflict_id, with_for_update=True)
    if conflict is None:
        raise DomainError("unknown-conflict", f"There is no conflict {conflict_id}.")
    if conflict.status == "resolved":
        raise DomainError(
            "conflict-already-resolved",
            "This conflict was resolved before.",
            resolved_at=conflict.resolved_at.isoformat() if conflict.resolved_at else None,
        )
    conflict.status = "resolved"
    conflict.resolved_at = utcnow()
    conflict.resolved_by_staff_id = staff_id
    conflict.resolution_note = note
    db.session.flush()
    return conflict


def conflict_view(conflict: SyncConflict) -> dict[str, Any]:
    """Return a conflict as JSON-ready data for the review queue."""
    return {
        "conflict_id": conflict.id,
        "event_id": conflict.event_id,
        "event_type": conflict.event_type,
        "sequence": conflict.sequence,
        "local_time": conflict.local_time.isoformat() if conflict.local_time else None,
        "till_id": conflict.till_id,
        "store_id": conflict.store_id,
        "staff_id": conflict.staff_id,
        "reason": conflict.reason,
        "detail": conflict.detail,
        "coupon_id": conflict.coupon_id,
        "code_fingerprint": conflict.code_fingerprint,
        "receipt_id": conflict.receipt_id,
        "claimed_discount_cents": conflict.claimed_discount_cents,
        "winning_redemption_id": _uuid_text(conflict.winning_redemption_id),
        "redemption_id": _uuid_text(conflict.redemption_id),
        "status": conflict.status,
        "created_at": conflict.created_at.isoformat(),
        "resolved_at": conflict.resolved_at.isoformat() if conflict.resolved_at else None,
        "resolved_by_staff_id": conflict.resolved_by_staff_id,
        "resolution_note": conflict.resolution_note,
    }


def _uuid_text(value: uuid.UUID | None) -> str | None:
    """Return a UUID as text (None stays None)."""
    return str(value) if value is not None else None
