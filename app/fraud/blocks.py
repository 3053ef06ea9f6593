"""Blocked members, cards and tills are refused at the till.

Staff block through the review API (``app.fraud.service``). A blocked member is
``members.blocked``, a blocked till is ``tills.blocked``, a blocked card is a row in
``card_blocks`` (a block is temporary, unlike a revocation, which ends a card for good). The
checks run on every till request, so each is one lookup by primary key, and each refusal has
one type and one wording wherever it happens:

* ``refuse_blocked_till``: a till blocked after its session was opened is refused at once
  (``till-blocked``, 403), not only at its next login. The refusal is on record as an attempt.
* ``refuse_blocked_card`` and ``refuse_blocked_member``: ``card-blocked`` or
  ``member-blocked`` (403), for the card presented and the member it belongs to.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from app.accounts.models import Member
from app.errors import Problem
from app.extensions import db
from app.fraud.attempts import note_attempt
from app.fraud.models import CardBlock
from app.stores.models import Till


def till_blocked() -> Problem:
    """Return the refusal of a blocked till."""
    return Problem("till-blocked", 403, "Till blocked", "This till has been blocked by staff.")


def card_blocked() -> Problem:
    """Return the refusal of a blocked card."""
    return Problem("card-blocked", 403, "Card blocked", "This card has been blocked by staff.")


def member_blocked() -> Problem:
    """Return the refusal of a blocked member."""
    return Problem(
        "member-blocked", 403, "Member blocked", "This member account has been blocked by staff."
    )


def refuse_blocked_till(till_id: int | None, store_id: int | None, staff_id: int) -> None:
    """Refuse a till request with ``till-blocked`` if staff blocked the till (or it is gone)."""
    blocked = db.session.scalar(select(Till.blocked).where(Till.id == till_id))
    if blocked is None or blocked:
        note_attempt("till-request", till_id=till_id, store_id=store_id, staff_id=staff_id)
        raise till_blocked()


def refuse_blocked_card(card_id: uuid.UUID) -> None:
    """Refuse a presented card with ``card-blocked`` if staff blocked it."""
    if db.session.get(CardBlock, str(card_id)) is not None:
        raise card_blocked()


def refuse_blocked_member(member_id: int) -> None:
    """Refuse a member with ``member-blocked`` if staff blocked them (no lock taken)."""
    if db.session.scalar(select(Member.blocked).where(Member.id == member_id)):
        raise member_blocked()
