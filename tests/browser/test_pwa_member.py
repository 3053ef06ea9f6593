"""Members in the PWA: signing in, the live card, joining, points."""

from __future__ import annotations

from typing import Any

import pytest

from app.member_numbers import format_member_number
from tests.browser.conftest import SCREENSHOT_DIRECTORY, decode_qr, has_route, member_signs_in
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.browser


def test_member_sees_a_live_qr_that_decodes_to_an_lw2_code_the_till_accepts(
    shop: Shop, page: Any
) -> None:
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    page.wait_for_selector("#points-strip .points-value")
    assert page.locator(".greeting").inner_text() == "Hi, Ada Lovelace"
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-card.png"))

    codes = decode_qr(page.locator("#live-qr").screenshot())

    assert len(codes) == 1
    code = codes[0]
    assert code.startswith("LW2:") and len(code) == len("LW2:") + 26 + 1 + 8
    card = shop.client.get("/api/v1/me/card", headers=bearer(shop.login_member(0))).get_json()
    assert code.startswith(card["rotating_prefix"])
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": code}, headers=bearer(shop.open_till())
    )
    assert scan.status_code == 200, scan.get_json()
    assert scan.get_json()["credential"] == "rotating"
    assert scan.get_json()["member"]["display_name"] == "Ada Lovelace"


def test_printed_card_code_is_shown_on_request_and_is_the_lw1_code(shop: Shop, page: Any) -> None:
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    page.get_by_role("button", name="Show printed-card code").click()
    page.wait_for_selector("#card-code:text-matches('^LW1:')")
    assert page.locator("#card-code").inner_text() == shop.static_code(0)
    page.get_by_role("button", name="Show live code").click()
    page.wait_for_selector("#card-code:text-matches('^LW2:')")


def test_card_shows_the_member_number_staff_can_search_for(shop: Shop, page: Any) -> None:
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    page.wait_for_selector("#member-number:not([hidden])")
    shown = page.locator("#member-number").inner_text()
    assert shown == f"Member no. {format_member_number(shop.member_id(0))}"
    found = shop.client.get(
        "/api/v1/members",
        query_string={"q": shown.removeprefix("Member no. ")},
        headers=bearer(shop.login_staff("cashier")),
    ).get_json()
    assert [row["member_id"] for row in found] == [shop.member_id(0)]


def test_wrong_password_shows_the_problems_detail(shop: Shop, page: Any) -> None:
    page.goto("/#/login")
    page.get_by_label("E-mail").fill(shop.members[0]["email"])
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "E-mail or password is wrong."


def test_new_member_joins_and_gets_a_card(shop: Shop, page: Any) -> None:
    page.goto("/#/login")
    page.get_by_role("tab", name="Join").click()
    page.get_by_label("Your name").fill("Katherine Johnson")
    page.get_by_label("E-mail").fill("katherine@example.org")
    page.get_by_label("Password (at least 8 characters)").fill("orbital-2026")
    page.get_by_role("button", name="Join and get my card").click()
    page.wait_for_selector("#live-qr[data-code]")
    page.wait_for_selector(".greeting:text('Hi, Katherine Johnson')")
    assert decode_qr(page.locator("#live-qr").screenshot())[0].startswith("LW2:")


def test_points_view_shows_the_live_balance_and_tier(shop: Shop, page: Any) -> None:
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    me = shop.client.get("/api/v1/me", headers=bearer(shop.login_member(0))).get_json()
    page.locator("#member-nav").get_by_role("link", name="Points").click()
    page.wait_for_selector("#points-balance")
    assert page.locator("#points-balance").inner_text().startswith(f"{me['points_balance']:,}")
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-points.png"), full_page=True)


def test_signing_out_forgets_the_card_saved_for_offline_use(shop: Shop, page: Any) -> None:
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    assert page.evaluate("localStorage.getItem('lw.card')") is not None
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("form[aria-label='Sign in']")
    assert page.evaluate("localStorage.getItem('lw.card')") is None
    assert page.evaluate("localStorage.getItem('lw.session.member')") is None


def test_expired_access_token_is_refreshed_once_for_calls_made_together(
    shop: Shop, page: Any
) -> None:
    ada = shop.members[0]
    shop.app.config["ACCESS_TOKEN_SECONDS"] = 1
    try:
        member_signs_in(page, ada["email"], ada["password"])
    finally:
        shop.app.config["ACCESS_TOKEN_SECONDS"] = 900
    refreshes: list[int] = []
    page.on(
        "response",
        lambda response: (
            refreshes.append(response.status)
            if response.url.endswith("/api/v1/auth/refresh")
            else None
        ),
    )
    page.wait_for_timeout(2100)  # the access token has expired now

    # The points view fires three API calls at once; all get 401 token-expired.
    page.locator("#member-nav").get_by_role("link", name="Points").click()
    page.wait_for_selector("#points-balance")

    assert refreshes == [200], "one refresh, shared by every call that needed it"
    page.get_by_role("button", name="Sign out").wait_for()


def test_member_claims_a_reward_and_its_coupon_qr_decodes_to_the_code(
    shop: Shop, page: Any
) -> None:
    if not has_route(shop.app, "/api/v1/me/rewards/<int:reward_id>/claim"):
        pytest.skip("the rewards API has not landed yet")
    from app.extensions import db
    from app.ledger.service import post_ledger_entry

    with shop.app.app_context():
        post_ledger_entry(shop.member_id(1), 300, "adjust", reason="browser test credit")
        db.session.commit()
    grace = shop.members[1]
    member_signs_in(page, grace["email"], grace["password"])
    page.locator("#member-nav").get_by_role("link", name="Rewards").click()
    affordable = page.locator("li.reward:has(button:not([disabled]))").first
    reward_id = affordable.get_attribute("data-reward-id")
    reward = page.locator(f"li.reward[data-reward-id='{reward_id}']")
    reward.get_by_role("button", name="Claim").click()
    reward.get_by_role("button", name="Spend").click()
    claimed = page.get_by_role("status").filter(has_text="Claimed!")
    claimed.wait_for()
    code = claimed.locator(".coupon-code")
    if code.count() == 0:
        pytest.skip("the first affordable reward issues no coupon")
    formatted = code.inner_text()
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-reward-claimed.png"), full_page=True)

    page.locator("#member-nav").get_by_role("link", name="Coupons").click()
    coupon = page.locator("li.coupon").filter(has_text=formatted)
    coupon.get_by_role("button", name="Show QR code").click()
    assert decode_qr(coupon.locator("canvas").screenshot()) == [formatted]
