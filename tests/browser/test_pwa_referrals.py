"""Members invite friends in the PWA: code, link and QR, and a friend joining by the link."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import decode_qr, member_signs_in
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.browser


def test_member_sees_code_and_a_qr_of_the_link_and_a_friend_joins_by_it(
    shop: Shop, page: Any, browser: Any, live_server: str
) -> None:
    grace = shop.members[1]
    member_signs_in(page, grace["email"], grace["password"])
    page.locator("#member-nav").get_by_role("link", name="Points").click()
    page.locator("#invite-link").click()
    page.wait_for_selector("#referral-code")
    api_view = shop.client.get(
        "/api/v1/me/referrals", headers=bearer(shop.login_member(1))
    ).get_json()
    assert page.locator("#referral-code").inner_text() == api_view["code"]
    assert decode_qr(page.locator("#referral-qr").screenshot()) == [api_view["link"]]

    # The friend opens the link on their own phone (same address here, so allow it).
    shop.app.config["REFERRAL_ADDRESS_WINDOW_HOURS"] = "0"
    friend_context = browser.new_context(base_url=live_server, service_workers="block")
    try:
        friend = friend_context.new_page()
        friend.goto(f"/#/join?ref={api_view['code']}")
        assert friend.get_by_label("Referral code (optional)").input_value() == api_view["code"]
        friend.get_by_label("Your name").fill("Friend of Grace")
        friend.get_by_label("E-mail").fill("friend.of.grace@example.org")
        friend.get_by_label("Password (at least 8 characters)").fill("friendly-pass-1")
        friend.get_by_role("button", name="Join and get my card").click()
        friend.wait_for_selector("#live-qr[data-code]")
    finally:
        friend_context.close()
        shop.app.config.pop("REFERRAL_ADDRESS_WINDOW_HOURS", None)

    page.reload()
    page.wait_for_selector(".referral")
    assert "waiting for a first purchase" in page.locator(".referral").first.inner_text()
