"""Surveys (NPS once per member per period) and complaints, and the KPIs they feed."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from app.accounts.models import Member
from app.auth.passwords import hash_password
from app.extensions import db
from app.feedback.service import (
    answer_survey,
    invite_to_survey,
    open_complaints_by_member,
    period_of,
    survey_scores_by_member,
)
from app.profiles.service import set_consent
from tests.api.delivery_helpers import deliver
from tests.api.ledger_helpers import purchase
from tests.conftest import Shop, bearer


def invite(app: Flask, member_id: int, question: str = "Would you recommend us?") -> int | None:
    with app.app_context():
        invitation = invite_to_survey(member_id, question, "test")
        db.session.commit()
        return None if invitation is None else invitation.id


def test_a_member_answers_their_survey_once_and_once_per_period(shop: Shop) -> None:
    survey_id = invite(shop.app, shop.member_id(0))
    assert survey_id is not None
    assert invite(shop.app, shop.member_id(0), "Again?") is None, "once per member per period"
    token = bearer(shop.login_member(0))
    [listed] = shop.client.get("/api/v1/me/surveys", headers=token).get_json()
    assert listed["id"] == survey_id and listed["scale"] == {"min": 0, "max": 10}

    answer = shop.client.post(
        f"/api/v1/me/surveys/{survey_id}/answer",
        json={"score": 9, "comment": "Great"},
        headers=token,
    )
    assert answer.status_code == 200 and answer.get_json()["answered_at"]
    again = shop.client.post(
        f"/api/v1/me/surveys/{survey_id}/answer", json={"score": 3}, headers=token
    )
    assert again.status_code == 409 and again.get_json()["type"] == "survey-already-answered"
    assert shop.client.get("/api/v1/me/surveys", headers=token).get_json() == []

    other = bearer(shop.login_member(1))
    stranger = shop.client.post(
        f"/api/v1/me/surveys/{survey_id}/answer", json={"score": 0}, headers=other
    )
    assert stranger.status_code == 404 and stranger.get_json()["type"] == "unknown-survey"
    out_of_range = shop.client.post(
        f"/api/v1/me/surveys/{survey_id}/answer", json={"score": 11}, headers=token
    )
    assert out_of_range.status_code == 422


def test_periods_are_calendar_quarters() -> None:
    assert period_of(datetime(2026, 12, 31, tzinfo=UTC)) == "2026-Q4"
    assert period_of(datetime(2027, 1, 1, tzinfo=UTC)) == "2027-Q1"
    assert period_of(datetime(2026, 6, 30, tzinfo=UTC)) == "2026-Q2"


def test_after_purchase_surveys_follow_the_setting(shop: Shop) -> None:
    shop.app.config["SURVEY_AFTER_PURCHASE"] = "true"
    with shop.app.app_context():
        set_consent(shop.member_id(0), "surveys", True, source="app")
        db.session.commit()
    till = shop.open_till()
    for _ in range(2):
        assert purchase(shop.client, till, shop.static_code(0), 1200).status_code == 201
    deliver(shop.app)
    surveys = shop.client.get("/api/v1/me/surveys", headers=bearer(shop.login_member(0)))
    assert len(surveys.get_json()) == 1, "two purchases, one survey this period"


def test_complaints_are_recorded_resolved_and_counted_with_the_nps(shop: Shop) -> None:
    cashier = bearer(shop.login_staff("cashier"))
    manager = bearer(shop.login_staff("manager"))
    member_id = shop.member_id(0)
    recorded = shop.client.post(
        f"/api/v1/members/{member_id}/complaints",
        json={"kind": "complaint", "category": "staff", "description": "Rude at the till"},
        headers=cashier,
    )
    assert recorded.status_code == 201, recorded.get_json()
    shop.client.post(
        f"/api/v1/members/{member_id}/complaints",
        json={"kind": "service", "description": "Card does not scan"},
        headers=cashier,
    )
    unknown = shop.client.post(
        "/api/v1/members/99999/complaints", json={"description": "x"}, headers=cashier
    )
    assert unknown.status_code == 404
    assert shop.client.get("/api/v1/complaints", headers=cashier).status_code == 403

    scores = [10, 9, 8, 6, 0]  # 2 promoters, 1 passive, 2 detractors: NPS 0
    with shop.app.app_context():
        for i in range(3):
            db.session.add(
                Member(
                    email=f"s{i}@example.com", display_name="S", password_hash=hash_password("x")
                )
            )
        db.session.flush()
        members = list(db.session.scalars(select(Member.id).order_by(Member.id)))[:5]
        db.session.commit()
    for member_id_, score in zip(members, scores, strict=True):
        survey_id = invite(shop.app, member_id_)
        with shop.app.app_context():
            answer_survey(member_id_, survey_id or 0, score, None)
            db.session.commit()

    kpis = shop.client.get("/api/v1/feedback/kpis?days=30", headers=manager).get_json()
    assert kpis == {
        "days": 30,
        "answers": 5,
        "promoters": 2,
        "passives": 1,
        "detractors": 2,
        "nps": 0.0,
        "open_complaints": 2,
        "complaints_in_period": 2,
    }
    resolved = shop.client.post(
        f"/api/v1/complaints/{recorded.get_json()['id']}/resolve",
        json={"resolution": "Apologised, 5 € voucher"},
        headers=manager,
    )
    assert resolved.get_json()["status"] == "resolved"
    twice = shop.client.post(
        f"/api/v1/complaints/{recorded.get_json()['id']}/resolve",
        json={"resolution": "again"},
        headers=manager,
    )
    assert twice.get_json()["type"] == "complaint-already-resolved"
    open_list = shop.client.get("/api/v1/complaints?status=open", headers=manager).get_json()
    assert [c["kind"] for c in open_list] == ["service"]
    with shop.app.app_context():
        today = datetime.now(UTC).date()
        assert open_complaints_by_member(today) == {shop.member_id(0): 1}
        assert survey_scores_by_member(today)[members[0]] == 10.0
        db.session.rollback()
