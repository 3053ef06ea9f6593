"""KPIs against hand-computed values on a small fixture (docs/kpis.md has the definitions).

The fixture, with March 2026 as the period and 90 days as the activity window
(2025-12-01 to 2026-02-28 before the period):

=====  =========  ===========================================  ================================
who    signed up  purchases (cents)                            what the figures should say
=====  =========  ===========================================  ================================
A      2026-01-10 01-10, 02-15, 03-05, 03-20 (1000 each)       active at start, retained
B      2026-01-20 01-20, 02-01 (1000 each)                     active at start, churned
C      2025-06-01 2025-06-01, 2025-08-01, 2026-03-10 (1000)   lapsed at start, won back
D      2025-05-01 2025-05-01 (1000)                            lapsed at start, still gone
E      2026-03-03 03-03 twice (3000 and 500)                   new in March, repeat buyer
F      2026-02-10 none                                         signed up, never bought
=====  =========  ===========================================  ================================
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert

from app.extensions import db
from app.fraud.models import Attempt
from app.ledger.service import Posting, post_ledger_entries
from app.lifecycle.models import MemberStageChange
from app.stores.models import Store
from tests.api.lifecycle_helpers import add_member, add_purchases, at
from tests.conftest import Shop, bearer

MARCH = {"start": "2026-03-01", "end": "2026-03-31"}


def _fixture(app: Flask) -> dict[str, int]:
    with app.app_context():
        ids = {
            "A": add_member("a@kpi.test", date(2026, 1, 10)),
            "B": add_member("b@kpi.test", date(2026, 1, 20)),
            "C": add_member("c@kpi.test", date(2025, 6, 1)),
            "D": add_member("d@kpi.test", date(2025, 5, 1)),
            "E": add_member("e@kpi.test", date(2026, 3, 3)),
            "F": add_member("f@kpi.test", date(2026, 2, 10)),
        }
        add_purchases(
            ids["A"],
            [date(2026, 1, 10), date(2026, 2, 15), date(2026, 3, 5), date(2026, 3, 20)],
            1000,
        )
        add_purchases(ids["B"], [date(2026, 1, 20), date(2026, 2, 1)], 1000)
        add_purchases(ids["C"], [date(2025, 6, 1), date(2025, 8, 1), date(2026, 3, 10)], 1000)
        add_purchases(ids["D"], [date(2025, 5, 1)], 1000)
        add_purchases(ids["E"], [date(2026, 3, 3)], 3000)
        add_purchases(ids["E"], [date(2026, 3, 3)], 500, refunded_cents=0)
        post_ledger_entries(
            [
                Posting(ids["A"], 40, "earn", at(date(2026, 2, 15))),
                Posting(ids["A"], 100, "earn", at(date(2026, 3, 5))),
                Posting(ids["A"], -30, "reward", at(date(2026, 3, 20))),
                Posting(ids["B"], -20, "expire", at(date(2026, 3, 25)), reference_id="b-1"),
            ]
        )
        db.session.execute(
            insert(MemberStageChange),
            [
                {
                    "member_id": ids["A"],
                    "from_stage": "active",
                    "to_stage": "at_risk",
                    "as_of": date(2026, 3, 10),
                },
                {
                    "member_id": ids["B"],
                    "from_stage": "active",
                    "to_stage": "at_risk",
                    "as_of": date(2026, 3, 12),
                },
                {
                    "member_id": ids["C"],
                    "from_stage": "lapsed",
                    "to_stage": "won_back",
                    "as_of": date(2026, 3, 11),
                },
                {
                    "member_id": ids["D"],
                    "from_stage": "at_risk",
                    "to_stage": "lapsed",
                    "as_of": date(2026, 4, 2),
                },
                {
                    "member_id": ids["F"],
                    "from_stage": None,
                    "to_stage": "new",
                    "as_of": date(2026, 3, 2),
                },
            ],
        )
        moment = datetime(2026, 3, 15, 12, tzinfo=UTC)
        db.session.execute(
            insert(Attempt),
            [
                {
                    "operation": "coupon-redeem",
                    "outcome": "refused",
                    "refusal_type": "unknown-code",
                    "status_code": 404,
                    "occurred_at": moment,
                },
                {
                    "operation": "coupon-redeem",
                    "outcome": "refused",
                    "refusal_type": "unknown-code",
                    "status_code": 404,
                    "occurred_at": moment,
                },
                {
                    "operation": "coupon-redeem",
                    "outcome": "refused",
                    "refusal_type": "coupon-already-redeemed",
                    "status_code": 409,
                    "occurred_at": moment,
                },
                {
                    "operation": "purchase",
                    "outcome": "accepted",
                    "status_code": 201,
                    "occurred_at": moment,
                },
            ],
        )
        db.session.commit()
    return ids


def _report(client: FlaskClient, token: str, **query: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/kpis", query_string=query, headers=bearer(token))
    assert answer.status_code == 200, answer.get_json()
    report: dict[str, Any] = answer.get_json()
    return report


def test_march_figures_equal_the_hand_computed_values(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    _fixture(app)
    app.config["KPI_POINT_VALUE_CENTS"] = "2"
    report = _report(client, shop.login_staff("admin"), **MARCH)
    assert report["members"] == {"total": 6, "new": 1, "active_30d": 3, "active_90d": 4}
    assert report["churn"] == {
        "active_days": 90,
        "active_at_start": 2,  # A and B
        "churned": 1,  # B
        "churn_rate": 0.5,
        "lapsed_at_start": 2,  # C and D
        "won_back": 1,  # C
        "win_back_rate": 0.5,
    }
    assert report["purchases"] == {
        "receipts": 5,
        "buyers": 3,
        "repeat_buyers": 2,  # A (two visits) and E (two receipts)
        "repeat_purchase_rate": 0.6667,
        "revenue_cents": 6500,
        "average_basket_cents": 1300,
        "visits_per_active_member": 1.67,
    }
    points = report["points"]
    assert (points["issued"], points["redeemed"], points["expired"]) == (100, 30, 20)
    assert points["outstanding"] == 90  # 40 + 100 - 30 - 20
    assert points["liability_cents"] == 180  # 2 cents a point
    assert points["breakage_rate"] == 0.4  # 20 expired / (20 expired + 30 redeemed)
    assert points["liability_after_breakage_cents"] == 108
    assert report["stages"]["flows"] == [
        {"from": "active", "to": "at_risk", "members": 2},
        {"from": "lapsed", "to": "won_back", "members": 1},
    ]
    assert report["refusals"] == {"unknown-code": 2, "coupon-already-redeemed": 1}


def test_retention_cohorts_equal_the_hand_computed_shares(
    app: Flask, shop: Shop, client: FlaskClient
) -> None:
    _fixture(app)
    report = _report(client, shop.login_staff("admin"), start="2026-01-01", end="2026-03-31")
    assert report["cohorts"] == [
        {"cohort": "2026-01", "size": 2, "retention": [1.0, 1.0, 0.5]},  # A, B; B stops
        {"cohort": "2026-02", "size": 1, "retention": [0.0, 0.0]},  # F never buys
        {"cohort": "2026-03", "size": 1, "retention": [1.0]},  # E
    ]


def test_a_store_scope_counts_that_store_only(app: Flask, shop: Shop, client: FlaskClient) -> None:
    _fixture(app)  # every fixture purchase is in the first store
    other = shop.tills[1]["store_id"]
    token = shop.login_staff("manager")
    report = _report(client, token, store_id=other, **MARCH)
    assert report["period"]["store_ids"] == [other]
    assert report["members"]["total"] == 0
    assert report["purchases"]["receipts"] == 0
    assert report["churn"]["churn_rate"] is None
    mine = _report(client, token, **MARCH)
    assert sorted(mine["period"]["store_ids"]) == sorted(t["store_id"] for t in shop.tills)
    assert mine["purchases"]["receipts"] == 5


def test_kpis_are_for_managers_of_the_store(app: Flask, shop: Shop, client: FlaskClient) -> None:
    with app.app_context():
        store = Store(name="Elsewhere", address="-", latitude=0.0, longitude=0.0)
        db.session.add(store)
        db.session.commit()
        elsewhere = store.id
    manager = shop.login_staff("manager")
    refused = client.get(
        "/api/v1/kpis", query_string={"store_id": elsewhere}, headers=bearer(manager)
    )
    assert refused.status_code == 403 and refused.get_json()["type"] == "forbidden"
    cashier = client.get("/api/v1/kpis", headers=bearer(shop.login_staff("cashier")))
    assert cashier.status_code == 403
    backwards = client.get(
        "/api/v1/kpis",
        query_string={"start": "2026-03-31", "end": "2026-03-01"},
        headers=bearer(manager),
    )
    assert backwards.status_code == 422
    admin = _report(client, shop.login_staff("admin"), store_id=elsewhere)
    assert admin["period"]["store_ids"] == [elsewhere]


def test_campaigns_report_their_redemption_rate(shop: Shop, client: FlaskClient) -> None:
    token = shop.login_staff("manager")
    created = client.post(
        "/api/v1/campaigns",
        json={
            "name": "Spring",
            "benefit": {"kind": "amount_off", "amount_cents": 300},
            "audience": "members",
            "member_ids": [shop.member_id(0), shop.member_id(1)],
        },
        headers=bearer(token),
    )
    assert created.status_code == 201
    report = _report(client, token)
    assert report["coupons"] == [
        {
            "campaign_id": created.get_json()["campaign_id"],
            "name": "Spring",
            "issued": 2,
            "redeemed": 0,
            "redeemed_in_period": 0,
            "redemption_rate": pytest.approx(0.0),
        }
    ]
