"""The ledger's guarantees: immutable in the database, reversals once, balances that add up."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import DBAPIError

from app.accounts.models import Member
from app.errors import Problem
from app.extensions import db
from app.ledger.service import post_ledger_entry, reverse_entry, spend_points
from tests.api.ledger_helpers import assert_ledger_consistent, balance_of, purchase
from tests.conftest import Shop, bearer

MANAGER_ROUTES = [
    ("GET", "/api/v1/members/1/ledger", None),
    ("POST", "/api/v1/members/1/ledger", {"points": 5, "reason": "goodwill"}),
    ("POST", "/api/v1/ledger-entries/1/reversal", {"reason": "mistake"}),
    ("GET", "/api/v1/earning-rules", None),
    ("PUT", "/api/v1/earning-rules", {"currency": "EUR", "base_points": 1, "per_amount_cents": 1}),
    ("GET", "/api/v1/tiers", None),
    (
        "PUT",
        "/api/v1/tiers",
        {
            "window_days": 365,
            "qualification_period_months": 12,
            "tiers": [{"code": "base", "name": "Base", "threshold_points": 0}],
        },
    ),
    ("GET", "/api/v1/promotions", None),
    (
        "POST",
        "/api/v1/promotions",
        {
            "name": "x",
            "multiplier_percent": 200,
            "starts_at": "2030-01-01T00:00:00Z",
            "ends_at": "2030-01-02T00:00:00Z",
        },
    ),
    ("DELETE", "/api/v1/promotions/1", None),
]


@pytest.fixture(autouse=True)
def _ledger_adds_up(app: Flask) -> Iterator[None]:
    yield
    assert_ledger_consistent(app)


def test_database_refuses_update_and_delete_of_a_ledger_entry(shop: Shop) -> None:
    purchase(shop.client, shop.open_till(), shop.static_code(0), 1000)
    statements = [
        "UPDATE ledger_entries SET points = points + 1000",
        "UPDATE ledger_entries SET reason = 'edited'",
        "DELETE FROM ledger_entries",
    ]
    with shop.app.app_context():
        for statement in statements:
            with pytest.raises(DBAPIError, match="ledger entries are immutable"):
                db.session.execute(sa.text(statement))
            db.session.rollback()
        count = db.session.scalar(sa.text("SELECT count(*) FROM ledger_entries"))
        db.session.rollback()
    assert count == 3  # the demo member's two purchases and this one
    assert balance_of(shop.app, shop.member_id(0)) == 10


def test_entries_carry_balance_after_and_signs_are_checked(app: Flask, shop: Shop) -> None:
    member_id = shop.member_id(0)
    with app.app_context():
        first = post_ledger_entry(member_id, 30, "bonus", reference_type="campaign")
        second = post_ledger_entry(member_id, -5, "adjust", reason="typo", staff_id=None)
        assert (first.balance_after, second.balance_after) == (30, 25)
        for points, kind in ((-1, "earn"), (1, "refund"), (5, "expire"), (0, "adjust")):
            with pytest.raises(ValueError):
                post_ledger_entry(member_id, points, kind)
        with pytest.raises(ValueError):
            post_ledger_entry(member_id, 1, "jackpot")
        with pytest.raises(Problem) as unknown:
            post_ledger_entry(999_999, 1, "bonus")
        assert unknown.value.type == "unknown-member"
        db.session.commit()
    assert balance_of(app, member_id) == 25


def test_spend_points_refuses_more_than_the_balance_and_changes_nothing(
    app: Flask, shop: Shop
) -> None:
    member_id = shop.member_id(0)
    with app.app_context():
        post_ledger_entry(member_id, 50, "bonus")
        with pytest.raises(Problem) as refused:
            spend_points(member_id, 51)
        assert refused.value.type == "insufficient-points"
        assert refused.value.status == 409
        assert refused.value.extra == {"points_balance": 50, "points_needed": 51}
        spent = spend_points(member_id, 50, reference_type="reward_claim", reference_id="1")
        assert (spent.points, spent.kind, spent.balance_after) == (-50, "reward", 0)
        db.session.commit()
    assert balance_of(app, member_id) == 0


def test_reversal_points_at_the_entry_and_is_allowed_once(app: Flask, shop: Shop) -> None:
    member_id = shop.member_id(0)
    with app.app_context():
        bonus = post_ledger_entry(member_id, 40, "bonus")
        earn = post_ledger_entry(member_id, 10, "earn")
        db.session.commit()
        bonus_id, earn_id = bonus.id, earn.id
    manager = bearer(shop.login_staff("manager"))
    url = "/api/v1/ledger-entries/{}/reversal"
    reversed_ = shop.client.post(
        url.format(bonus_id), json={"reason": "sent twice"}, headers=manager
    )
    assert reversed_.status_code == 201, reversed_.get_json()
    assert reversed_.get_json()["reverses_id"] == bonus_id
    assert reversed_.get_json()["points"] == -40
    again = shop.client.post(url.format(bonus_id), json={"reason": "again"}, headers=manager)
    assert again.status_code == 409
    assert again.get_json()["type"] == "already-reversed"
    earning = shop.client.post(url.format(earn_id), json={"reason": "wrong"}, headers=manager)
    assert earning.status_code == 422
    assert earning.get_json()["type"] == "entry-not-reversible"
    assert balance_of(app, member_id) == 10
    with app.app_context(), pytest.raises(Problem) as unknown:
        reverse_entry(999_999, staff_id=None, reason="x")
    assert unknown.value.type == "unknown-entry"


def test_manager_adjusts_with_a_reason_and_reads_the_members_ledger(shop: Shop) -> None:
    manager = bearer(shop.login_staff("manager"))
    member_id = shop.member_id(0)
    url = f"/api/v1/members/{member_id}/ledger"
    no_reason = shop.client.post(url, json={"points": 25}, headers=manager)
    assert no_reason.status_code == 422
    assert "reason" in no_reason.get_json()["errors"]["json"]
    adjusted = shop.client.post(
        url, json={"points": 25, "reason": "Till was offline"}, headers=manager
    )
    assert adjusted.status_code == 201
    entry = adjusted.get_json()
    assert entry["kind"] == "adjust"
    assert entry["staff_id"] == shop.logins["manager"]["staff_id"]
    assert entry["balance_after"] == 25
    ledger = shop.client.get(url, headers=manager)
    assert ledger.status_code == 200
    assert [e["entry_id"] for e in ledger.get_json()] == [entry["entry_id"]]
    unknown = shop.client.get("/api/v1/members/999999/ledger", headers=manager)
    assert unknown.status_code == 404
    assert unknown.get_json()["type"] == "unknown-member"


def test_member_reads_own_ledger_newest_first_page_by_page(shop: Shop) -> None:
    till = shop.open_till()
    code = shop.static_code(0)
    for amount in (100, 200, 300):
        purchase(shop.client, till, code, amount)
    member = bearer(shop.login_member(0))
    page = shop.client.get("/api/v1/me/ledger?page=1&page_size=2", headers=member)
    assert page.status_code == 200
    assert [entry["points"] for entry in page.get_json()] == [3, 2]
    assert '"total": 3' in page.headers["X-Pagination"]
    second = shop.client.get("/api/v1/me/ledger?page=2&page_size=2", headers=member)
    assert [entry["points"] for entry in second.get_json()] == [1]
    assert "staff_id" not in second.get_json()[0]
    # The other demo member's history is not mixed in.
    other = shop.client.get("/api/v1/me/ledger", headers=bearer(shop.login_member(1)))
    assert {entry["reference_id"] for entry in other.get_json()} == {"DEMO-1001", "DEMO-1002"}


def test_members_and_cashiers_may_not_call_ledger_manager_routes(shop: Shop) -> None:
    tokens = (shop.login_member(), shop.login_staff("cashier"))
    for method, path, body in MANAGER_ROUTES:
        for token in tokens:
            response = shop.client.open(path, method=method, json=body, headers=bearer(token))
            assert response.status_code == 403, (method, path, response.get_json())
            assert response.get_json()["type"] == "forbidden"
        assert shop.client.open(path, method=method, json=body).status_code == 401


def test_ledger_verify_passes_and_catches_a_tampered_balance(app: Flask, shop: Shop) -> None:
    purchase(shop.client, shop.open_till(), shop.static_code(0), 1000)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "every balance adds up" in ok.output
    with app.app_context():
        db.session.execute(
            sa.update(Member)
            .where(Member.id == shop.member_id(0))
            .values(points_balance=Member.points_balance + 7)
        )
        db.session.commit()
    broken = runner.invoke(args=["ledger", "verify"])
    assert broken.exit_code == 1
    assert f"member {shop.member_id(0)}: balance 17, ledger sum 10" in broken.output
    with app.app_context():  # put it right so the autouse check passes
        db.session.execute(
            sa.update(Member).where(Member.id == shop.member_id(0)).values(points_balance=10)
        )
        db.session.commit()
