"""The declarative base, reusable column types and engine settings.

Times are stored as naive UTC in the database and handed to Python as timezone-aware UTC
(``UTCDateTime``), so SQLite and PostgreSQL behave the same. Constraint names follow one
convention so Alembic can alter tables on SQLite, where every change is a table rebuild.

SQLite is the embedded default. Every transaction there starts with ``BEGIN IMMEDIATE``: the
write lock is taken up front, so two requests never deadlock while upgrading a read lock, and
a conditional ``UPDATE`` is as atomic as on PostgreSQL. Requests wait for each other (up to
the busy timeout) instead of failing.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import (
    Connection,
    DateTime,
    Dialect,
    Engine,
    MetaData,
    Table,
    TextClause,
    bindparam,
    event,
    func,
    insert,
    text,
)
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC on the Python side."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store the value as naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read the value back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_unless_present(
    model: Any, values: dict[str, Any], *, returning: tuple[str, ...] = ()
) -> tuple[TextClause, dict[str, Any]]:
    """Return ``INSERT ... ON CONFLICT DO NOTHING`` for ``model`` and its parameters.

    One statement, no savepoint; with ``returning``, no row back means the row was there
    already (or a concurrent transaction holding it committed first: PostgreSQL waits for it).
    Both PostgreSQL and SQLite (3.35 and newer) speak this SQL. The statement is built once per
    table, column set and returning list and compiled once by SQLAlchemy: the dialects'
    ``on_conflict_do_nothing`` constructs are never cached, so they cost a compilation on
    every execution of the till's hottest statements. Python-side column defaults
    (``created_at``) are filled in here, as an ORM insert would.
    """
    table = model.__table__
    params = dict(values)
    for column in table.columns:
        if column.name not in params and not column.primary_key and column.default is not None:
            params[column.name] = _python_default(column)
    return _insert_unless_present_sql(table, tuple(params), returning), params


def _python_default(column: Any) -> Any:
    """Return the value a column's Python-side default gives a new row."""
    default = column.default
    if default.is_callable:
        return default.arg(None)
    if default.is_scalar:
        return default.arg
    raise NotImplementedError(f"{column} has a default computed in SQL: pass its value")


@functools.cache
def _insert_unless_present_sql(
    table: Table, columns: tuple[str, ...], returning: tuple[str, ...]
) -> TextClause:
    names = ", ".join(f'"{name}"' for name in columns)
    binds = ", ".join(f":{name}" for name in columns)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({binds}) ON CONFLICT DO NOTHING'
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    statement = text(sql).bindparams(
        *(bindparam(name, type_=table.c[name].type) for name in columns)
    )
    if returning:
        return statement.columns(*(table.c[name] for name in returning))  # type: ignore[return-value]
    return statement


def insert_values(
    connection: Connection, model: Any, values: dict[str, Any], *, returning_key: bool = False
) -> Any:
    """Insert one row of ``model`` with one Core ``INSERT`` on ``connection`` (the session's).

    For the till's hottest rows (attempts, outbox events, ledger entries, redemptions): the
    ORM's unit of work costs several times the statement itself. Python-side column defaults
    are filled in as a flush would; every other column left out is ``NULL``, so the statement
    has the same parameters each time and is compiled once. Returns the new autoincrement key
    when ``returning_key``. Pending ORM changes are not flushed first: the row may only point
    at rows already in the database.
    """
    table = model.__table__
    params = {**values, **_left_out(table, values)}
    result = connection.execute(_insert_statement(table, returning_key), params)
    return result.scalar_one() if returning_key else None


def insert_many(connection: Connection, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert several rows of ``model`` like ``insert_values``, in one round trip.

    The rows must name the same columns. psycopg sends an ``executemany`` in pipeline mode:
    one network round trip for all of them.
    """
    if not rows:
        return
    table = model.__table__
    params = [{**values, **_left_out(table, values)} for values in rows]
    connection.execute(_insert_statement(table, False), params)


def insert_row(connection: Connection, row: Any) -> None:
    """Insert a new mapped object like ``insert_values``; the object stays out of the session.

    It stays complete, though: the defaults filled in and the new primary key are set on it
    (its mapped attributes are named as their columns).
    """
    table = row.__table__
    for name, value in _left_out(table, row.__dict__).items():
        setattr(row, name, value)
    values = {
        column.name: row.__dict__[column.name]
        for column in table.columns
        if column.name in row.__dict__
    }
    (key,) = table.primary_key.columns
    if key.name in values:
        insert_values(connection, type(row), values)
    else:
        setattr(row, key.name, insert_values(connection, type(row), values, returning_key=True))


def _left_out(table: Table, given: dict[str, Any]) -> dict[str, Any]:
    """Return the values a new row gets for the columns ``given`` leaves out (but its key)."""
    return {
        column.name: _python_default(column) if column.default is not None else None
        for column in table.columns
        if column.name not in given and not (column.primary_key and column.default is None)
    }


@functools.cache
def _insert_statement(table: Table, returning_key: bool) -> Any:
    statement = insert(table)
    if returning_key:
        (key,) = table.primary_key.columns
        statement = statement.returning(key)
    return statement


def utcnow() -> datetime:
    """Return the current time as aware UTC."""
    return datetime.now(UTC)


def iso_or_none(value: datetime | None) -> str | None:
    """Write a time as ISO 8601 for an API answer, or None."""
    return value.isoformat() if value is not None else None


created_at = Annotated[
    datetime,
    mapped_column(UTCDateTime(), default=utcnow, server_default=func.current_timestamp()),
]


class Base(DeclarativeBase):
    """The base class of every model."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def ping_idle_connections(engine: Engine, idle_seconds: float) -> None:
    """Check a pooled connection before use, but only one that sat idle for ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` checks every connection on every checkout: a round trip on
    every request, a tenth of a till scan's. A connection handed back a moment ago was alive a
    moment ago; the ones that may have died (a database restart, a proxy's idle timeout) are
    the ones that sat in the pool. A dead one is replaced before the request sees it
    (``DisconnectionError`` makes the pool connect anew). A database that dies under load
    fails the requests in flight, as it would with any ping; SQLAlchemy then invalidates the
    pool's older connections. SQLite has nothing to ping.
    """
    if engine.dialect.name == "sqlite":
        return

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return  # just connected, or back in use within moments
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure of the ping means: connect anew
            raise DisconnectionError("idle connection failed its ping") from exc
        if not alive:
            raise DisconnectionError("idle connection failed its ping")


def configure_sqlite(engine: Engine) -> None:
    """Make SQLite transactions take the write lock up front and wait for each other."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
