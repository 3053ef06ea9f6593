"""Where every package declares the personal data it keeps, and for how long.

Three registries, filled at import time by the package that owns the table (the core tables
are declared in ``app.privacy.sources``; a later package adds its own with one call next to
its models), read by the export, the erasure and the retention job:

* ``register_member_table("name", "table", ...)``: rows of ``table`` that belong to a member
  go into the export under ``name``. Rows are matched by a member column, or through a parent
  table (``via=("purchase_id", "purchases")``: rows whose ``purchase_id`` is one of the
  member's purchases). Secret columns (hashes, sealed codes) are left out with ``omit``.
  ``register_export_source`` takes any function of the member id instead.
* ``register_eraser("name", function)``: run when a member is erased, inside the erasure's
  transaction; it deletes or pseudonymises what its package keeps about the member.
* ``register_retention("table", "time_column", period)``: rows older than the period are
  deleted by ``flask --app app retention prune``. The period can be changed per table with
  ``PRIVACY_RETENTION_<TABLE>_DAYS``; ``where`` narrows which rows may go at all.

Registries are keyed by name, so importing a module twice registers nothing twice.
``covered_tables()`` lists the tables the export reads; a test checks that every table that
names a member is covered or listed in ``NOT_EXPORTED`` with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table

Collector = Callable[[int], list[dict[str, Any]]]
Eraser = Callable[[int], None]
Condition = Callable[[Table], ColumnElement[bool]]


@dataclass(frozen=True)
class MemberTable:
    """A table whose rows belonging to a member are exported as they are."""

    name: str
    table: str
    member_column: str | None = "member_id"
    via: tuple[str, str] | None = None  # (this table's column, parent table with member_id)
    parent_key: str = "id"
    omit: frozenset[str] = frozenset()
    where: Condition | None = None


@dataclass(frozen=True)
class ExportSource:
    """A named part of the export: rows from a table, or a function of the member id."""

    name: str
    tables: tuple[str, ...]
    member_table: MemberTable | None = None
    collect: Collector | None = None


@dataclass(frozen=True)
class RetentionRule:
    """Rows of ``table`` older than ``period`` (by ``time_column``) are deleted."""

    table: str
    time_column: str
    period: timedelta
    reason: str
    where: Condition | None = None


@dataclass
class _Registries:
    exports: dict[str, ExportSource] = field(default_factory=dict)
    erasers: dict[str, Eraser] = field(default_factory=dict)
    retention: dict[str, RetentionRule] = field(default_factory=dict)


REGISTRIES = _Registries()

# Tables that name a member but are not part of the export, and why.
NOT_EXPORTED: dict[str, str] = {}


def register_member_table(
    name: str,
    table: str,
    *,
    member_column: str | None = "member_id",
    via: tuple[str, str] | None = None,
    parent_key: str = "id",
    omit: Sequence[str] = (),
    where: Condition | None = None,
) -> None:
    """Export the member's rows of ``table`` under ``name``."""
    spec = MemberTable(name, table, member_column, via, parent_key, frozenset(omit), where)
    tables = (table,) if via is None else (table, via[1])
    REGISTRIES.exports[name] = ExportSource(name, tables[:1], member_table=spec)


def register_export_source(name: str, tables: Sequence[str], collect: Collector) -> None:
    """Export what ``collect(member_id)`` returns under ``name`` (covering ``tables``)."""
    REGISTRIES.exports[name] = ExportSource(name, tuple(tables), collect=collect)


def register_not_exported(table: str, reason: str) -> None:
    """Record that ``table`` names members but is deliberately not exported."""
    NOT_EXPORTED[table] = reason


def register_eraser(name: str, eraser: Eraser) -> None:
    """Run ``eraser(member_id)`` when a member is erased."""
    REGISTRIES.erasers[name] = eraser


def register_retention(
    table: str,
    time_column: str,
    period: timedelta,
    *,
    reason: str,
    where: Condition | None = None,
) -> None:
    """Delete rows of ``table`` once ``time_column`` is older than ``period``."""
    REGISTRIES.retention[table] = RetentionRule(table, time_column, period, reason, where)


def export_sources() -> list[ExportSource]:
    """Return every export source, in registration order."""
    return list(REGISTRIES.exports.values())


def erasers() -> list[tuple[str, Eraser]]:
    """Return every eraser with its name, in registration order."""
    return list(REGISTRIES.erasers.items())


def retention_rules() -> list[RetentionRule]:
    """Return every retention rule."""
    return list(REGISTRIES.retention.values())


def covered_tables() -> set[str]:
    """Return the tables the export reads."""
    return {table for source in export_sources() for table in source.tables}
