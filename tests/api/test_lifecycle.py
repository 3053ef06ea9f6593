"""The lifecycle refresh on a synthetic history: stages, health ordering, history and events.

The history is built in the test: weekly, monthly and quarterly shoppers, some steady, some who
stopped (recently or long ago), one who came back after a long gap, a newcomer and a member who
never bought. The assertions are what a shopkeeper would say about each of them.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, insert, select

from app.events import DomainEvent, subscribe
from app.extensions import db
from app.feedback.models import Complaint
from app.lifecycle.models import LifecycleModelFit, MemberLifecycle, MemberStageChange
from app.lifecycle.service import refresh_lifecycle
from app.outbox.worker import run_due_jobs
from tests.api.lifecycle_helpers import add_member, add_purchases, at, every
from tests.conftest import Shop, bearer

AS_OF = date(2026, 6, 30)
YEAR_AGO = AS_OF - timedelta(days=364)


def _days_ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


def build_history() -> dict[str, int]:
    """Create the synthetic shoppers; return their member ids by name."""
    ids: dict[str, int] = {}

    def shopper(name: str, step: int, last_days_ago: int, first: date = YEAR_AGO) -> None:
        ids[name] = add_member(f"{name}@synthetic.test", first - timedelta(days=1))
        add_purchases(ids[name], every(step, first, _days_ago(last_days_ago)))

    shopper("weekly_steady", 7, 2)
    shopper("weekly_silent_5_weeks", 7, 35)
    shopper("weekly_gone", 7, 200)
    shopper("monthly_steady", 30, 10)
    shopper("monthly_silent_100_days", 30, 100)
    shopper("quarterly_steady", 91, 20)
    shopper("quarterly_silent_5_weeks", 91, 35)
    # Weekly for five months, away for five months, back for the last three weeks.
    ids["returner"] = add_member("returner@synthetic.test", YEAR_AGO - timedelta(days=1))
    add_purchases(ids["returner"], every(7, YEAR_AGO, YEAR_AGO + timedelta(days=150)))
    add_purchases(ids["returner"], every(7, _days_ago(20), _days_ago(1)))
    ids["newcomer"] = add_member("newcomer@synthetic.test", _days_ago(10))
    add_purchases(ids["newcomer"], [_days_ago(5)])
    ids["never_bought"] = add_member("never@synthetic.test", _days_ago(200))
    ids["just_joined"] = add_member("joined@synthetic.test", _days_ago(3))
    # Enough ordinary customers for the model to have something to fit.
    for index in range(30):
        name = f"filler_{index}"
        shopper(name, 7 + index, (index * 5) % 60 + 1)
    db.session.commit()
    return ids


def _lifecycle(member_id: int) -> MemberLifecycle:
    row = db.session.get(MemberLifecycle, member_id)
    assert row is not None
    return row


def test_stages_are_what_a_shopkeeper_would_say(app: Flask, shop: Shop) -> None:
    with app.app_context():
        ids = build_history()
        summary = refresh_lifecycle(AS_OF)
        db.session.commit()
        stage = {name: _lifecycle(member_id).stage for name, member_id in ids.items()}
    assert stage["weekly_steady"] == "active"
    assert stage["weekly_silent_5_weeks"] == "at_risk"
    assert stage["quarterly_silent_5_weeks"] == "active"  # five weeks is nothing for them
    assert stage["quarterly_steady"] == "active"
    assert stage["monthly_steady"] == "active"
    assert stage["monthly_silent_100_days"] == "at_risk"
    assert stage["weekly_gone"] == "lapsed"
    assert stage["returner"] == "won_back"
    assert stage["newcomer"] == "new"
    assert stage["just_joined"] == "new"
    assert stage["never_bought"] == "lapsed"
    assert summary.members == len(ids)  # the demo members signed up after AS_OF
    assert summary.model is not None


def test_health_scores_order_members_as_a_person_would(app: Flask, shop: Shop) -> None:
    with app.app_context():
        ids = build_history()
        refresh_lifecycle(AS_OF)
        score = {name: _lifecycle(member_id).health_score for name, member_id in ids.items()}
        factors = _lifecycle(ids["weekly_silent_5_weeks"]).health_factors
    # Steady shoppers are healthy whatever their rhythm.
    for name in ("weekly_steady", "monthly_steady", "quarterly_steady"):
        assert score[name] >= 80, (name, score)
    assert score["quarterly_silent_5_weeks"] > score["weekly_silent_5_weeks"]
    assert score["weekly_steady"] > score["weekly_silent_5_weeks"] > score["weekly_gone"]
    assert score["monthly_steady"] > score["monthly_silent_100_days"]
    assert score["weekly_gone"] <= 25
    # Staff see why: recency is the factor that lost the most points.
    by_name = {factor["factor"]: factor for factor in factors}
    assert {"recency", "frequency_trend", "spend_trend", "refund_share"} <= set(by_name)
    assert sum(f["points"] for f in factors) == pytest.approx(score["weekly_silent_5_weeks"], abs=1)
    lost = {name: f["weight"] - f["points"] for name, f in by_name.items()}
    assert max(lost, key=lambda name: lost[name]) in ("recency", "frequency_trend")
    assert by_name["recency"]["value"] == pytest.approx(5.0, abs=0.3)


def test_refunds_lower_the_health_score(app: Flask, shop: Shop) -> None:
    with app.app_context():
        keeps = add_member("keeps@synthetic.test", YEAR_AGO)
        returns = add_member("returns@synthetic.test", YEAR_AGO)
        add_purchases(keeps, every(7, YEAR_AGO, _days_ago(3)))
        add_purchases(returns, every(7, YEAR_AGO, _days_ago(3)), refunded_cents=1_000)
        refresh_lifecycle(AS_OF)
        assert _lifecycle(keeps).health_score - _lifecycle(returns).health_score >= 8
        assert _lifecycle(returns).refund_share == pytest.approx(0.5)


def test_refresh_is_idempotent_and_keeps_stage_history(app: Flask, shop: Shop) -> None:
    announced: list[DomainEvent] = []
    subscribe(app, "stage.changed", announced.append)
    with app.app_context():
        ids = build_history()
        earlier = AS_OF - timedelta(days=42)
        refresh_lifecycle(earlier)
        db.session.commit()
        assert announced == []  # first classifications are history, not news
        first_rows = db.session.scalar(select(func.count()).select_from(MemberStageChange))
        assert first_rows == len(ids) - 2  # the newcomer and just_joined signed up later
        refresh_lifecycle(AS_OF)
        db.session.commit()
        changes = {
            (change.member_id, change.from_stage, change.to_stage)
            for change in db.session.scalars(
                select(MemberStageChange).where(MemberStageChange.as_of == AS_OF)
            )
        }
        assert (ids["weekly_silent_5_weeks"], "active", "at_risk") in changes
        assert (ids["newcomer"], None, "new") in changes  # signed up in between
        before = {
            row.member_id: (row.stage, row.health_score, row.stage_since)
            for row in db.session.scalars(select(MemberLifecycle))
        }
        count_before = db.session.scalar(select(func.count()).select_from(MemberStageChange))
        events_before = len(announced)
        refresh_lifecycle(AS_OF)  # again, same day: nothing new
        db.session.commit()
        after = {
            row.member_id: (row.stage, row.health_score, row.stage_since)
            for row in db.session.scalars(select(MemberLifecycle))
        }
        assert after == before
        assert db.session.scalar(select(func.count()).select_from(MemberStageChange)) == (
            count_before
        )
        assert len(announced) == events_before
        assert db.session.scalar(select(func.count()).select_from(LifecycleModelFit)) == 3
    event = next(e for e in announced if e.member_id == ids["weekly_silent_5_weeks"])
    assert event.type == "stage.changed"
    assert dict(event.data) == {"from": "active", "to": "at_risk", "as_of": AS_OF.isoformat()}


def test_cli_refresh_and_staff_filters(
    app: Flask, shop: Shop, client: FlaskClient, runner: Any
) -> None:
    with app.app_context():
        ids = build_history()
    result = runner.invoke(args=["lifecycle", "refresh", "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["stages"]["at_risk"] >= 2
    token = shop.login_staff("manager")
    at_risk = client.get(
        "/api/v1/members",
        query_string={"stage": "at_risk", "page_size": 100},
        headers=bearer(token),
    ).get_json()
    assert ids["weekly_silent_5_weeks"] in {row["member_id"] for row in at_risk}
    assert ids["weekly_steady"] not in {row["member_id"] for row in at_risk}
    unhealthy = client.get(
        "/api/v1/members", query_string={"max_health": 30}, headers=bearer(token)
    ).get_json()
    assert all(row["health_score"] <= 30 for row in unhealthy)
    assert ids["weekly_gone"] in {row["member_id"] for row in unhealthy}
    detail = client.get(
        f"/api/v1/members/{ids['weekly_silent_5_weeks']}", headers=bearer(token)
    ).get_json()
    assert detail["lifecycle"]["stage"] == "at_risk"
    assert detail["lifecycle"]["health_factors"][0]["factor"] == "recency"


def test_refresh_without_enough_buyers_fits_no_model(app: Flask, shop: Shop) -> None:
    with app.app_context():
        summary = refresh_lifecycle()
        db.session.commit()
        grace = _lifecycle(shop.member_id(1))
        ada = _lifecycle(shop.member_id(0))
    assert summary.members == 2 and summary.model is None
    assert (ada.stage, grace.stage) == ("new", "new")
    assert grace.p_active is None and grace.purchases == 2
    assert ada.days_since_last_purchase is None and ada.health_score == 100


def test_an_active_member_with_two_rewarded_referrals_is_an_advocate(
    app: Flask, shop: Shop
) -> None:
    with app.app_context():
        ids = build_history()
        friends = [add_member(f"friend{i}@synthetic.test", YEAR_AGO) for i in range(3)]
        referrals = db.metadata.tables["referrals"]
        rewarded = at(_days_ago(10))
        db.session.execute(
            insert(referrals),
            [
                {
                    "referrer_id": ids["weekly_steady"],
                    "referee_id": friends[0],
                    "code": "A",
                    "status": "rewarded",
                    "rewarded_at": rewarded,
                    "created_at": rewarded,
                },
                {
                    "referrer_id": ids["weekly_steady"],
                    "referee_id": friends[1],
                    "code": "A",
                    "status": "rewarded",
                    "rewarded_at": rewarded,
                    "created_at": rewarded,
                },
                # A lapsed member's referral does not make them an advocate.
                {
                    "referrer_id": ids["weekly_gone"],
                    "referee_id": friends[2],
                    "code": "B",
                    "status": "rewarded",
                    "rewarded_at": rewarded,
                    "created_at": rewarded,
                },
            ],
        )
        refresh_lifecycle(AS_OF)
        assert _lifecycle(ids["weekly_steady"]).stage == "advocate"
        assert _lifecycle(ids["weekly_gone"]).stage == "lapsed"
        # Before the referrals were rewarded, the same member was simply active.
        refresh_lifecycle(_days_ago(20))
        assert _lifecycle(ids["weekly_steady"]).stage == "active"


def test_the_worker_runs_the_refresh_nightly_before_the_automations(app: Flask, shop: Shop) -> None:
    with app.app_context():
        ids = build_history()
        night = datetime.combine(AS_OF, time(2, 5), tzinfo=UTC)
        assert "lifecycle-refresh" not in run_due_jobs(app, night.replace(hour=1))
        ran = run_due_jobs(app, night)
        db.session.commit()
        assert ran.index("lifecycle-refresh") < len(ran)
        assert _lifecycle(ids["weekly_gone"]).stage == "lapsed"
        assert "lifecycle-refresh" not in run_due_jobs(app, night.replace(hour=3)), "once a day"


def test_an_open_complaint_lowers_the_health_score(app: Flask, shop: Shop) -> None:
    with app.app_context():
        content = add_member("content@synthetic.test", YEAR_AGO)
        unhappy = add_member("unhappy@synthetic.test", YEAR_AGO)
        for member_id in (content, unhappy):
            add_purchases(member_id, every(7, YEAR_AGO, _days_ago(3)))
        db.session.add(
            Complaint(
                member_id=unhappy,
                kind="complaint",
                description="cold coffee, twice",
                created_at=at(_days_ago(10)),
            )
        )
        db.session.commit()
        refresh_lifecycle(AS_OF)
        assert _lifecycle(content).health_score > _lifecycle(unhappy).health_score
