"""Members answer a survey in the PWA, opened the way the survey's push message opens it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.feedback.models import SurveyResponse
from app.feedback.service import invite_to_survey
from tests.browser.conftest import member_signs_in
from tests.conftest import Shop

pytestmark = pytest.mark.browser


def test_a_member_answers_the_survey_the_push_message_opens(shop: Shop, page: Any) -> None:
    ada = shop.members[0]
    with shop.app.app_context():
        invitation = invite_to_survey(
            shop.member_id(0), "How likely are you to recommend us?", "test"
        )
        assert invitation is not None
        survey_id = invitation.id
        db.session.commit()

    member_signs_in(page, ada["email"], ada["password"])
    page.goto(f"/#/survey?id={survey_id}")
    page.wait_for_selector("form.survey")
    assert page.locator("form.survey h2").inner_text() == "How likely are you to recommend us?"
    page.locator("label.score", has_text="9").first.click()
    page.get_by_label("Anything you would like to tell us? (optional)").fill("Friendly staff")
    page.get_by_role("button", name="Send answer").click()
    page.wait_for_selector("text=Thank you for your answer!")

    with shop.app.app_context():
        response = db.session.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id == survey_id)
        ).one()
        assert (response.score, response.comment) == (9, "Friendly staff")
        db.session.rollback()

    page.goto("/#/card")
    page.wait_for_selector("#live-qr[data-code]")
    page.goto("/#/survey")
    page.wait_for_selector("text=No open survey. Thank you all the same!")
