"""Erasing a member (GDPR Art. 17) while the shop's books stay whole.

What goes: the e-mail, name and password of the ``members`` row are overwritten with values
that say nothing (``erased-<id>-<random>@erased.invalid``, "Erased member", an unusable
password hash) and the member is blocked; then every registered eraser runs (``register_eraser``:
the profile is deleted, cards revoked, pass registrations, push subscriptions, refresh tokens
and sign-in links deleted, client addresses cleared, open coupons voided, and whatever later
packages register). Overwriting is irreversible: nothing keeps the old values.

What stays: the ``members`` row itself, now anonymous, so the ledger, purchases, refunds,
redemptions, claims and memberships keep pointing at a member. ``ledger verify`` still adds up
(the balance is not touched), and every KPI that counts members or sums money is unchanged.
This is the pseudonymised link Art. 17(3)(b) and the bookkeeping duties allow.

Everything runs in the caller's transaction; a failure leaves the member as they were.
"""

from __future__ import annotations

import secrets

from app.accounts.models import Member
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.fraud.models import StaffAudit
from app.ledger.service import lock_member
from app.privacy import sources  # noqa: F401  (registers the core erasers)
from app.privacy.models import MemberErasure
from app.privacy.registry import erasers

ERASED_NAME = "Erased member"
ERASED_DOMAIN = "erased.invalid"
UNUSABLE_PASSWORD = "!erased"  # not a werkzeug hash: no password ever matches it


def is_erased(member_id: int) -> bool:
    """Tell whether the member was erased."""
    return db.session.get(MemberErasure, member_id) is not None


def refuse_erased(member_id: int) -> None:
    """Raise ``member-erased`` for an erased member."""
    if is_erased(member_id):
        raise DomainError(
            "member-erased", f"Member {member_id} was erased; no personal data is left."
        )


def audit_staff_action(staff_id: int, action: str, member_id: int, **detail: str) -> None:
    """Write a staff action on a member's data into the staff audit log."""
    db.session.add(
        StaffAudit(
            staff_id=staff_id,
            action=action,
            target_type="member",
            target_id=str(member_id),
            detail=detail,
        )
    )


def erase_member(
    member_id: int, *, staff_id: int | None = None, reason: str | None = None
) -> MemberErasure:
    """Erase the member's personal data; keep their records under an anonymous member."""
    member: Member = lock_member(member_id)
    refuse_erased(member_id)
    member.email = f"erased-{member_id}-{secrets.token_hex(8)}@{ERASED_DOMAIN}"
    member.display_name = ERASED_NAME
    member.password_hash = UNUSABLE_PASSWORD
    member.blocked = True
    db.session.flush()
    for _name, eraser in erasers():
        eraser(member_id)
    erasure = MemberErasure(
        member_id=member_id,
        requested_by="staff" if staff_id is not None else "member",
        staff_id=staff_id,
        erased_at=utcnow(),
    )
    db.session.add(erasure)
    if staff_id is not None:
        audit_staff_action(staff_id, "member-erase", member_id, reason=reason or "")
    db.session.flush()
    return erasure
