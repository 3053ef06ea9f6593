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
