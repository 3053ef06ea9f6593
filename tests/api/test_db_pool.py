"""Pooled PostgreSQL connections: one that sat idle is checked before use, a busy one is not.

A backend is killed with ``pg_terminate_backend`` from a second connection, as a database
restart or a proxy's idle timeout would kill it, while its connection waits in the pool.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app import create_app
from app.extensions import db
from tests.conftest import base_config

pytestmark = pytest.mark.postgres


def _backend_pid() -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as killer:
        killer.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_that_died_is_replaced_before_anyone_uses_it(
    postgres_url: str, instance_path: Path
) -> None:
    app = create_app({**base_config(instance_path, postgres_url), "DB_PING_IDLE_SECONDS": 0.0})
    with app.app_context():
        first = _backend_pid()
        _terminate(postgres_url, first)

        second = _backend_pid()  # the same pooled connection was checked, found dead, replaced

        assert second != first
        db.engine.dispose()


def test_a_connection_back_in_use_within_moments_is_not_checked(
    postgres_url: str, instance_path: Path
) -> None:
    app = create_app({**base_config(instance_path, postgres_url), "DB_PING_IDLE_SECONDS": 3600.0})
    with app.app_context():
        first = _backend_pid()
        _terminate(postgres_url, first)

        # No ping: the dead connection is handed out and its first statement fails ...
        with pytest.raises(OperationalError):
            _backend_pid()
        # ... which makes SQLAlchemy drop it: the next use gets a live connection.
        assert _backend_pid() != first
        db.engine.dispose()
