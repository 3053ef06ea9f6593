"""Posting to the ledger: the only way a member's points change.

Every change is two statements in the caller's transaction, in this order:

1. one conditional ``UPDATE members SET points_balance = points_balance + :delta WHERE id = :m
   [AND points_balance >= :cost] RETURNING points_balance``. The database adds, so concurrent
   postings never lose an update, and the row lock it takes (PostgreSQL) or the write lock
   SQLite transactions start with serialises everything else done for that member until
   commit;
2. ``INSERT`` of the entry, carrying the balance the ``UPDATE`` returned.

Then it announces ``points.changed`` (``app.events``): whoever shows a balance (the wallet
passes) listens, instead of the ledger calling them.

Both run inside a savepoint: if the insert fails (a second reversal of the same entry, a
second expiry of the same points) the balance change is undone with it, and the caller gets a
``DomainError``. Nothing here commits: the request (or the CLI job) owns the transaction, so an
operation that fails half way leaves neither the entry nor the balance behind.

Signs are checked per kind: ``earn`` and ``bonus`` add, ``refund``, ``reward`` and ``expire``
take away, ``adjust`` may do either, a ``reversal`` is the exact opposite of the entry it names.
Only ``spend_points`` refuses to go below zero; refunds, adjustments and expiry may leave a
negative balance (see ``docs/ledger.md``: a negative balance blocks spending until new earning
repays it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Integer, bindparam, func, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.accounts.models import Member
from app.bulk import among, insert_rows
from app.db import insert_row
from app.errors import DomainError
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.models import LEDGER_KINDS, LedgerEntry, Purchase
from app.naming import NameBook
from app.stores import scope
from app.stores.models import Store

# Which sign each kind's points may have.
POSITIVE_KINDS = frozenset({"earn", "bonus"})
NEGATIVE_KINDS = frozenset({"refund", "reward", "expire"})
# Entries that may be undone with a reversal. Earning is undone by refunds (which keep the
# purchase's refunded amount right), and a reversal or refund is never itself reversed.
REVERSIBLE_KINDS = frozenset({"adjust", "bonus", "reward", "expire"})
# Kinds posted without a savepoint when unguarded: no unique index can refuse their entry.
PLAIN_KINDS = frozenset({"earn", "bonus", "refund", "adjust"})
UNGUARDED = true()


@dataclass(frozen=True)
class BalanceMismatch:
    """A member whose cached balance differs from the sum of their entries."""

    member_id: int
    cached_balance: int
    ledger_sum: int


def unknown_member(member_id: int) -> DomainError:
    """Return the problem for a member id that does not exist."""
    return DomainError("unknown-member", f"There is no member {member_id}.")


def lock_member(member_id: int) -> Member:
    """Return the member with their row locked until the transaction ends (``FOR UPDATE``)."""
    member = db.session.execute(
        select(Member)
        .where(Member.id == member_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if member is None:
        raise unknown_member(member_id)
    return member


def _check_sign(kind: str, points: int) -> None:
    if kind not in LEDGER_KINDS:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    if kind in POSITIVE_KINDS and points < 0:
        raise ValueError(f"a {kind} entry cannot take points away")
    if kind in NEGATIVE_KINDS and points > 0:
        raise ValueError(f"a {kind} entry cannot add points")
    if kind in ("adjust", "reversal", "expire") and points == 0:
        raise ValueError(f"a {kind} entry must move points")


_ADD_POINTS = (
    update(Member)
    .where(Member.id == bindparam("member_id"))
    .values(points_balance=Member.points_balance + bindparam("delta"))
    .returning(Member.points_balance)
)


def _move_balance(member_id: int, delta: int, guard: ColumnElement[bool]) -> int | None:
    """Add ``delta`` to the balance if ``guard`` holds; return the new balance or None.

    The ``UPDATE`` runs on the session's connection, so what the session holds (a member who
    signed up just now) is flushed first.
    """
    db.session.flush()
    statement = _ADD_POINTS if guard is UNGUARDED else _ADD_POINTS.where(guard)
    new_balance = (
        db.session.connection()
        .execute(statement, {"member_id": member_id, "delta": delta})
        .scalar_one_or_none()
    )
    if new_balance is not None:
        # A Member loaded earlier in this session holds the old balance: give it the new one
        # (as loaded from the database, so it is neither dirty nor read again).
        cached = db.session.identity_map.get(identity_key(Member, member_id))
        if cached is not None:
            set_committed_value(cached, "points_balance", new_balance)
    return new_balance


def _check_reversal(reverses_id: int | None, member_id: int, points: int) -> None:
    if reverses_id is None:
        raise ValueError("a reversal entry must name the entry it reverses")
    original = db.session.get(LedgerEntry, reverses_id)
    if original is None or original.member_id != member_id:
        raise DomainError("unknown-entry", f"Member has no ledger entry {reverses_id}.")
    if original.kind not in REVERSIBLE_KINDS:
        raise DomainError(
            "entry-not-reversible",
            f"A {original.kind} entry is not undone by a reversal"
            + (" (refund the purchase instead)." if original.kind == "earn" else "."),
        )
    if points != -original.points:
        raise ValueError("a reversal must move exactly the opposite of the entry it reverses")


def _insert_entry(entry: LedgerEntry) -> None:
    """Add the entry, turning a database refusal into the matching problem."""
    try:
        with db.session.begin_nested():
            db.session.add(entry)
    except IntegrityError:
        if entry.kind == "reversal":
            raise DomainError(
                "already-reversed", f"Ledger entry {entry.reverses_id} has been reversed already."
            ) from None
        if entry.kind == "expire":
            raise DomainError(
                "already-expired", "These points were expired already by another run."
            ) from None
        raise


def _post(
    member_id: int, points: int, kind: str, guard: ColumnElement[bool], **fields: object
) -> LedgerEntry:
    """Move the balance and add the entry, both or neither."""
    if kind in PLAIN_KINDS and guard is UNGUARDED:
        # Nothing here can be refused on its own (no balance guard, no unique index to hit):
        # two statements, and a failure fails the caller's transaction as a whole.
        balance = _move_balance(member_id, points, guard)
        if balance is None:
            raise unknown_member(member_id)
        entry = LedgerEntry(
            member_id=member_id, points=points, kind=kind, balance_after=balance, **fields
        )
        insert_row(db.session.connection(), entry)
    else:
        entry = _post_in_savepoint(member_id, points, kind, guard, **fields)
    _announce(entry, kind, points)
    return entry


def _post_in_savepoint(
    member_id: int, points: int, kind: str, guard: ColumnElement[bool], **fields: object
) -> LedgerEntry:
    """Post where the database may refuse (a spend's guard, a second reversal or expiry)."""
    savepoint = db.session.begin_nested()
    try:
        balance = _move_balance(member_id, points, guard)
        if balance is None:
            savepoint.rollback()
            _refuse_move(member_id, -points)
        entry = LedgerEntry(
            member_id=member_id, points=points, kind=kind, balance_after=balance, **fields
        )
        _insert_entry(entry)
        savepoint.commit()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    return entry


def _announce(entry: LedgerEntry, kind: str, points: int) -> None:
    """Tell the subscribers (wallet passes, webhooks, ...) that a member's points changed."""
    publish(
        DomainEvent(
            "points.changed",
            {
                "entry_id": entry.id,
                "kind": kind,
                "points": points,
                "balance": entry.balance_after,
                "reference_type": entry.reference_type,
                "reference_id": entry.reference_id,
            },
            member_id=entry.member_id,
            store_id=entry.store_id,
        )
    )


def _refuse_move(member_id: int, cost: int) -> NoReturn:
    balance = db.session.scalar(select(Member.points_balance).where(Member.id == member_id))
    if balance is None:
        raise unknown_member(member_id)
    raise DomainError(
        "insufficient-points",
        f"This needs {cost} points; the balance is {balance}."
        + (" A negative balance must be repaid by new purchases first." if balance < 0 else ""),
        points_balance=balance,
        points_needed=cost,
    )


def post_ledger_entry(
    member_id: int,
    points: int,
    kind: str,
    *,
    reference_type: str | None = None,
    reference_id: str | None = None,
    till_id: int | None = None,
    store_id: int | None = None,
    staff_id: int | None = None,
    reason: str | None = None,
    reverses_id: int | None = None,
) -> LedgerEntry:
    """Append an entry and move the member's cached balance by ``points``, atomically."""
    _check_sign(kind, points)
    if kind == "reversal":
        _check_reversal(reverses_id, member_id, points)
    elif reverses_id is not None:
        raise ValueError("only a reversal entry names an entry it reverses")
    return _post(
        member_id,
        points,
        kind,
        UNGUARDED,
        reference_type=reference_type,
        reference_id=reference_id,
        till_id=till_id,
        store_id=store_id,
        staff_id=staff_id,
        reason=reason,
        reverses_id=reverses_id,
    )


def spend_points(
    member_id: int,
    cost: int,
    kind: str = "reward",
    *,
    reference_type: str | None = None,
    reference_id: str | None = None,
    till_id: int | None = None,
    store_id: int | None = None,
    staff_id: int | None = None,
    reason: str | None = None,
) -> LedgerEntry:
    """Take ``cost`` points if the balance covers them, else refuse with insufficient-points."""
    if cost <= 0:
        raise ValueError("spending needs a positive cost")
    _check_sign(kind, -cost)
    return _post(
        member_id,
        -cost,
        kind,
        Member.points_balance >= cost,
        reference_type=reference_type,
        reference_id=reference_id,
        till_id=till_id,
        store_id=store_id,
        staff_id=staff_id,
        reason=reason,
    )


def adjust_points(member_id: int, points: int, reason: str, staff_id: int) -> LedgerEntry:
    """Post a manager's correction with its mandatory reason."""
    if not reason.strip():
        raise DomainError("reason-required", "An adjustment needs a reason.")
    return post_ledger_entry(member_id, points, "adjust", staff_id=staff_id, reason=reason.strip())


def reverse_entry(entry_id: int, *, staff_id: int | None, reason: str) -> LedgerEntry:
    """Undo an adjustment, bonus, reward or expiry with a new entry that points at it."""
    original = db.session.get(LedgerEntry, entry_id)
    if original is None:
        raise DomainError("unknown-entry", f"There is no ledger entry {entry_id}.")
    if staff_id is not None:
        scope.require_store(staff_id, original.store_id)
    return post_ledger_entry(
        original.member_id,
        -original.points,
        "reversal",
        reference_type=original.reference_type,
        reference_id=original.reference_id,
        staff_id=staff_id,
        reason=reason.strip() or None,
        reverses_id=original.id,
    )


def member_entries(member_id: int, offset: int, limit: int) -> tuple[Sequence[LedgerEntry], int]:
    """Return one page of a member's entries, newest first, and how many there are in all."""
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == member_id)
    )
    entries = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.member_id == member_id)
        .order_by(LedgerEntry.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return entries, int(total or 0)


def staff_entry_views(entries: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
    """Return ledger entries for staff with the till, store and staff member named."""
    names = NameBook()
    for entry in entries:
        names.want("staff", entry.staff_id).want("store", entry.store_id)
        names.want("till", entry.till_id)
    names.load()
    columns = [column.key for column in LedgerEntry.__table__.columns]
    return [
        {
            **{name: getattr(entry, name) for name in columns},
            "staff": names.ref("staff", entry.staff_id),
            "store": names.ref("store", entry.store_id),
            "till": names.ref("till", entry.till_id),
        }
        for entry in entries
    ]


def entries_with_receipts(entries: Sequence[LedgerEntry]) -> list[dict[str, Any]]:
    """Return entries as data with the store's name and the receipt's amount, for people.

    Two queries for the whole page (store names, purchases by entry), not one per entry.
    """
    store_ids = {entry.store_id for entry in entries if entry.store_id is not None}
    names: dict[int, str] = {}
    if store_ids:
        rows = db.session.execute(select(Store.id, Store.name).where(Store.id.in_(store_ids)))
        names = {store_id: name for store_id, name in rows.tuples()}
    amounts: dict[int, tuple[int, str]] = {}
    if entries:
        purchases = db.session.execute(
            select(Purchase.ledger_entry_id, Purchase.amount_cents, Purchase.currency).where(
                Purchase.ledger_entry_id.in_([entry.id for entry in entries])
            )
        )
        amounts = {
            entry_id: (amount, currency)
            for entry_id, amount, currency in purchases.tuples()
            if entry_id is not None
        }
    described = []
    for entry in entries:
        data = {column.key: getattr(entry, column.key) for column in LedgerEntry.__table__.columns}
        amount, currency = amounts.get(entry.id, (None, None))
        store_name = names.get(entry.store_id) if entry.store_id is not None else None
        data.update(store_name=store_name, amount_cents=amount, currency=currency)
        described.append(data)
    return described


def require_member(member_id: int) -> Member:
    """Return the member, or refuse with unknown-member."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise unknown_member(member_id)
    return member


def find_balance_mismatches() -> list[BalanceMismatch]:
    """List every member whose cached balance is not the sum of their ledger entries."""
    entry_sum = (
        select(func.coalesce(func.sum(LedgerEntry.points), literal(0)))
        .where(LedgerEntry.member_id == Member.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(Member.id, Member.points_balance, entry_sum)
        .where(Member.points_balance != entry_sum)
        .order_by(Member.id)
    ).all()
    return [BalanceMismatch(int(row[0]), int(row[1]), int(row[2])) for row in rows]


def count_members_and_entries() -> tuple[int, int]:
    """Return how many members and ledger entries the check covered."""
    members = db.session.scalar(select(func.count()).select_from(Member))
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    return int(members or 0), int(entries or 0)


# --- many entries at once (history imports) -----------------------------------------------------


@dataclass(frozen=True)
class Posting:
    """One entry of a bulk posting, at its original time."""

    member_id: int
    points: int
    kind: str
    created_at: datetime
    reference_type: str | None = None
    reference_id: str | None = None
    store_id: int | None = None
    staff_id: int | None = None
    reason: str | None = None


def post_ledger_entries(postings: Sequence[Posting]) -> list[int]:
    """Append many entries and move the balances they change; return the entry ids in order.

    The bulk form of ``post_ledger_entry`` for history imports, with the same guarantees: the
    members' rows are locked (in id order, so two bulk runs never deadlock), each entry carries
    the running balance after it, the entries go in with one multi-row INSERT and each balance
    moves once, to the sum it started from plus the member's entries. The rows go in through
    ``app.bulk.insert_rows`` (``COPY`` on PostgreSQL). The signs are checked as
    for single postings; reversals are refused (they need their single-entry checks). It
    announces no ``points.changed``: a history import is not news (no push, no webhook per past
    purchase), and wallet passes fetch the balance on their own.
    """
    if not postings:
        return []
    for posting in postings:
        _check_sign(posting.kind, posting.points)
        if posting.kind == "reversal":
            raise ValueError("reversals are posted one at a time")
    member_ids = sorted({posting.member_id for posting in postings})
    balances: dict[int, int] = {
        int(member_id): int(balance)
        for member_id, balance in db.session.execute(
            select(Member.id, Member.points_balance)
            .where(among(Member.id, member_ids, Integer))
            .order_by(Member.id)
            .with_for_update()
        )
    }
    missing = [member_id for member_id in member_ids if member_id not in balances]
    if missing:
        raise unknown_member(missing[0])
    rows = []
    for posting in postings:
        balances[posting.member_id] += posting.points
        rows.append(
            {
                "member_id": posting.member_id,
                "points": posting.points,
                "balance_after": balances[posting.member_id],
                "kind": posting.kind,
                "reference_type": posting.reference_type,
                "reference_id": posting.reference_id,
                "store_id": posting.store_id,
                "staff_id": posting.staff_id,
                "reason": posting.reason,
                "created_at": posting.created_at,
            }
        )
    entry_ids = insert_rows(LedgerEntry.__table__, rows, return_ids=True)  # type: ignore[arg-type]
    db.session.execute(
        update(Member),
        [{"id": member_id, "points_balance": balances[member_id]} for member_id in member_ids],
    )
    for member_id in member_ids:
        cached = db.session.identity_map.get(identity_key(Member, member_id))
        if cached is not None:
            db.session.expire(cached, ["points_balance"])
    return entry_ids
