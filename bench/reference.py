"""The stack's reference: what Flask and SQLAlchemy Core do with one small till-like write.

The issue that set the till's targets measured "a plain Flask + SQLAlchemy Core endpoint doing
a conditional ``UPDATE`` and an ``INSERT``" at about 0.18 of the one-route ceiling. This is
that endpoint, served by ``make bench`` with the same gunicorn settings on the same database,
so every run says where the stack itself stands next to the ceiling and the till's calls:

``POST /use`` with ``{"counter": n}`` takes one use of counter ``n`` if it has any left (a
conditional ``UPDATE ... RETURNING``, as a coupon's claim), logs it (an ``INSERT``) and commits;
it answers ``{"left": ...}``, or 409 when none are left. No request hooks, no schemas, no auth,
no log line: the floor of a write with this stack.

``prepare(url, counters)`` creates and fills the two tables before the servers start.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    func,
    insert,
    update,
)

METADATA = MetaData()
COUNTERS = Table(
    "reference_counters",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("left", Integer, nullable=False),
)
USES = Table(
    "reference_uses",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("counter_id", Integer, nullable=False),
    Column("used_at", DateTime, nullable=False, server_default=func.current_timestamp()),
)
_TAKE_ONE = (
    update(COUNTERS)
    .where(COUNTERS.c.id == bindparam("counter"), COUNTERS.c.left > 0)
    .values(left=COUNTERS.c.left - 1)
    .returning(COUNTERS.c.left)
)
_LOG_USE = insert(USES).values(counter_id=bindparam("counter"))


def engine_url(url: str) -> str:
    """Return ``url`` with psycopg 3 as the PostgreSQL driver (as the app uses)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def prepare(url: str, counters: int) -> None:
    """Create the reference tables and give each of ``counters`` counters a million uses."""
    engine = create_engine(engine_url(url))
    METADATA.drop_all(engine)
    METADATA.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(COUNTERS), [{"id": n, "left": 1_000_000} for n in range(1, counters + 1)]
        )
    engine.dispose()


def create_app() -> Flask:
    """Return the reference app, on the database named by ``DATABASE_URL``."""
    app = Flask(__name__)
    engine = create_engine(engine_url(os.environ["DATABASE_URL"]), pool_size=1)

    @app.post("/use")
    def use() -> Any:
        counter = int(request.get_json()["counter"])
        with engine.begin() as connection:
            left = connection.execute(_TAKE_ONE, {"counter": counter}).scalar()
            if left is None:
                return {"error": "none left"}, 409
            connection.execute(_LOG_USE, {"counter": counter})
        return {"left": left}

    return app
