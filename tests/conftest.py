"""Shared fixtures: an app on a real database, a client, and the demo shop to act in.

Every API test runs twice, on SQLite and on PostgreSQL (``TEST_DATABASE_URL``). The schema is
built once per run by the real Alembic migrations, never by ``create_all``, so the tests
exercise what production runs. SQLite tests each get a copy of the migrated database file;
PostgreSQL tests share one migrated database and every table is truncated after each test.

A suite whose service is missing skips with a one-line reason on a developer's machine; with
``CI=true`` the same situation fails, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.extensions import db, limiter

IN_CI = os.environ.get("CI", "").lower() == "true"
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

# Cheap scrypt parameters: the tests hash many passwords; production keeps werkzeug's default.
FAST_PASSWORD_HASH = "scrypt:1024:8:1"


def unavailable(reason: str) -> None:
    """Skip a test whose service is missing; in CI, fail it instead."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a suite that cannot run fails)")
    pytest.skip(reason)


def base_config(instance_path: Path, database_url: str) -> dict[str, Any]:
    """Return the app settings every test uses."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "PASSWORD_HASH_METHOD": FAST_PASSWORD_HASH,
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "https://wallet.test",
        "ISSUER_DOMAIN": "wallet.test",
    }


def migrate_to_head(app: Flask) -> None:
    """Build the schema with the project's Alembic migrations."""
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return an instance folder shared by the run (secrets are generated there once)."""
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, instance_path: Path) -> Path:
    """Return a migrated SQLite database file that tests copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    app = create_app(base_config(instance_path, f"sqlite:///{path}"))
    migrate_to_head(app)
    with app.app_context():
        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url(instance_path: Path) -> str:
    """Return the URL of a freshly migrated PostgreSQL database."""
    if not TEST_DATABASE_URL:
        unavailable("PostgreSQL suite: TEST_DATABASE_URL is not set")
    engine = sa.create_engine(_psycopg(TEST_DATABASE_URL))
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            connection.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL suite: cannot connect ({exc.orig})")
    finally:
        engine.dispose()
    app = create_app(base_config(instance_path, _psycopg(TEST_DATABASE_URL)))
    migrate_to_head(app)
    with app.app_context():
        db.engine.dispose()
    return _psycopg(TEST_DATABASE_URL)


def _psycopg(url: str) -> str:
    from app.config import normalise_database_url

    return normalise_database_url(url)


def _empty_every_table(app: Flask) -> None:
    """Delete every row the test left behind.

    Row deletes are far cheaper than ``TRUNCATE`` on tables this small. The cleanup session
    runs as a replica so the ledger's immutability trigger (and foreign keys) stand aside;
    the application itself never runs with that setting.
    """
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest) -> str:
    """Name the database the test runs on."""
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_app(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory, instance_path: Path
) -> Flask:
    """Return the run's SQLite app; each test gets a fresh copy of the migrated database."""
    database = tmp_path_factory.mktemp("sqlite") / "test.db"
    return create_app(base_config(instance_path, f"sqlite:///{database}"))


@pytest.fixture(scope="session")
def postgres_app(postgres_url: str, instance_path: Path) -> Flask:
    """Return the run's PostgreSQL app; tables are emptied after each test."""
    return create_app(base_config(instance_path, postgres_url))


def _reset_sqlite_database(app: Flask, template: Path) -> None:
    with app.app_context():
        db.engine.dispose()
        database = Path(db.engine.url.database or "")
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, database)


@pytest.fixture
def app(backend: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """Return an app on a clean, migrated database of the test's backend.

    Building an app (its OpenAPI document above all) costs far more than a test, so each
    backend has one app for the run. Each test gets a clean database, and whatever it changed
    in the app's config or cached extension state is put back afterwards.
    """
    if backend == "sqlite":
        flask_app: Flask = request.getfixturevalue("sqlite_app")
        _reset_sqlite_database(flask_app, request.getfixturevalue("sqlite_template"))
    else:
        flask_app = request.getfixturevalue("postgres_app")
    saved_config = dict(flask_app.config)
    saved_extensions = dict(flask_app.extensions)
    try:
        yield flask_app
    finally:
        flask_app.config.clear()
        flask_app.config.update(saved_config)
        flask_app.extensions.clear()
        flask_app.extensions.update(saved_extensions)
        limiter.reset()
        if backend == "postgres":
            _empty_every_table(flask_app)
        else:
            with flask_app.app_context():
                db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """Return a test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """Return a CLI runner of the app."""
    return app.test_cli_runner()


class Shop:
    """The demo shop, seeded into the test's database, with ways to log in."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        from app.demo import seed_demo

        self.app = app
        self.client = client
        with app.app_context():
            logins, _ = seed_demo()
            db.session.commit()
        self.logins = logins.to_dict()
        self.tills = self.logins["tills"]
        self.members = self.logins["members"]

    def login(self, email: str, password: str, account: str | None = None) -> dict[str, Any]:
        """Log in through the API and return the token pair."""
        body: dict[str, Any] = {"email": email, "password": password}
        if account:
            body["account"] = account
        response = self.client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 200, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def login_member(self, index: int = 0) -> str:
        """Return an access token of a demo member."""
        member = self.members[index]
        return str(self.login(member["email"], member["password"])["access_token"])

    def login_staff(self, role: str) -> str:
        """Return an access token of the demo admin, manager or cashier."""
        account = self.logins[role]
        return str(self.login(account["email"], account["password"])["access_token"])

    def open_till(self, till_index: int = 0, role: str = "cashier") -> str:
        """Open a till session and return its access token."""
        account = self.logins[role]
        response = self.client.post(
            "/api/v1/till/sessions",
            json={
                "till_key": self.tills[till_index]["till_key"],
                "email": account["email"],
                "password": account["password"],
            },
        )
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["access_token"])

    def member_id(self, index: int = 0) -> int:
        """Return the id of a demo member."""
        return int(self.members[index]["member_id"])

    def static_code(self, member_index: int = 0) -> str:
        """Return a valid LW1 code of a demo member's active card."""
        from app.cards.service import active_card, static_code_of

        with self.app.app_context():
            code = static_code_of(active_card(self.member_id(member_index)))
            db.session.commit()
        return code

    def rotating_code(self, member_index: int = 0, at: Any = None) -> str:
        """Return the LW2 code a demo member's phone shows now (or at ``at``)."""
        from app.cards.service import active_card, totp_secret_of
        from app.db import utcnow
        from wallet.card_codes import encode_rotating_code

        with self.app.app_context():
            card = active_card(self.member_id(member_index))
            code = encode_rotating_code(card.id, totp_secret_of(card), at or utcnow())
            db.session.commit()
        return code


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for a token."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shop(app: Flask, client: FlaskClient) -> Shop:
    """Return the seeded demo shop."""
    return Shop(app, client)
