"""SQL building blocks that must read the same on SQLite and PostgreSQL.

``epoch_day(column)`` is the UTC calendar day of a timestamp as a whole number of days since
1970-01-01, so day arithmetic (gaps, windows, ages) is integer arithmetic on both databases:
PostgreSQL subtracts dates, SQLite counts Julian days (timestamps are stored as naive UTC).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

EPOCH = date(1970, 1, 1)


class epoch_day(FunctionElement[int]):  # noqa: N801  (reads like the SQL function it is)
    """The UTC day of a timestamp as days since 1970-01-01 (an integer)."""

    type = Integer()
    inherit_cache = True
    name = "epoch_day"


@compiles(epoch_day, "postgresql")
def _epoch_day_postgresql(element: epoch_day, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return f"(CAST({compiler.process(column, **kw)} AS DATE) - DATE '1970-01-01')"


@compiles(epoch_day, "sqlite")
def _epoch_day_sqlite(element: epoch_day, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    return f"CAST(julianday({compiler.process(column, **kw)}) - 2440587.5 AS INTEGER)"


def day_number(day: date) -> int:
    """Return a date as days since 1970-01-01 (what ``epoch_day`` gives in SQL)."""
    return (day - EPOCH).days
