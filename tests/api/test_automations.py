"""Automations: a win-back campaign on lapsed members, with a control group that proves it.

The lifecycle refresh announces ``stage.changed`` events; here the test publishes them the
same way (``app.events.publish`` inside a committed transaction), so the automation sees
exactly what it will see in production. The report's figures are then checked against
figures computed by hand from the purchases the test books.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.accounts.models import Member
from app.automations.models import AutomationEnrolment, AutomationStepRun, StaffTask
from app.campaigns.models import Coupon
from app.cards.service import active_card, static_code_of
from app.db import utcnow
from app.events import DomainEvent, publish
from app.extensions import db
from app.ledger.expiry import expiring_points
from app.ledger.models import Purchase
from app.ledger.tiers import tier_progress
from app.outbox.models import OutboxMessage
from app.profiles.service import set_consent
from tests.api.delivery_helpers import Browser, Receiver, deliver, receiver
from tests.api.ledger_helpers import purchase
from tests.conftest import Shop, bearer

__all__ = ["receiver"]  # the fixture, imported for the tests below

WIN_BACK = {
    "name": "Win back lapsed members",
    "trigger": "stage_entered",
    "trigger_params": {"stage": "lapsed"},
    "holdout_percent": 30,
    "cap_count": 1,
    "cap_days": 30,
    "actions": [
        {
            "type": "coupon",
            "benefit": {"kind": "amount_off", "amount_cents": 500},
            "valid_days": 14,
            "min_basket_cents": 2000,
        },
        {
            "type": "push",
            "delay_minutes": 0,
            "title": "We miss you, {name}",
            "body": "5 € off until {expiry_date}. You have {points} points.",
            "url": "/#/coupons",
        },
    ],
}


def manager(shop: Shop) -> dict[str, str]:
    return bearer(shop.login_staff("manager"))


def create(shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
    response = shop.client.post("/api/v1/automations", json=body, headers=manager(shop))
    assert response.status_code == 201, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def sign_up_members(shop: Shop, count: int) -> list[int]:
    ids = []
    for i in range(count):
        response = shop.client.post(
            "/api/v1/auth/register",
            json={
                "email": f"m{i}@example.com",
                "password": "correct horse",
                "display_name": f"M{i}",
                "consents": {"marketing": True, "surveys": True},
            },
        )
        assert response.status_code == 201, response.get_json()
        token = response.get_json()["access_token"]
        ids.append(shop.client.get("/api/v1/me", headers=bearer(token)).get_json()["member_id"])
    return ids


def grant_consent(app: Flask, member_ids: list[int]) -> None:
    """Record the demo members' opt-in to marketing and surveys (they have none)."""
    with app.app_context():
        for member_id in member_ids:
            for purpose in ("marketing", "surveys"):
                set_consent(member_id, purpose, True, source="app")
        db.session.commit()


def announce_stage(app: Flask, member_ids: list[int], stage: str, as_of: str) -> None:
    """Publish stage changes as the lifecycle refresh does, in one committed transaction."""
    with app.app_context():
        for member_id in member_ids:
            publish(
                DomainEvent(
                    "stage.changed",
                    {"from": "active", "to": stage, "as_of": as_of},
                    member_id=member_id,
                )
            )
        db.session.commit()


def groups(app: Flask, automation_id: int) -> dict[str, set[int]]:
    with app.app_context():
        rows = db.session.execute(
            select(AutomationEnrolment.member_id, AutomationEnrolment.group).where(
                AutomationEnrolment.automation_id == automation_id
            )
        ).all()
        db.session.rollback()
    result: dict[str, set[int]] = {"treated": set(), "control": set()}
    for member_id, group in rows:
        result[group].add(member_id)
    return result


def automation_coupons(app: Flask) -> dict[int, int]:
    with app.app_context():
        rows = db.session.scalars(select(Coupon).where(Coupon.source == "automation")).all()
        counts: dict[int, int] = {}
        for coupon in rows:
            assert coupon.member_id is not None
            counts[coupon.member_id] = counts.get(coupon.member_id, 0) + 1
        db.session.rollback()
    return counts


def code_of(app: Flask, member_id: int) -> str:
    with app.app_context():
        code = static_code_of(active_card(member_id))
        db.session.commit()
    return code


def test_win_back_treats_the_lapsed_holds_back_a_control_group_and_reports_the_difference(
    shop: Shop,
) -> None:
    automation = create(shop, WIN_BACK)
    assert automation["holdout_percent"] == 30
    members = sign_up_members(shop, 40)
    deliver(shop.app)

    announce_stage(shop.app, members, "lapsed", "2026-11-30")
    deliver(shop.app)
    drawn = groups(shop.app, automation["id"])
    assert drawn["treated"] | drawn["control"] == set(members)
    assert drawn["treated"] and drawn["control"], "40 members, 30 % held back: both groups"
    assert automation_coupons(shop.app) == {member: 1 for member in drawn["treated"]}

    # The same events delivered again, and a second lapse a day later: still one coupon each.
    announce_stage(shop.app, members, "lapsed", "2026-11-30")
    announce_stage(shop.app, sorted(drawn["treated"]), "lapsed", "2026-12-01")
    deliver(shop.app)
    assert automation_coupons(shop.app) == {member: 1 for member in drawn["treated"]}
    assert groups(shop.app, automation["id"])["treated"] == drawn["treated"], "cap: 1 in 30 days"

    # Some members of each group come back; the report must match a hand count.
    till = shop.open_till()
    treated, control = sorted(drawn["treated"]), sorted(drawn["control"])
    bookings = {treated[0]: [3000, 1500], treated[1]: [2500]}
    if len(treated) > 2:
        bookings[treated[2]] = [1000]
    bookings[control[0]] = [4000]
    for member_id, amounts in bookings.items():
        for amount in amounts:
            response = purchase(shop.client, till, code_of(shop.app, member_id), amount)
            assert response.status_code == 201, response.get_json()
    report = shop.client.get(
        f"/api/v1/automations/{automation['id']}/report?window_days=30", headers=manager(shop)
    ).get_json()

    def figures(group: list[int]) -> tuple[int, int, int, float]:
        buyers = [m for m in group if m in bookings]
        spend = sum(sum(bookings[m]) for m in buyers)
        return len(group), len(buyers), spend, len(buyers) / len(group)

    n1, b1, s1, p1 = figures(treated)
    n2, b2, s2, p2 = figures(control)
    assert report["treated"]["members"] == n1 and report["control"]["members"] == n2
    assert report["treated"]["bought_again"] == b1 and report["control"]["bought_again"] == b2
    assert report["treated"]["spend_cents"] == s1 and report["control"]["spend_cents"] == s2
    assert report["treated"]["rate"] == pytest.approx(p1)
    assert report["difference"]["rate"] == pytest.approx(p1 - p2)
    half_width = 1.959964 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    low, high = report["difference"]["rate_ci95"]
    assert low == pytest.approx(p1 - p2 - half_width)
    assert high == pytest.approx(p1 - p2 + half_width)
    assert report["difference"]["spend_per_member_cents"] == pytest.approx(s1 / n1 - s2 / n2)
    assert report["difference"]["small_sample"] is True


def test_the_push_step_fills_placeholders_and_reaches_the_phone(
    shop: Shop, receiver: Receiver
) -> None:
    automation = create(shop, {**WIN_BACK, "holdout_percent": 0})
    token = shop.login_member()
    browser = Browser()
    subscribed = shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={"endpoint": f"{receiver.url}/push/ada", "keys": browser.keys()},
        headers=bearer(token),
    )
    assert subscribed.status_code == 201
    member_id = shop.member_id(0)
    grant_consent(shop.app, [member_id])
    announce_stage(shop.app, [member_id], "lapsed", "2026-11-30")
    deliver(shop.app)
    [message] = receiver.received
    payload = json.loads(browser.decrypt(message["body"]))
    expiry = (utcnow() + timedelta(days=14)).date().isoformat()
    me = shop.client.get("/api/v1/me", headers=bearer(token)).get_json()
    assert payload["title"] == f"We miss you, {me['display_name']}"
    balance = me["points_balance"]
    assert payload["body"] == f"5 € off until {expiry}. You have {balance} points."
    assert payload["kind"] == "offers"
    assert message["headers"]["urgency"] == "low"
    enrolments = shop.client.get(
        f"/api/v1/automations/{automation['id']}/enrolments", headers=manager(shop)
    ).get_json()
    assert [(s["action"], s["outcome"]) for s in enrolments[0]["steps"]] == [
        ("coupon", "done"),
        ("push", "done"),
    ]


def test_actions_run_in_order_after_their_delays(shop: Shop, receiver: Receiver) -> None:
    endpoint = shop.client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": f"{receiver.url}/hooks", "event_types": ["purchase.booked"]},
        headers=bearer(shop.login_staff("admin")),
    ).get_json()
    automation = create(
        shop,
        {
            "name": "Welcome",
            "trigger": "member_signed_up",
            "holdout_percent": 0,
            "actions": [
                {"type": "task", "title": "Call {name} to say welcome"},
                {"type": "webhook", "endpoint_id": endpoint["id"], "delay_minutes": 60},
                {
                    "type": "survey",
                    "question": "How was your first visit?",
                    "delay_minutes": 24 * 60,
                },
            ],
        },
    )
    [member_id] = sign_up_members(shop, 1)
    start = utcnow()
    deliver(shop.app, now=start)
    tasks = shop.client.get("/api/v1/staff-tasks", headers=manager(shop)).get_json()
    assert [(t["member_id"], t["title"]) for t in tasks] == [(member_id, "Call M0 to say welcome")]
    assert receiver.received == [], "the webhook waits an hour"

    deliver(shop.app, now=start + timedelta(minutes=61))
    [call] = receiver.received
    assert call["headers"]["webhook-id"].startswith("msg_automation_")
    body = json.loads(call["body"])
    assert body["type"] == "automation.webhook" and body["member_id"] == member_id
    assert body["data"]["automation_id"] == automation["id"]

    with shop.app.app_context():
        assert len(db.session.scalars(select(AutomationStepRun)).all()) == 2
        db.session.rollback()
    deliver(shop.app, now=start + timedelta(minutes=61 + 24 * 60))
    with shop.app.app_context():
        runs = db.session.scalars(select(AutomationStepRun).order_by(AutomationStepRun.step)).all()
        assert [(r.action, r.outcome) for r in runs] == [
            ("task", "done"),
            ("webhook", "done"),
            ("survey", "done"),
        ]
        db.session.rollback()

    done = shop.client.post(f"/api/v1/staff-tasks/{tasks[0]['id']}/done", headers=manager(shop))
    assert done.status_code == 200 and done.get_json()["status"] == "done"
    again = shop.client.post(f"/api/v1/staff-tasks/{tasks[0]['id']}/done", headers=manager(shop))
    assert again.get_json()["type"] == "task-already-done"


def test_time_triggers_are_idempotent_and_fire_once_per_lapse(shop: Shop) -> None:
    automation = create(
        shop,
        {
            "name": "No purchase for 60 days",
            "trigger": "no_purchase_for",
            "trigger_params": {"days": 60},
            "holdout_percent": 0,
            "actions": [{"type": "task", "title": "Call {name}"}],
        },
    )
    till = shop.open_till()
    for index in (0, 1):
        assert purchase(shop.client, till, shop.static_code(index), 1000).status_code == 201
    long_ago = utcnow() - timedelta(days=90)
    with shop.app.app_context():
        db.session.execute(
            update(Purchase)
            .where(Purchase.member_id == shop.member_id(0))
            .values(created_at=long_ago)
        )
        db.session.commit()
    runner = shop.app.test_cli_runner()
    first = runner.invoke(args=["automations", "run"])
    assert first.exit_code == 0, first.output
    assert "enrolled 1 treated, 0 held back" in first.output
    second = runner.invoke(args=["automations", "run", "--as-of", utcnow().date().isoformat()])
    assert "enrolled 0 treated" in second.output, "the same lapse is not enrolled twice"
    deliver(shop.app)
    with shop.app.app_context():
        tasks = db.session.scalars(select(StaffTask)).all()
        assert [t.member_id for t in tasks] == [shop.member_id(0)]
        db.session.rollback()
    # Looking back to a day when member 1's purchase was not yet 60 days old: nobody new.
    assert groups(shop.app, automation["id"])["treated"] == {shop.member_id(0)}
    bad = runner.invoke(args=["automations", "run", "--as-of", "yesterday"])
    assert bad.exit_code != 0


def test_quiet_hours_defer_member_facing_steps(shop: Shop) -> None:
    now = utcnow()
    start = (now - timedelta(hours=1)).strftime("%H:%M")
    end = (now + timedelta(hours=2)).strftime("%H:%M")
    shop.app.config["AUTOMATIONS_TIMEZONE"] = "UTC"
    create(
        shop,
        {
            **WIN_BACK,
            "holdout_percent": 0,
            "quiet_hours": {"start": start, "end": end},
        },
    )
    grant_consent(shop.app, [shop.member_id(0)])
    announce_stage(shop.app, [shop.member_id(0)], "lapsed", "2026-11-30")
    deliver(shop.app)
    assert automation_coupons(shop.app) == {}
    with shop.app.app_context():
        [step] = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "automation-step")
        ).all()
        wake = step.available_at
        assert step.attempts == 0, "waiting out quiet hours is not a failed try"
        db.session.rollback()
    expected = now.replace(second=0, microsecond=0) + timedelta(hours=2)
    assert abs((wake - expected).total_seconds()) < 61
    deliver(shop.app, now=wake + timedelta(seconds=1))
    assert automation_coupons(shop.app) == {shop.member_id(0): 1}


def test_consent_and_segments_come_from_registered_sources(shop: Shop) -> None:
    from app.automations.seams import register_consent_filter, register_segment_filter

    automation = create(shop, {**WIN_BACK, "holdout_percent": 0, "segment_id": 7})
    members = [shop.member_id(0), shop.member_id(1)]
    announce_stage(shop.app, members, "lapsed", "2026-11-30")
    deliver(shop.app)
    assert groups(shop.app, automation["id"])["treated"] == set(), "no segment source: nobody"

    register_segment_filter(
        shop.app, lambda segment, ids, as_of: set(ids) if segment == 7 else set()
    )
    register_consent_filter(shop.app, lambda ids, purpose: {i for i in ids if i == members[1]})
    announce_stage(shop.app, members, "lapsed", "2026-12-01")
    deliver(shop.app)
    assert groups(shop.app, automation["id"])["treated"] == {members[1]}
    assert automation_coupons(shop.app) == {members[1]: 1}

    # Consent withdrawn between enrolment and the step: the step is skipped, on record.
    later = create(
        shop,
        {
            **WIN_BACK,
            "holdout_percent": 0,
            "cap_count": None,
            "cap_days": None,
            "actions": [{**WIN_BACK["actions"][0], "delay_minutes": 60}],
        },
    )
    announce_stage(shop.app, members, "lapsed", "2026-12-02")
    deliver(shop.app)
    assert groups(shop.app, later["id"])["treated"] == {members[1]}
    register_consent_filter(shop.app, lambda ids, purpose: set())
    deliver(shop.app, now=utcnow() + timedelta(minutes=61))
    assert automation_coupons(shop.app) == {members[1]: 1}, "no second coupon"
    steps = shop.client.get(
        f"/api/v1/automations/{later['id']}/enrolments", headers=manager(shop)
    ).get_json()[0]["steps"]
    assert [(s["outcome"], s["detail"]) for s in steps] == [
        ("skipped", {"reason": "no marketing consent"})
    ]


def test_automation_requests_are_validated_and_for_managers(shop: Shop) -> None:
    bad = [
        {**WIN_BACK, "trigger": "moon_phase"},
        {**WIN_BACK, "trigger_params": {}},
        {**WIN_BACK, "actions": [{"type": "coupon", "benefit": {"kind": "amount_off"}}]},
        {**WIN_BACK, "actions": [{"type": "push", "title": "x"}]},
        {**WIN_BACK, "actions": [{"type": "webhook", "endpoint_id": 999}]},
        {**WIN_BACK, "holdout_percent": 95},
        {**WIN_BACK, "cap_count": 1, "cap_days": None},
    ]
    for body in bad:
        response = shop.client.post("/api/v1/automations", json=body, headers=manager(shop))
        assert response.status_code == 422, body
    cashier = bearer(shop.login_staff("cashier"))
    assert (
        shop.client.post("/api/v1/automations", json=WIN_BACK, headers=cashier).status_code == 403
    )
    assert shop.client.get("/api/v1/automations/999", headers=manager(shop)).status_code == 404
    created = create(shop, WIN_BACK)
    off = shop.client.patch(
        f"/api/v1/automations/{created['id']}", json={"enabled": False}, headers=manager(shop)
    )
    assert off.status_code == 200 and off.get_json()["enabled"] is False


def test_points_expiring_and_near_next_tier_catch_the_right_members_once(shop: Shop) -> None:
    till = shop.open_till()
    assert purchase(shop.client, till, shop.static_code(0), 3000).status_code == 201
    member_id = shop.member_id(0)
    with shop.app.app_context():
        progress = tier_progress(member_id)
        expiring = expiring_points(member_id)["expiring"][0]
        db.session.commit()
    needed = progress["points_needed"]
    assert needed > 0, "the demo member is short of the next tier"
    task = [{"type": "task", "title": "Tell {name}"}]
    soon = create(
        shop,
        {
            "name": "Points expire soon",
            "trigger": "points_expiring",
            "trigger_params": {"days": 30},
            "holdout_percent": 0,
            "actions": task,
        },
    )
    near = create(
        shop,
        {
            "name": "Nearly silver",
            "trigger": "near_next_tier",
            "trigger_params": {"points": needed},
            "holdout_percent": 0,
            "actions": task,
        },
    )
    too_far = create(
        shop,
        {
            "name": "Nearly there (too strict)",
            "trigger": "near_next_tier",
            "trigger_params": {"points": needed - 1} if needed > 1 else {"points": 1},
            "holdout_percent": 0,
            "actions": task,
        },
    )
    runner = shop.app.test_cli_runner()
    assert runner.invoke(args=["automations", "run"]).exit_code == 0
    assert member_id not in groups(shop.app, soon["id"])["treated"], "expiry is years away"
    assert member_id in groups(shop.app, near["id"])["treated"]
    if needed > 1:
        assert member_id not in groups(shop.app, too_far["id"])["treated"]

    in_window = expiring["expires_at"] - timedelta(days=20)
    for _ in range(2):
        result = runner.invoke(args=["automations", "run", "--as-of", in_window.isoformat()])
        assert result.exit_code == 0, result.output
    assert member_id in groups(shop.app, soon["id"])["treated"]
    with shop.app.app_context():
        enrolments = db.session.scalars(
            select(AutomationEnrolment).where(AutomationEnrolment.automation_id == soon["id"])
        ).all()
        assert [e.occurrence for e in enrolments if e.member_id == member_id] == [
            f"expiry:{expiring['expires_at'].date().isoformat()}"
        ]
        db.session.rollback()


def test_members_without_a_recorded_consent_are_not_enrolled(shop: Shop) -> None:
    automation = create(shop, {**WIN_BACK, "holdout_percent": 0})
    consenting, silent = shop.member_id(0), shop.member_id(1)
    grant_consent(shop.app, [consenting])
    announce_stage(shop.app, [consenting, silent], "lapsed", "2026-11-30")
    deliver(shop.app)
    assert groups(shop.app, automation["id"]) == {"treated": {consenting}, "control": set()}
    assert automation_coupons(shop.app) == {consenting: 1}


def test_a_segment_limited_automation_enrols_only_the_segments_members(shop: Shop) -> None:
    members = [shop.member_id(0), shop.member_id(1)]
    with shop.app.app_context():
        db.session.execute(update(Member).where(Member.id == members[1]).values(points_balance=500))
        db.session.commit()
    segment = shop.client.post(
        "/api/v1/segments",
        json={
            "name": "Points to spend",
            "rules": {"field": "points_balance", "op": "gte", "value": 100},
        },
        headers=manager(shop),
    )
    assert segment.status_code == 201, segment.get_json()
    automation = create(
        shop, {**WIN_BACK, "holdout_percent": 0, "segment_id": segment.get_json()["segment_id"]}
    )
    grant_consent(shop.app, members)
    announce_stage(shop.app, members, "lapsed", "2026-11-30")
    deliver(shop.app)
    assert groups(shop.app, automation["id"])["treated"] == {members[1]}
    assert automation_coupons(shop.app) == {members[1]: 1}
