"""Managers in the PWA: the fraud review queue and the till figures on the overview."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.api.test_fraud_helpers import scan
from tests.browser.conftest import SCREENSHOT_DIRECTORY, has_route
from tests.conftest import Shop, bearer


def blocked_member_used_at_the_till(shop: Shop, member: int) -> None:
    """Raise a real fraud event: block a member, then scan their card (the `blocked` rule)."""
    manager = bearer(shop.login_staff("manager"))
    member_id = str(shop.member_id(member))
    blocked = {"target_type": "member", "target_id": member_id}
    assert (
        shop.client.post("/api/v1/fraud/blocks", json=blocked, headers=manager).status_code == 200
    )
    scan(shop, shop.static_code(member), shop.open_till(0))
    unblocked = shop.client.delete(f"/api/v1/fraud/blocks/member/{member_id}", headers=manager)
    assert unblocked.status_code == 200


pytestmark = pytest.mark.browser


def _staff_signs_in(page: Any, account: dict[str, Any], where: str = "review") -> None:
    page.goto(f"/#/staff?page={where}")
    page.get_by_label("Staff e-mail").fill(account["email"])
    page.get_by_label("Password").fill(account["password"])
    page.get_by_role("button", name="Sign in").click()


def test_review_pages_say_so_kindly_when_the_fraud_api_is_not_deployed(
    shop: Shop, page: Any
) -> None:
    missing = {
        "type": "not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "The requested URL was not found on the server.",
    }
    page.route(
        "**/api/v1/fraud/**",
        lambda route: route.fulfill(
            status=404, content_type="application/problem+json", body=json.dumps(missing)
        ),
    )
    _staff_signs_in(page, shop.logins["manager"])

    notice = page.get_by_text("The fraud review queue isn't available on this server yet.")
    notice.wait_for()
    page.get_by_role("link", name="Overview").click()
    page.get_by_text("The fraud summary isn't available on this server yet.").wait_for()
    assert "requested URL" not in page.locator("main").inner_text()


def test_cashiers_are_sent_to_the_till_instead(shop: Shop, page: Any) -> None:
    _staff_signs_in(page, shop.logins["cashier"])
    page.get_by_text("The back office is for managers and admins.").wait_for()
    assert page.get_by_role("link", name="till").is_visible()


def test_manager_resolves_an_open_fraud_event_and_sees_the_summary(shop: Shop, page: Any) -> None:
    if not has_route(shop.app, "/api/v1/fraud/events/<int:event_id>/resolve"):
        pytest.skip("the fraud review API has not landed yet")
    blocked_member_used_at_the_till(shop, 0)

    _staff_signs_in(page, shop.logins["manager"])
    first = page.locator("li.event").first
    first.wait_for()
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-staff-queue.png"), full_page=True)
    count = page.locator("li.event").count()
    first.get_by_label("Note").fill("checked the till's camera: a test")
    first.get_by_role("button", name="Legitimate").click()
    expect(page.locator("li.event")).to_have_count(count - 1)
    manager = bearer(shop.login_staff("manager"))
    resolved = shop.client.get("/api/v1/fraud/events?status=resolved", headers=manager).get_json()
    notes = {event["note"]: event["resolution"] for event in resolved}
    assert notes["checked the till's camera: a test"] == "legitimate"

    page.get_by_role("link", name="Overview").click()
    chart = page.locator("figure", has_text="Fraud events by rule")
    expect(chart.locator("svg")).to_have_attribute("aria-label", re.compile("Blocked: 1"))
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-staff-summary.png"), full_page=True)
