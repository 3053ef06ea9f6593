"""Points expire after a period of inactivity: announced to the member, expired exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import Member
from app.db import utcnow
from app.extensions import db
from app.ledger.earning import save_programme
from app.ledger.expiry import run_points_expiry
from app.ledger.models import LedgerEntry
from app.ledger.service import post_ledger_entry
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase
from tests.conftest import Shop, bearer

INACTIVE_DAYS = 90


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def _set_expiry(app: Flask, days: int | None) -> None:
    with app.app_context():
        save_programme(None, expire_after_inactive_days=days)
        db.session.commit()


def _expire_entries(app: Flask) -> list[tuple[int, int]]:
    with app.app_context():
        rows = db.session.execute(
            select(LedgerEntry.member_id, LedgerEntry.points)
            .where(LedgerEntry.kind == "expire")
            .order_by(LedgerEntry.member_id)
        ).all()
        db.session.rollback()
    return [(int(row[0]), int(row[1])) for row in rows]


def _expire_via_cli(app: Flask, now: datetime) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.ledger.expiry.utcnow", lambda: now)
        result = app.test_cli_runner().invoke(args=["points", "expire"])
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_member_sees_which_points_expire_when(shop: Shop) -> None:
    member = bearer(shop.login_member(0))
    purchase(shop.client, shop.open_till(), shop.static_code(0), 4200)
    _set_expiry(shop.app, None)
    never = shop.client.get("/api/v1/me/points/expiring", headers=member).get_json()
    assert never["expire_after_inactive_days"] is None
    assert never["expiring"] == []
    _set_expiry(shop.app, INACTIVE_DAYS)
    shown = shop.client.get("/api/v1/me/points/expiring", headers=member).get_json()
    last_activity = datetime.fromisoformat(shown["last_activity_at"])
    assert utcnow() - last_activity < timedelta(minutes=1)
    assert shown["expiring"] == [
        {
            "points": 42,
            "expires_at": (last_activity + timedelta(days=INACTIVE_DAYS)).isoformat(),
        }
    ]


def test_expiry_run_twice_expires_each_inactive_balance_once(app: Flask, shop: Shop) -> None:
    _set_expiry(app, INACTIVE_DAYS)
    purchase(shop.client, shop.open_till(), shop.static_code(0), 4200)
    later = utcnow() + timedelta(days=INACTIVE_DAYS + 1)
    first = _expire_via_cli(app, later)
    assert "129 points of 2 members expired" in first  # Ada's 42, Grace's demo 87
    second = _expire_via_cli(app, later)
    assert "0 points of 0 members expired" in second
    assert _expire_entries(app) == [(shop.member_id(0), -42), (shop.member_id(1), -87)]
    assert balance_of(app, shop.member_id(0)) == 0


def test_activity_within_the_period_keeps_the_points(app: Flask, shop: Shop) -> None:
    _set_expiry(app, INACTIVE_DAYS)
    purchase(shop.client, shop.open_till(), shop.static_code(0), 4200)
    with app.app_context():
        report = run_points_expiry(now=utcnow() + timedelta(days=INACTIVE_DAYS - 1))
    assert report.points_expired == 0
    assert balance_of(app, shop.member_id(0)) == 42


def test_negative_balances_and_no_policy_expire_nothing(app: Flask, shop: Shop) -> None:
    with app.app_context():
        post_ledger_entry(shop.member_id(0), -30, "adjust", reason="owed")
        db.session.commit()
    far_future = utcnow() + timedelta(days=3650)
    _set_expiry(app, None)
    assert "0 points of 0 members expired" in _expire_via_cli(app, far_future)
    _set_expiry(app, INACTIVE_DAYS)
    _expire_via_cli(app, far_future)
    assert _expire_entries(app) == [(shop.member_id(1), -87)]
    assert balance_of(app, shop.member_id(0)) == -30


def test_large_expiry_run_shows_progress_and_commits_in_batches(app: Flask, shop: Shop) -> None:
    _set_expiry(app, INACTIVE_DAYS)
    with app.app_context():
        members = [
            Member(email=f"m{i}@bulk.test", display_name=f"M{i}", password_hash="x")
            for i in range(150)
        ]
        db.session.add_all(members)
        db.session.flush()
        for member in members:
            post_ledger_entry(member.id, 10, "bonus")
        db.session.commit()
    later = utcnow() + timedelta(days=INACTIVE_DAYS + 1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("app.ledger.expiry.utcnow", lambda: later)
        result = app.test_cli_runner().invoke(args=["points", "expire", "--batch-size", "40"])
    assert result.exit_code == 0, result.output
    assert "Expiring points" in result.output  # the progress bar's label
    assert "1587 points of 151 members expired" in result.output
    with app.app_context():
        left = db.session.scalar(select(func.sum(Member.points_balance)))
        db.session.rollback()
    assert left == 0
