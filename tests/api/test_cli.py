"""The operator's commands: create-admin and seed-demo."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Member, StaffAccount
from app.extensions import db
from app.stores.models import Till


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(Member)) or 0,
            db.session.scalar(select(func.count()).select_from(StaffAccount)) or 0,
            db.session.scalar(select(func.count()).select_from(Till)) or 0,
        )


def test_seed_demo_prints_the_logins_as_json_and_a_second_run_changes_nothing(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo", "--json"])
    assert first.exit_code == 0, first.output
    logins = json.loads(first.output)
    assert {"admin", "manager", "cashier", "members", "tills"} <= set(logins)
    assert len(logins["members"]) == 2
    assert all({"till_id", "till_key", "store_id"} <= set(till) for till in logins["tills"])
    counts = _counts(app)

    second = runner.invoke(args=["seed-demo", "--json"])
    assert second.exit_code == 0
    assert json.loads(second.output) == logins
    assert _counts(app) == counts

    client = app.test_client()
    for till in logins["tills"]:
        session = client.post(
            "/api/v1/till/sessions",
            json={
                "till_key": till["till_key"],
                **{k: logins["cashier"][k] for k in ("email", "password")},
            },
        )
        assert session.status_code == 201


def test_create_admin_makes_an_admin_who_can_log_in_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["create-admin", "--email", "Boss@Shop.example", "--password", "a-long-password"]
    )
    assert created.exit_code == 0, created.output
    login = app.test_client().post(
        "/api/v1/auth/login", json={"email": "boss@shop.example", "password": "a-long-password"}
    )
    assert login.get_json()["role"] == "admin"
    again = runner.invoke(
        args=["create-admin", "--email", "boss@shop.example", "--password", "x" * 12]
    )
    assert again.exit_code != 0
    assert "exists" in again.output
