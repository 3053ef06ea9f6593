"""Many rows into one table, fast, inside the session's transaction.

History imports write hundreds of thousands of rows. ``insert_rows(table, rows)`` picks the
fastest way each database offers and stays in the caller's transaction (nothing commits):

* **PostgreSQL**: ``COPY ... FROM STDIN`` through psycopg. When the caller needs the new ids,
  they are drawn from the table's own sequence first (``nextval`` over ``generate_series``,
  one round trip) and copied in with the rows, so ids come back in row order.
* **SQLite**: one ``INSERT`` run with ``executemany`` (the driver loops in C), with
  ``RETURNING`` when ids are needed.

Values are written as the column types would bind them: times as naive UTC (``UTCDateTime``),
JSON columns as JSON text. Table defaults that live in Python (``default=``) are not applied:
callers pass every value they need.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.extensions import db


def _copy_value(value: Any, is_json: bool) -> Any:
    if value is None:
        return None
    if is_json:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def insert_rows(
    table: Table, rows: Sequence[dict[str, Any]], return_ids: bool = False
) -> list[int]:
    """Insert rows (dicts with the same keys) and return their new ids if asked, in row order."""
    if not rows:
        return []
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        statement = insert(table)
        if not return_ids:
            connection.execute(statement, list(rows))
            return []
        returned = connection.execute(
            statement.returning(table.c.id, sort_by_parameter_order=True), list(rows)
        )
        return [int(row_id) for row_id in returned.scalars()]
    columns = list(rows[0])
    ids: list[int] = []
    if return_ids:
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = [
            int(value)
            for value in connection.execute(
                select(func.nextval(sequence)).select_from(
                    func.generate_series(1, len(rows)).table_valued("n")
                )
            ).scalars()
        ]
        columns = ["id", *columns]
    json_columns = {name: isinstance(table.c[name].type, JSON) for name in columns}
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    column_list = ", ".join(f'"{name}"' for name in columns)
    with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
        for index, row in enumerate(rows):
            values = [ids[index]] if return_ids else []
            values.extend(
                _copy_value(row[name], json_columns[name])
                for name in columns[1 if return_ids else 0 :]
            )
            copy.write_row(values)
    return ids


def among(column: Any, values: Sequence[Any], element_type: Any) -> ColumnElement[bool]:
    """Return ``column IN (values)`` as one array parameter on PostgreSQL (``= ANY(:values)``).

    A batch of 5,000 values as 5,000 bound parameters makes a statement the driver must parse
    and the server must plan anew each time; one array parameter keeps both cheap.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(element_type)))  # type: ignore[no-any-return]
    return column.in_(list(values))  # type: ignore[no-any-return]
