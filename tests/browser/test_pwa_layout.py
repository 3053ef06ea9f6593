"""Every view fits a 360-pixel-wide phone, and every control has an accessible name."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOT_DIRECTORY, cashier_opens_till, member_signs_in
from tests.conftest import Shop

pytestmark = pytest.mark.browser

AUDIT = """() => {
  const visible = (element) => element.getClientRects().length > 0;
  const unlabelled = [...document.querySelectorAll("input, select, textarea")]
    .filter((e) => visible(e) && !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
    .map((e) => e.id || e.name || e.outerHTML.slice(0, 80));
  const nameless = [...document.querySelectorAll("button, a")]
    .filter((e) => visible(e) && !(e.textContent.trim() || e.getAttribute("aria-label")))
    .map((e) => e.outerHTML.slice(0, 80));
  return { width: document.documentElement.scrollWidth, unlabelled, nameless };
}"""


def _audit(page: Any, view: str) -> None:
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / f"pwa-360-{view}.png"), full_page=True)
    result = page.evaluate(AUDIT)
    assert result["width"] <= 360, f"{view} scrolls sideways ({result['width']} px)"
    assert result["unlabelled"] == [], view
    assert result["nameless"] == [], view


def test_every_view_fits_360_pixels_and_names_its_controls(shop: Shop, page: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto("/#/login")
    page.get_by_role("button", name="Sign in", exact=True).wait_for()
    _audit(page, "login")
    page.get_by_role("tab", name="Join").click()
    _audit(page, "join")
    page.get_by_role("tab", name="Sign in").click()

    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    page.wait_for_selector("#points-strip .points-value")
    _audit(page, "card")
    for view, ready in (
        ("points", "#points-balance"),
        ("rewards", "li.reward, .notice, .hint"),
        ("coupons", "li.coupon, .notice, .hint"),
    ):
        page.locator("#member-nav").get_by_role("link", name=view.capitalize()).click()
        page.wait_for_selector(ready)
        _audit(page, view)
    page.goto("/#/profile")
    page.wait_for_selector("#profile-form")
    page.wait_for_selector("#consents .consent")
    _audit(page, "profile")

    page.goto("/#/till")
    page.get_by_label("Till key").wait_for()
    _audit(page, "till-open")
    cashier = shop.logins["cashier"]
    cashier_opens_till(page, shop.tills[0]["till_key"], cashier["email"], cashier["password"])
    page.get_by_label("Card, coupon or receipt").fill(shop.static_code(0))
    page.get_by_role("button", name="Look up").click()
    page.wait_for_selector("#customer-name")
    _audit(page, "till")

    page.goto("/#/staff")
    page.get_by_label("Staff e-mail").fill(shop.logins["manager"]["email"])
    page.get_by_label("Password").fill(shop.logins["manager"]["password"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".tiles, .notice, .alert")
    _audit(page, "staff-overview")
    for link, ready in (
        ("Fraud review", "li.event, .hint, .notice"),
        ("Coupon check", "#desk-code"),
        ("Campaigns", "li.campaign, .hint"),
        ("Members", "#member-query"),
        ("Programme", "table, .hint"),
        ("Shop setup", "table"),
    ):
        page.get_by_role("navigation", name="Back office").get_by_role("link", name=link).click()
        page.wait_for_selector(ready)
        _audit(page, f"staff-{link.split()[0].lower()}")
