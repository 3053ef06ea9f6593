"""The outbox: events commit with their change, the schedule of retries, the daily jobs."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.campaigns.issuing import issue_member_coupon
from app.extensions import db
from app.fraud.attempts import raise_event
from app.outbox.models import DeliveryAttempt, OutboxMessage, ScheduledJobRun
from app.outbox.service import enqueue, parse_retry_after, prune_finished, retry_delay
from app.outbox.worker import register_scheduled_job, run_due_jobs
from coupons.rules import Benefit, BenefitKind
from tests.api.delivery_helpers import Browser, Receiver, deliver, receiver
from tests.conftest import Shop, bearer

__all__ = ["receiver"]  # the fixture, imported for the tests below

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def events(app: Flask) -> list[tuple[str | None, int | None]]:
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "event").order_by(OutboxMessage.id)
        ).all()
        result = [(row.event_type, row.member_id) for row in rows]
        db.session.rollback()
    return result


def register(shop: Shop, email: str) -> int:
    response = shop.client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "correct horse", "display_name": "N"},
    )
    return response.status_code


def test_an_event_commits_with_its_change_and_not_without_it(shop: Shop) -> None:
    before = events(shop.app)  # the demo shop's own history
    assert register(shop, "new@example.com") == 201
    [(event_type, member_id)] = events(shop.app)[len(before) :]
    assert event_type == "member.signed_up" and member_id is not None
    assert register(shop, "new@example.com") == 409
    assert len(events(shop.app)) == len(before) + 1, "a refused request leaves no event behind"


def test_batched_events_are_written_together_at_the_end_or_not_at_all(shop: Shop) -> None:
    from app.events import DomainEvent, publish
    from app.outbox.service import batched_events

    def rows() -> int:
        return len(db.session.scalars(select(OutboxMessage.id)).all())

    with shop.app.test_request_context():
        before = rows()
        with batched_events():
            publish(DomainEvent("test.first", {"n": 1}))
            publish(DomainEvent("test.second", {"n": 2}))
            assert rows() == before  # waiting for the block's end
        assert rows() == before + 2
        with pytest.raises(RuntimeError):
            with batched_events():
                publish(DomainEvent("test.dropped", {"n": 3}))
                raise RuntimeError("the block's work failed")
        assert rows() == before + 2
        publish(DomainEvent("test.direct", {"n": 4}))  # outside a batch: at once
        assert rows() == before + 3
        db.session.rollback()


def test_coupons_issued_and_fraud_events_are_announced(shop: Shop) -> None:
    before = len(events(shop.app))
    with shop.app.app_context():
        issue_member_coupon(
            shop.member_id(0),
            Benefit(BenefitKind.AMOUNT_OFF, amount_cents=300),
            source="test",
        )
        raise_event("test-rule", severity="low", action="flag", member_id=shop.member_id(1))
        db.session.commit()
    assert len(events(shop.app)) == before + 2
    assert events(shop.app)[-2:] == [
        ("coupon.issued", shop.member_id(0)),
        ("fraud.event_raised", shop.member_id(1)),
    ]


def test_retry_after_is_read_as_seconds_or_a_date() -> None:
    assert parse_retry_after("120", NOW) == 120
    assert parse_retry_after("Tue, 01 Dec 2026 12:05:00 GMT", NOW) == 300
    assert parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", NOW) == 0, "a past date: now"
    assert parse_retry_after("99999999", NOW) == 86_400, "capped at a day"
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (6, 960), (20, 21_600)):
        waits = [retry_delay(attempt, rng) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), attempt
        assert max(waits) - min(waits) > ceiling / 4, "jittered, not fixed"


def test_a_row_is_given_up_after_the_schedule_and_stays_visible(
    shop: Shop, receiver: Receiver
) -> None:
    shop.app.config["OUTBOX_MAX_ATTEMPTS"] = 3
    shop.client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": f"{receiver.url}/h", "event_types": ["member.signed_up"]},
        headers=bearer(shop.login_staff("admin")),
    )
    receiver.status = 500
    register(shop, "x@example.com")
    now = datetime.now(UTC)
    for hour in range(6):
        deliver(shop.app, now=now + timedelta(hours=hour))
    assert len(receiver.received) == 3
    with shop.app.app_context():
        row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook")).one()
        assert (row.status, row.attempts, row.last_error) == ("failed", 3, "answered 500")
        db.session.rollback()


def test_a_daily_job_runs_once_a_day_whatever_the_number_of_workers(app: Flask) -> None:
    ran: list[datetime] = []
    register_scheduled_job(app, "test-job", 2, ran.append)
    day = datetime(2026, 12, 1, tzinfo=UTC)
    with app.app_context():
        assert run_due_jobs(app, day.replace(hour=1)) == [], "not before its hour"
        assert "test-job" in run_due_jobs(app, day.replace(hour=2, minute=5))
        assert "test-job" not in run_due_jobs(app, day.replace(hour=2, minute=6)), "another worker"
        assert "test-job" not in run_due_jobs(app, day.replace(hour=23))
        assert "test-job" in run_due_jobs(app, day + timedelta(days=1, hours=3))
        row = db.session.get(ScheduledJobRun, "test-job")
        assert row is not None and row.last_finished_at is not None and row.last_error is None
        db.session.rollback()
    assert ran == [day.replace(hour=2, minute=5), day + timedelta(days=1, hours=3)]


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(app: Flask) -> None:
    def broken(as_of: datetime) -> None:
        raise RuntimeError("boom")

    register_scheduled_job(app, "broken-job", 0, broken)
    with app.app_context():
        ran = run_due_jobs(app, NOW)
        assert "broken-job" in ran and "automations-time-triggers" in ran
        row = db.session.get(ScheduledJobRun, "broken-job")
        assert row is not None and row.last_error == "RuntimeError"
        db.session.rollback()


@pytest.mark.parametrize("args", [["worker", "--once"], ["worker", "--once", "--name", "w-1"]])
def test_the_worker_command_delivers_what_is_due(
    shop: Shop, receiver: Receiver, args: list[str]
) -> None:
    token = shop.login_member()
    shop.client.post(
        "/api/v1/me/push-subscriptions",
        json={
            "endpoint": f"{receiver.url}/push/1",
            "keys": Browser().keys(),
        },
        headers=bearer(token),
    )
    shop.client.post("/api/v1/me/push-subscriptions/test", headers=bearer(token))
    result = shop.app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output and "jobs run:" in result.output
    assert [message["answered"] for message in receiver.received] == [201]


def test_finished_rows_are_pruned_after_their_retention_and_pending_ones_never(
    app: Flask,
) -> None:
    old, recent = NOW - timedelta(days=40), NOW - timedelta(days=5)
    with app.app_context():
        for status, finished in (
            ("done", old),
            ("done", recent),
            ("failed", old),
            ("failed", NOW - timedelta(days=100)),
            ("pending", None),
        ):
            row = enqueue("webhook", {"endpoint_id": 1}, available_at=old)
            row.status, row.finished_at = status, finished
            db.session.add(
                DeliveryAttempt(outbox_message_id=row.id, worker="w", outcome="x", attempted_at=old)
            )
        db.session.commit()
        assert prune_finished(NOW) == 2
        db.session.commit()
        left = sorted(
            (row.status, row.finished_at is not None)
            for row in db.session.scalars(select(OutboxMessage))
        )
        assert left == [("done", True), ("failed", True), ("pending", False)]
        assert len(db.session.scalars(select(DeliveryAttempt)).all()) == 3
        db.session.rollback()
