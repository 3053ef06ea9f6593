"""Blocked members, cards and tills are refused at the till.

Staff block through the review API (``app.fraud.service``). A blocked member is
``members.blocked``, a blocked till is ``tills.blocked``, a blocked card is a row in
``card_blocks`` (a block is temporary, unlike a revocation, which ends a card for good). The
checks here run on every till request and every card presentation, so each is one lookup by
primary key:

* ``refuse_blocked_till`` runs in ``till_required`` for every till route: a till blocked after
  its session was opened is refused at once (``till-blocked``, 403), not only at its next
  login. The refusal is on record as an attempt.
* ``refuse_blocked_card`` runs in ``present_card`` once the card is known: ``card-blocked`` or
  ``member-blocked`` (403).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.errors import Problem
from app.extensions import db
from app.fraud.models import CardBlock

if TYPE_CHECKING:
    from app.auth.tokens import Identity
    from app.cards.models import Card


def refuse_blocked_till(identity: Identity) -> None:
    """Refuse a till request with ``till-blocked`` if staff blocked the till."""
    from app.fraud.attempts import note_attempt
    from app.stores.models import Till

    blocked = db.session.scalar(select(Till.blocked).where(Till.id == identity.till_id))
    if blocked is None or blocked:
        note_attempt(
            "till-request",
            till_id=identity.till_id,
            store_id=identity.store_id,
            staff_id=identity.subject_id,
        )
        raise Problem("till-blocked", 403, "Till blocked", "This till has been blocked by staff.")


def refuse_blocked_card(card: Card) -> None:
    """Refuse a presented card with ``card-blocked`` or ``member-blocked`` if staff blocked it."""
    from app.accounts.models import Member

    if db.session.get(CardBlock, str(card.id)) is not None:
        raise Problem("card-blocked", 403, "Card blocked", "This card has been blocked by staff.")
    if db.session.scalar(select(Member.blocked).where(Member.id == card.member_id)):
        raise Problem(
            "member-blocked",
            403,
            "Member blocked",
            "This member account has been blocked by staff.",
        )
