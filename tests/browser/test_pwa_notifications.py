"""Members choose kinds of push message and quiet hours in the PWA."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import member_signs_in
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.browser


def test_a_member_mutes_offers_and_sets_quiet_hours(shop: Shop, page: Any) -> None:
    grace = shop.members[1]
    member_signs_in(page, grace["email"], grace["password"])
    page.goto("/#/notifications")
    page.wait_for_selector("form.preferences")
    assert page.get_by_label("Offers and coupons").is_checked()
    page.get_by_label("Offers and coupons").uncheck()
    page.get_by_label("Quiet hours").check()
    page.get_by_label("From").fill("22:30")
    page.get_by_label("Until").fill("07:15")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector("text=Saved.")

    stored = shop.client.get(
        "/api/v1/me/push-preferences", headers=bearer(shop.login_member(1))
    ).get_json()
    assert stored["kinds"] == {
        "points": True,
        "offers": False,
        "reminders": True,
        "surveys": True,
    }
    assert stored["quiet_hours"] == {"start": "22:30", "end": "07:15"}
    assert stored["timezone"]  # the browser's zone (UTC in the test browser)

    page.reload()
    page.wait_for_selector("form.preferences")
    assert not page.get_by_label("Offers and coupons").is_checked()
    assert page.get_by_label("From").input_value() == "22:30"
