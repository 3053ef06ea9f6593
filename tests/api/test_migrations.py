"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

Each backend gets a database of its own, built only by ``flask db upgrade``, and Alembic's
autogenerate comparison must find nothing to change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, _psycopg, base_config, migrate_to_head, unavailable


def _fresh_postgres_database(suffix: str) -> str:
    if not TEST_DATABASE_URL:
        unavailable("PostgreSQL suite: TEST_DATABASE_URL is not set")
    admin_url = sa.engine.make_url(_psycopg(TEST_DATABASE_URL))
    # Named after the test database, so runs against different test databases never collide.
    name = f"{admin_url.database}_{suffix}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_autogenerate_finds_no_difference_after_upgrade(
    backend: str, tmp_path: Path, instance_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        url = _fresh_postgres_database("migration_check")
    app = create_app(base_config(instance_path, url))
    migrate_to_head(app)
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []


def test_member_hints_are_filled_in_for_existing_memberships_and_referrals(
    tmp_path: Path, instance_path: Path
) -> None:
    """The migration that adds the till's hints sets them for the rows already there."""
    import sqlite3

    from flask_migrate import upgrade

    path = tmp_path / "before_hints.db"
    app = create_app(base_config(instance_path, f"sqlite:///{path}"))
    with app.app_context():
        upgrade(revision="5d7b01e264ed")
        db.engine.dispose()
    now = "2026-12-07 10:00:00.000000"
    with sqlite3.connect(path) as raw:  # foreign keys off: only the rows the hints look at
        raw.executemany(
            "INSERT INTO members (id, email, display_name, password_hash, created_at)"
            " VALUES (?, ?, 'M', 'x', ?)",
            [(n, f"m{n}@example.org", now) for n in (1, 2, 3)],
        )
        raw.execute(
            "INSERT INTO memberships (member_id, plan_id, source, price_cents, currency,"
            " starts_at, ends_at, status, created_at)"
            " VALUES (1, 1, 'till', 2900, 'EUR', ?, ?, 'ended', ?)",
            (now, now, now),
        )
        raw.execute(
            "INSERT INTO referrals (referrer_id, referee_id, code, status, created_at)"
            " VALUES (1, 2, 'ABCDEFGH', 'rewarded', ?)",
            (now,),
        )
    with app.app_context():
        upgrade()
        hints = db.session.execute(
            sa.text("SELECT id, had_membership, was_referred FROM members ORDER BY id")
        ).all()
        db.session.rollback()
        db.engine.dispose()
    assert [tuple(row) for row in hints] == [(1, 1, 0), (2, 0, 1), (3, 0, 0)]
