"""The member's data as a download (GDPR Art. 15 and 20).

``member_export(member_id)`` walks the export registry (``app.privacy.registry``) and returns
one JSON-ready document: every registered table's rows that belong to the member, under the
name the owning package chose. ``export_zip`` packs it as ``export.json`` plus the ledger as
``ledger.csv`` (one line per entry, the member's bank statement of points) and a short
``README.txt`` that says what each part is. Secrets (password and token hashes, sealed codes,
push keys) are never exported: they are not the member's data but the keys that protect it.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from sqlalchemy import ColumnElement, Table, select

from app.db import Base, utcnow
from app.extensions import db
from app.privacy import sources  # noqa: F401  (registers the core tables)
from app.privacy.registry import MemberTable, export_sources
from app.privacy.rows import mapping_dict

EXPORT_FORMAT = "loyalty-wallet-export/1"
LEDGER_COLUMNS = (
    "id",
    "created_at",
    "kind",
    "points",
    "balance_after",
    "reference_type",
    "reference_id",
    "store_id",
    "reason",
)


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _member_table_rows(spec: MemberTable, member_id: int) -> list[dict[str, Any]]:
    table = _table(spec.table)
    condition: ColumnElement[bool]
    if spec.via is not None:
        column, parent_name = spec.via
        parent = _table(parent_name)
        condition = table.c[column].in_(
            select(parent.c[spec.parent_key]).where(parent.c.member_id == member_id)
        )
    else:
        assert spec.member_column is not None
        condition = table.c[spec.member_column] == member_id
    query = select(table).where(condition)
    if spec.where is not None:
        query = query.where(spec.where(table))
    primary = list(table.primary_key.columns)
    rows = db.session.execute(query.order_by(*primary)).mappings()
    return [mapping_dict(row, spec.omit) for row in rows]


def member_export(member_id: int) -> dict[str, Any]:
    """Return everything held about the member, per registered source."""
    data: dict[str, list[dict[str, Any]]] = {}
    for source in export_sources():
        if source.member_table is not None:
            data[source.name] = _member_table_rows(source.member_table, member_id)
        elif source.collect is not None:
            data[source.name] = source.collect(member_id)
    return {
        "format": EXPORT_FORMAT,
        "generated_at": utcnow().isoformat(),
        "member_id": member_id,
        "data": data,
    }


def ledger_csv(entries: list[dict[str, Any]]) -> str:
    """Write ledger entries as CSV, oldest first."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(LEDGER_COLUMNS)
    for entry in sorted(entries, key=lambda row: row["id"]):
        writer.writerow(["" if entry.get(c) is None else entry[c] for c in LEDGER_COLUMNS])
    return out.getvalue()


README = """Your data held by the loyalty programme.

export.json  everything we hold about you, one section per kind of record
             ("member", "profile", "consents", "cards", "ledger", "purchases", ...)
ledger.csv   every change of your points, oldest first, with the balance after it

Secrets that protect your account (password and token hashes, sealed coupon codes) are not
included: they are not your data, and they are useless outside this system.
"""


def export_zip(member_id: int) -> bytes:
    """Return the export as a ZIP archive."""
    document = member_export(member_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export.json", json.dumps(document, indent=2, ensure_ascii=False))
        archive.writestr("ledger.csv", ledger_csv(document["data"].get("ledger", [])))
        archive.writestr("README.txt", README)
    return buffer.getvalue()
