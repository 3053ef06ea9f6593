"""Bringing a shop's till history in: a POS export, one row per receipt.

The file is CSV with exactly this header (UTF-8, a BOM is fine)::

    email,display_name,receipt_id,store_id,occurred_at,amount_cents,currency

``occurred_at`` is ISO 8601 (a time without an offset is read as UTC), ``amount_cents`` what
was paid in minor units, ``currency`` the programme's. The same function serves the CLI
(``flask --app app import purchases FILE.csv [--no-points]``) and the managers' upload.

**Streaming, in batches.** Rows are read one at a time and handled ``batch_size`` at a time:
validate, find the members by e-mail and create the missing ones (one multi-row INSERT), skip
receipts already booked (one query per batch), compute the points with the ledger's own
``compute_points`` under the earning rules in force, post the earn entries with the ledger's
``post_ledger_entries`` (one multi-row INSERT, balances moved once per member) and insert the
purchases. Memory stays flat whatever the file's size. ``on_batch`` runs after each batch: the
CLI commits there, so an interrupted import keeps what it did and a rerun finishes the rest.

**Idempotent by receipt.** A receipt is (store, receipt id), UNIQUE in the database as at the
till. A receipt booked before (by the till, an earlier import, or an earlier line of the same
file) is counted as a duplicate and changes nothing, so importing a file twice changes nothing.

**Bad rows do not stop good ones.** Each bad row is reported with its line number (counted as
an editor does: the header is line 1) and the reason, and the rest goes in.

**Points.** Unless ``award_points`` is off (``--no-points``: history only), each purchase earns
what ``compute_points`` gives at the base rate and the bonus rules for the whole amount (an
export has no basket lines); no tier multiplier or promotion applies, because which ones held
at the time is not known. Entries are dated at the purchase's time, so expiry and the tier
window treat them as what they were; tiers are reviewed lazily at the member's next purchase
or visit, as for members who stay away.

**New members** get an unusable password (they join through a password reset) and their
sign-up time is their earliest imported purchase, so cohorts start where the history does.
Their card is issued the first time they open the app.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member
from app.auth.service import normalise_email
from app.bulk import among, insert_rows
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.ledger.earning import compute_points, load_programme, load_rules
from app.ledger.models import Purchase
from app.ledger.purchases import RECEIPT_REFERENCE
from app.ledger.service import Posting, post_ledger_entries
from app.stores.models import Store

HEADER = (
    "email",
    "display_name",
    "receipt_id",
    "store_id",
    "occurred_at",
    "amount_cents",
    "currency",
)
BATCH_SIZE = 5_000
MAX_AMOUNT_CENTS = 100_000_000
MAX_BAD_ROWS_KEPT = 10_000
UNUSABLE_PASSWORD = "!imported"
IMPORT_SOURCE = "import"
FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class BadRow:
    """A row that was not imported, and why."""

    line: int
    reason: str


@dataclass
class ImportReport:
    """What an import did."""

    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    members_created: int = 0
    points_awarded: int = 0
    bad_row_count: int = 0
    bad_rows: list[BadRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain data (at most ``MAX_BAD_ROWS_KEPT`` bad rows listed)."""
        return {
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "members_created": self.members_created,
            "points_awarded": self.points_awarded,
            "bad_row_count": self.bad_row_count,
            "bad_rows": [{"line": bad.line, "reason": bad.reason} for bad in self.bad_rows],
        }

    def add_bad_row(self, bad: BadRow) -> None:
        """Count a bad row and keep it for the report (up to a limit)."""
        self.bad_row_count += 1
        if len(self.bad_rows) < MAX_BAD_ROWS_KEPT:
            self.bad_rows.append(bad)


@dataclass(frozen=True)
class ReceiptRow:
    """A valid row of the export."""

    line: int
    email: str
    display_name: str
    receipt_id: str
    store_id: int
    occurred_at: datetime
    amount_cents: int


class RowError(ValueError):
    """A row that cannot be imported (the message is the reason)."""


def bad_header(found: list[str]) -> DomainError:
    """Return the problem for a file whose first line is not the expected header."""
    return DomainError(
        "import-bad-header",
        "The first line must be exactly: " + ",".join(HEADER),
        found=found[: len(HEADER) + 2],
    )


def _parse_row(
    line: int, fields: list[str], store_ids: set[int], currency: str, now: datetime
) -> ReceiptRow:
    if len(fields) != len(HEADER):
        raise RowError(f"expected {len(HEADER)} columns, found {len(fields)}")
    email_text, name, receipt_id, store_text, time_text, amount_text, row_currency = (
        value.strip() for value in fields
    )
    email = normalise_email(email_text)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or " " in email:
        raise RowError(f"email {email_text!r} is not an e-mail address")
    if not 1 <= len(receipt_id) <= 64:
        raise RowError("receipt_id must be 1 to 64 characters")
    try:
        store_id = int(store_text)
    except ValueError:
        raise RowError(f"store_id {store_text!r} is not a number") from None
    if store_id not in store_ids:
        raise RowError(f"there is no store {store_id} (or it is not one of yours)")
    try:
        occurred_at = datetime.fromisoformat(time_text)
    except ValueError:
        raise RowError(f"occurred_at {time_text!r} is not an ISO 8601 time") from None
    occurred_at = (
        occurred_at.replace(tzinfo=UTC) if occurred_at.tzinfo is None else occurred_at
    ).astimezone(UTC)
    if occurred_at > now + FUTURE_TOLERANCE:
        raise RowError("occurred_at is in the future")
    try:
        amount = int(amount_text)
    except ValueError:
        raise RowError(f"amount_cents {amount_text!r} is not a whole number") from None
    if not 0 < amount <= MAX_AMOUNT_CENTS:
        raise RowError(f"amount_cents must be between 1 and {MAX_AMOUNT_CENTS}")
    if row_currency.upper() != currency:
        raise RowError(f"currency {row_currency!r} is not the programme's ({currency})")
    display_name = name[:100] or local[:100]
    return ReceiptRow(line, email, display_name, receipt_id, store_id, occurred_at, amount)


def _batches(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Importer:
    """The state of one import run (the rules, the stores, who it created)."""

    def __init__(
        self, award_points: bool, staff_id: int | None, store_ids: set[int] | None
    ) -> None:
        self.award_points = award_points
        self.staff_id = staff_id
        programme = load_programme()
        self.currency = programme.currency
        self.rules = load_rules(programme)
        known = set(db.session.scalars(select(Store.id)))
        self.store_ids = known if store_ids is None else known & store_ids
        self.created_member_ids: set[int] = set()
        self.created_in_batch: set[int] = set()
        self.points_by_amount: dict[int, int] = {}
        self.now = utcnow()

    def points_for(self, amount_cents: int) -> int:
        """Return what a purchase of this amount earns (the ledger's rules, memoised by amount)."""
        if not self.award_points:
            return 0
        points = self.points_by_amount.get(amount_cents)
        if points is None:
            points = compute_points(amount_cents, [], self.rules)
            self.points_by_amount[amount_cents] = points
        return points

    def members_for(self, rows: list[ReceiptRow], report: ImportReport) -> dict[str, int]:
        """Return member ids by e-mail, creating the members not known yet."""
        emails = sorted({row.email for row in rows})
        known: dict[str, int] = {
            email: int(member_id)
            for member_id, email in db.session.execute(
                select(Member.id, Member.email).where(among(Member.email, emails, String))
            )
        }
        first_seen: dict[str, ReceiptRow] = {}
        for row in rows:
            if row.email in known:
                continue
            earlier = first_seen.get(row.email)
            if earlier is None or row.occurred_at < earlier.occurred_at:
                first_seen[row.email] = row
        if first_seen:
            newcomers = list(first_seen.values())
            created = insert_rows(
                Member.__table__,  # type: ignore[arg-type]
                [
                    {
                        "email": row.email,
                        "display_name": row.display_name,
                        "password_hash": UNUSABLE_PASSWORD,
                        "created_at": row.occurred_at,
                    }
                    for row in newcomers
                ],
                return_ids=True,
            )
            for member_id, row in zip(created, newcomers, strict=True):
                known[row.email] = member_id
                self.created_member_ids.add(member_id)
                self.created_in_batch.add(member_id)
            report.members_created += len(created)
        return known

    def new_receipts(self, rows: list[ReceiptRow], report: ImportReport) -> list[ReceiptRow]:
        """Drop the receipts booked before (in the database or earlier in this batch)."""
        booked: set[tuple[int, str]] = set()
        by_store: dict[int, list[str]] = {}
        for row in rows:
            by_store.setdefault(row.store_id, []).append(row.receipt_id)
        for store_id, receipt_ids in by_store.items():
            booked.update(
                (store_id, receipt_id)
                for receipt_id in db.session.scalars(
                    select(Purchase.receipt_id).where(
                        Purchase.store_id == store_id,
                        among(Purchase.receipt_id, receipt_ids, String),
                    )
                )
            )
        fresh = []
        for row in rows:
            key = (row.store_id, row.receipt_id)
            if key in booked:
                report.duplicates += 1
                continue
            booked.add(key)
            fresh.append(row)
        return fresh

    def book(self, rows: list[ReceiptRow], report: ImportReport) -> None:
        """Import one batch of valid rows."""
        self.created_in_batch = set()
        fresh = self.new_receipts(rows, report)
        if not fresh:
            return
        members = self.members_for(fresh, report)
        points = [self.points_for(row.amount_cents) for row in fresh]
        entry_ids: list[int | None] = [None] * len(fresh)
        if self.award_points:
            posted = post_ledger_entries(
                [
                    Posting(
                        member_id=members[row.email],
                        points=earned,
                        kind="earn",
                        created_at=row.occurred_at,
                        reference_type=RECEIPT_REFERENCE,
                        reference_id=row.receipt_id,
                        store_id=row.store_id,
                        staff_id=self.staff_id,
                        reason="imported history",
                    )
                    for row, earned in zip(fresh, points, strict=True)
                ]
            )
            entry_ids = list(posted)
            report.points_awarded += sum(points)
        insert_rows(
            Purchase.__table__,  # type: ignore[arg-type]
            [
                {
                    "store_id": row.store_id,
                    "receipt_id": row.receipt_id,
                    "till_id": None,
                    "staff_id": self.staff_id,
                    "member_id": members[row.email],
                    "amount_cents": row.amount_cents,
                    "currency": self.currency,
                    "points_earned": earned,
                    "ledger_entry_id": entry_id,
                    "source": IMPORT_SOURCE,
                    "created_at": row.occurred_at,
                }
                for row, earned, entry_id in zip(fresh, points, entry_ids, strict=True)
            ],
        )
        self._move_signups_back(fresh, members)
        report.imported += len(fresh)

    def _move_signups_back(self, rows: list[ReceiptRow], members: dict[str, int]) -> None:
        """Let members an earlier batch of this run created have signed up at their earliest
        imported purchase (members created in this batch got it already)."""
        earliest: dict[int, datetime] = {}
        for row in rows:
            member_id = members[row.email]
            if member_id in self.created_member_ids and member_id not in self.created_in_batch:
                current = earliest.get(member_id)
                if current is None or row.occurred_at < current:
                    earliest[member_id] = row.occurred_at
        if earliest:
            table = cast(Table, Member.__table__)
            db.session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("member_id"), table.c.created_at > bindparam("moment")
                )
                .values(created_at=bindparam("moment")),
                [{"member_id": key, "moment": value} for key, value in earliest.items()],
            )


def import_purchases(
    lines: Iterable[str],
    *,
    award_points: bool = True,
    staff_id: int | None = None,
    batch_size: int = BATCH_SIZE,
    store_ids: set[int] | None = None,
    on_batch: Callable[[ImportReport, int], None] | None = None,
) -> ImportReport:
    """Import a purchase export (an iterable of text lines, e.g. an open file).

    ``store_ids`` limits the stores rows may name (a manager's own); rows naming another store
    are bad rows. ``on_batch(report, line)`` runs after each batch.
    """
    try:
        return _import(lines, award_points, staff_id, batch_size, store_ids, on_batch)
    except UnicodeDecodeError:
        raise DomainError("import-not-utf8", "The file must be UTF-8 encoded text.") from None


def _import(
    lines: Iterable[str],
    award_points: bool,
    staff_id: int | None,
    batch_size: int,
    store_ids: set[int] | None,
    on_batch: Callable[[ImportReport, int], None] | None,
) -> ImportReport:
    reader = csv.reader(lines)
    header = next(reader, None)
    found = [value.strip().lstrip("\ufeff").lower() for value in header or []]
    if tuple(found) != HEADER:
        raise bad_header(found)
    importer = _Importer(award_points, staff_id, store_ids)
    report = ImportReport()

    def parsed() -> Iterator[ReceiptRow | BadRow]:
        for fields in reader:
            if not any(value.strip() for value in fields):
                continue  # blank lines are not rows
            report.rows += 1
            try:
                yield _parse_row(
                    reader.line_num, fields, importer.store_ids, importer.currency, importer.now
                )
            except RowError as exc:
                yield BadRow(reader.line_num, str(exc))

    for batch in _batches(parsed(), batch_size):
        good = []
        for item in batch:
            if isinstance(item, BadRow):
                report.add_bad_row(item)
            else:
                good.append(item)
        try:
            with db.session.begin_nested():
                importer.book(good, report)
        except IntegrityError:
            raise DomainError(
                "import-conflict",
                "Another import or a till booked some of these receipts (or created one of these "
                "members) at the same time. Nothing of this batch was kept; run the import again.",
            ) from None
        if on_batch is not None:
            on_batch(report, reader.line_num)
    db.session.flush()
    return report
