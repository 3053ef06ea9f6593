"""Turning database rows into JSON-ready dicts for the export.

Every column is written under its own name; times and dates as ISO 8601, UUIDs as text, binary
values as nothing (they are keys, hashes or sealed codes, never the member's own data).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, inspect

from app.extensions import db


def json_value(value: Any) -> Any:
    """Return a value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return None
    return value


def row_dict(obj: Any, omit: Collection[str] = ()) -> dict[str, Any]:
    """Return an ORM object's columns as a dict."""
    mapper = inspect(obj).mapper
    return {
        column.key: json_value(getattr(obj, column.key))
        for column in mapper.column_attrs
        if column.key not in omit
    }


def mapping_dict(mapping: Any, omit: Collection[str] = ()) -> dict[str, Any]:
    """Return a Core result row's columns as a dict."""
    return {key: json_value(value) for key, value in mapping.items() if key not in omit}


def rows_of(query: Select[Any], omit: Collection[str] = ()) -> list[dict[str, Any]]:
    """Run an ORM query and return its objects as dicts."""
    return [row_dict(obj, omit) for obj in db.session.scalars(query)]
