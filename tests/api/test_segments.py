"""Segments: rules evaluated in SQL, preview, member lists and CSV, and campaigns to a segment."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from app.campaigns.models import Coupon
from app.db import utcnow
from app.extensions import db
from app.lifecycle.service import refresh_lifecycle
from app.member_numbers import format_member_number
from app.stores.models import Store
from tests.api.lifecycle_helpers import add_member, add_purchases, every
from tests.conftest import Shop, bearer


def _history(app: Flask) -> dict[str, int]:
    """Regulars in Berlin, a lapsed big spender, a Hamburg regular; refresh as of today."""
    today = utcnow().date()
    year_ago = today - timedelta(days=364)
    with app.app_context():
        berlin, hamburg = db.session.scalars(select(Store.id).order_by(Store.id)).all()
        ids = {
            "regular": add_member("regular@seg.test", year_ago),
            "big_lapsed": add_member("big@seg.test", year_ago),
            "hamburg": add_member("hamburg@seg.test", year_ago),
            "new": add_member("fresh@seg.test", today - timedelta(days=2)),
        }
        add_purchases(ids["regular"], every(7, year_ago, today - timedelta(days=1)), 1_500)
        add_purchases(
            ids["big_lapsed"], every(7, year_ago, today - timedelta(days=150)), 9_000, berlin
        )
        add_purchases(ids["hamburg"], every(10, year_ago, today - timedelta(days=3)), 800, hamburg)
        refresh_lifecycle(today)
        db.session.commit()
    return ids


def _create(client: FlaskClient, token: str, name: str, rules: dict[str, Any]) -> Any:
    return client.post(
        "/api/v1/segments", json={"name": name, "rules": rules}, headers=bearer(token)
    )


def test_segment_rules_select_the_right_members(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    ids = _history(app)
    token = shop.login_staff("manager")

    def members_of(rules: dict[str, Any]) -> set[int]:
        preview = client.post(
            "/api/v1/segments/preview", json={"rules": rules}, headers=bearer(token)
        )
        assert preview.status_code == 200, preview.get_json()
        created = _create(client, token, f"s{len(seen)}", rules).get_json()
        seen.append(created["segment_id"])
        listed = client.get(
            f"/api/v1/segments/{created['segment_id']}/members",
            query_string={"page_size": 100},
            headers=bearer(token),
        ).get_json()
        found = {row["member_id"] for row in listed}
        assert preview.get_json()["size"] == created["size"] == len(found)
        return found

    seen: list[int] = []
    with app.app_context():
        hamburg = db.session.scalars(select(Store.id).order_by(Store.id)).all()[1]
    assert members_of({"field": "stage", "op": "eq", "value": "lapsed"}) == {ids["big_lapsed"]}
    assert members_of({"field": "purchases", "op": "gte", "value": 5, "window_days": 60}) == {
        ids["regular"],
        ids["hamburg"],
    }
    assert members_of({"field": "home_store", "op": "eq", "value": hamburg}) == {ids["hamburg"]}
    big_spenders_gone = {
        "all": [
            {"field": "spend_cents", "op": "gte", "value": 100_000, "window_days": 365},
            {"not": {"field": "stage", "op": "in", "value": ["active", "new"]}},
        ]
    }
    assert members_of(big_spenders_gone) == {ids["big_lapsed"]}
    either = {
        "any": [
            {"field": "days_since_last_purchase", "op": "between", "value": [2, 5]},
            {"field": "days_since_last_purchase", "op": "is_null"},
        ]
    }
    # Never bought: the new member and Ada (Grace has the demo shop's two receipts, today).
    assert members_of(either) == {ids["hamburg"], ids["new"], shop.member_id(0)}
    joined_lately = {"field": "signed_up", "op": "gte", "value": utcnow().date().isoformat()}
    assert ids["new"] not in members_of(joined_lately)
    assert members_of({"field": "health_score", "op": "lt", "value": 40}) == {ids["big_lapsed"]}


def test_bad_rules_are_refused_with_the_path_of_the_mistake(
    shop: Shop, client: FlaskClient
) -> None:
    token = shop.login_staff("manager")
    for rules, path in (
        ({"field": "shoe_size", "op": "eq", "value": 42}, "rules"),
        ({"all": [{"field": "stage", "op": "eq", "value": "sleepy"}]}, "rules.all[0]"),
        ({"any": [{"not": {"field": "purchases", "op": "gte", "value": 2}}]}, "rules.any[0].not"),
        ({"field": "health_score", "op": "between", "value": [1]}, "rules"),
        ({"field": "tier", "op": "gt", "value": "gold"}, "rules"),
    ):
        answer = _create(client, token, "bad", rules)
        assert answer.status_code == 422, rules
        assert answer.get_json()["type"] == "invalid-segment-rules"
        assert answer.get_json()["path"] == path


def test_segment_csv_lists_every_member_with_their_number(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    ids = _history(app)
    token = shop.login_staff("manager")
    segment = _create(
        client, token, "has bought", {"field": "days_since_last_purchase", "op": "not_null"}
    ).get_json()
    answer = client.get(
        f"/api/v1/segments/{segment['segment_id']}/members.csv", headers=bearer(token)
    )
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {int(row["member_id"]) for row in rows} == {
        shop.member_id(1),  # Grace, with the demo receipts
        ids["regular"],
        ids["big_lapsed"],
        ids["hamburg"],
    }
    regular = next(row for row in rows if int(row["member_id"]) == ids["regular"])
    assert regular["member_number"] == format_member_number(ids["regular"])
    assert regular["stage"] == "active"


def test_a_member_campaign_can_target_a_segment(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    ids = _history(app)
    token = shop.login_staff("manager")
    segment = _create(
        client, token, "gone", {"field": "stage", "op": "in", "value": ["at_risk", "lapsed"]}
    ).get_json()
    answer = client.post(
        "/api/v1/campaigns",
        json={
            "name": "We miss you",
            "benefit": {"kind": "amount_off", "amount_cents": 500},
            "audience": "members",
            "segment_id": segment["segment_id"],
        },
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["code_count"] == segment["size"] >= 1
    with app.app_context():
        holders = set(
            db.session.scalars(
                select(Coupon.member_id).where(
                    Coupon.campaign_id == answer.get_json()["campaign_id"]
                )
            )
        )
    assert ids["big_lapsed"] in holders and ids["regular"] not in holders
    both = client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "benefit": {"kind": "amount_off", "amount_cents": 500},
            "audience": "members",
            "segment_id": segment["segment_id"],
            "member_ids": [ids["regular"]],
        },
        headers=bearer(token),
    )
    assert both.status_code == 422
    empty = _create(
        client, token, "nobody", {"field": "points_balance", "op": "gt", "value": 10**9}
    )
    nobody = client.post(
        "/api/v1/campaigns",
        json={
            "name": "x",
            "benefit": {"kind": "amount_off", "amount_cents": 500},
            "audience": "members",
            "segment_id": empty.get_json()["segment_id"],
        },
        headers=bearer(token),
    )
    assert nobody.status_code == 422 and nobody.get_json()["type"] == "segment-empty"


def test_segments_are_for_managers_and_unknown_ones_are_named(
    shop: Shop, client: FlaskClient
) -> None:
    cashier = client.get("/api/v1/segments", headers=bearer(shop.login_staff("cashier")))
    assert cashier.status_code == 403
    manager = shop.login_staff("manager")
    missing = client.get("/api/v1/segments/4242", headers=bearer(manager))
    assert missing.status_code == 404 and missing.get_json()["type"] == "unknown-segment"
    search = client.get(
        "/api/v1/members", query_string={"segment_id": 4242}, headers=bearer(manager)
    )
    assert search.status_code == 404
    _create(client, manager, "twice", {"all": []})
    assert _create(client, manager, "twice", {"all": []}).get_json()["type"] == (
        "segment-name-taken"
    )


def test_birthday_month_and_consent_select_from_the_profile(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    ada, grace = shop.member_id(0), shop.member_id(1)
    with app.app_context():
        profiles = db.metadata.tables["member_profiles"]
        consents = db.metadata.tables["consent_records"]
        now = utcnow()
        db.session.execute(
            insert(profiles),
            [
                {"member_id": ada, "birthday": date(1815, 12, 10), "updated_at": now},
                {"member_id": grace, "birthday": date(1906, 12, 9), "updated_at": now},
            ],
        )
        db.session.execute(
            insert(consents),
            [
                {
                    "member_id": ada,
                    "purpose": "marketing",
                    "granted": True,
                    "source": "app",
                    "recorded_at": now - timedelta(days=2),
                },
                {
                    "member_id": ada,
                    "purpose": "marketing",
                    "granted": False,
                    "source": "app",
                    "recorded_at": now - timedelta(days=1),
                },
                {
                    "member_id": grace,
                    "purpose": "marketing",
                    "granted": True,
                    "source": "till",
                    "recorded_at": now - timedelta(days=1),
                },
            ],
        )
        db.session.commit()
    token = shop.login_staff("manager")

    def size(rules: dict[str, Any]) -> int:
        answer = client.post(
            "/api/v1/segments/preview", json={"rules": rules}, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.get_json()
        return int(answer.get_json()["size"])

    assert size({"field": "birthday_month", "op": "eq", "value": 12}) == 2
    assert size({"field": "birthday_month", "op": "in", "value": [1, 2]}) == 0
    # Ada withdrew her marketing consent; only Grace's latest answer is a grant.
    assert size({"field": "consent", "op": "eq", "value": "marketing"}) == 1
    assert size({"not": {"field": "consent", "op": "eq", "value": "marketing"}}) == 1
    assert size({"field": "consent", "op": "eq", "value": "surveys"}) == 0
    wrong = client.post(
        "/api/v1/segments/preview",
        json={"rules": {"field": "birthday_month", "op": "eq", "value": 13}},
        headers=bearer(token),
    )
    assert wrong.status_code == 422
