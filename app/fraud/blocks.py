"""Blocked members, cards and tills are refused at the till.

Staff block through the review API (``app.fraud.service``). A blocked member is
``members.blocked``, a blocked till is ``tills.blocked``, a blocked card is a row in
``card_blocks`` (a block is temporary, unlike a revocation, which ends a card for good). The
checks run on every till request, so each is one lookup by primary key, and each refusal has
one type and one wording wherever it happens:

* ``refuse_blocked_till``: a till blocked after its session was opened is refused at once
  (``till-blocked``, 403), not only at its next login. The refusal is on record as an attempt.
* ``card_blocked`` and ``member_blocked``: the refusals of a blocked card or member; the till
  pipeline reads both blocks with the card and the member's row (``app.till.pipeline.present``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, true

from app.accounts.models import StaffAccount
from app.errors import DomainError
from app.extensions import db
from app.fraud.attempts import note_attempt
from app.stores.models import Till


def till_blocked() -> DomainError:
    """Return the refusal of a blocked till."""
    return DomainError("till-blocked", "This till has been blocked by staff.")


def card_blocked() -> DomainError:
    """Return the refusal of a blocked card."""
    return DomainError("card-blocked", "This card has been blocked by staff.")


def member_blocked() -> DomainError:
    """Return the refusal of a blocked member."""
    return DomainError("member-blocked", "This member account has been blocked by staff.")


@functools.cache
def _till_state_query(also: tuple[Any, ...]) -> Select[Any]:
    """Build the query of the till's block, the cashier's e-mail and the columns in ``also``.

    Built once per set of columns: building a statement on every request costs more than the
    round trip it makes.
    """
    query = (
        select(Till.blocked, StaffAccount.email, *also)
        .select_from(Till)
        .outerjoin(StaffAccount, StaffAccount.id == bindparam("staff_id"))
        .where(Till.id == bindparam("till_id"))
    )
    if also:
        query = query.outerjoin(also[0].table, true())
    return query


def refuse_blocked_till(
    till_id: int | None, store_id: int | None, staff_id: int, *, also: Sequence[Any] = ()
) -> tuple[str | None, list[Row[Any]]]:
    """Refuse a till request with ``till-blocked`` if staff blocked the till (or it is gone).

    Returns the cashier's e-mail (for the self-dealing rule) and the rows of the columns in
    ``also`` (read in the same statement: the till asks for the settings versions here).
    """
    query = _till_state_query(tuple(also))
    rows = list(db.session.connection().execute(query, {"till_id": till_id, "staff_id": staff_id}))
    if not rows or rows[0].blocked:
        note_attempt("till-request", till_id=till_id, store_id=store_id, staff_id=staff_id)
        raise till_blocked()
    return rows[0].email, rows
