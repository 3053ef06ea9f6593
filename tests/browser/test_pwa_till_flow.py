"""A cashier's day at the till: a USB scanner and the keyboard only, a member without their
phone, an outage, refunds from the receipt list and undoing a redemption."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.member_numbers import format_member_number
from tests.browser.conftest import (
    SCREENSHOT_DIRECTORY,
    TABLET_VIEWPORT,
    cashier_opens_till,
    open_context_page,
)
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.browser


@pytest.fixture
def tablet(browser: Any, live_server: str) -> Iterator[Any]:
    """Return a landscape tablet page (no service worker); script errors fail the test."""
    page = open_context_page(browser, live_server, viewport=TABLET_VIEWPORT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    page.context.close()
    assert not errors, errors


def _open_till(shop: Shop, page: Any) -> None:
    cashier = shop.logins["cashier"]
    cashier_opens_till(page, shop.tills[0]["till_key"], cashier["email"], cashier["password"])


def _scanner(page: Any, text: str) -> None:
    """A keyboard-wedge scanner: types the code into whatever has the focus, then Enter."""
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def _focused_id(page: Any) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


def _entries(shop: Shop, member_index: int, receipt_id: str) -> list[dict[str, Any]]:
    token = shop.login_member(member_index)
    response = shop.client.get("/api/v1/me/ledger?page_size=100", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return [e for e in response.get_json() if e["reference_id"] == receipt_id]


def _balance(shop: Shop, member_index: int) -> int:
    token = shop.login_member(member_index)
    return int(shop.client.get("/api/v1/me", headers=bearer(token)).get_json()["points_balance"])


def test_three_customers_in_a_row_with_a_usb_scanner_and_no_mouse(shop: Shop, tablet: Any) -> None:
    _open_till(shop, tablet)
    assert _focused_id(tablet) == "scan-code"
    booked: list[tuple[int, str]] = []
    for member_index, amount in ((0, "12,50"), (1, "7.90"), (0, "30")):
        assert _focused_id(tablet) == "scan-code", "the focus is back on the scan field"
        name = ("Ada Lovelace", "Grace Hopper")[member_index]
        _scanner(tablet, shop.static_code(member_index))
        # The scan opens the visit and hands the focus to the amount (a new sale, empty).
        tablet.wait_for_function("() => document.activeElement.id === 'purchase-amount'")
        assert tablet.locator("#customer-name").inner_text() == name
        assert tablet.locator("#purchase-booked").count() == 0
        receipt = tablet.locator("#purchase-receipt").input_value()
        tablet.keyboard.type(amount)
        tablet.keyboard.press("Enter")
        tablet.wait_for_selector("#purchase-booked")
        assert name in tablet.locator("#purchase-booked").inner_text()
        booked.append((member_index, receipt))
    assert _focused_id(tablet) == "scan-code"
    for member_index, receipt in booked:
        assert [e["kind"] for e in _entries(shop, member_index, receipt)] == ["earn"]
    # The landscape layout puts scan, sale and receipts side by side.
    scan = tablet.locator(".till-scan").bounding_box()
    sale = tablet.locator(".till-sale").bounding_box()
    receipts = tablet.locator(".till-receipts").bounding_box()
    assert scan["x"] < sale["x"] < receipts["x"]
    assert abs(scan["y"] - sale["y"]) < 5 and abs(sale["y"] - receipts["y"]) < 5
    # The store and till are named, and the tier is the name members see.
    context = shop.client.get("/api/v1/till/context", headers=bearer(shop.open_till())).get_json()
    assert tablet.locator("#till-place").inner_text() == (
        f"{context['store']['name']} · {context['till']['name']}"
    )
    tier = tablet.locator("#customer-tier").inner_text()
    assert tier in context["tiers"].values()
    tablet.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-till-tablet-flow.png"))


def test_a_member_without_their_phone_is_found_by_name_and_earns(shop: Shop, page: Any) -> None:
    number = format_member_number(shop.member_id(1))
    _open_till(shop, page)
    search = page.get_by_label("Name, e-mail, member number or phone")
    search.fill("grace")
    page.get_by_role("button", name="Search").click()
    by_name = page.get_by_role("button", name="Choose Grace Hopper")
    by_name.wait_for()
    assert f"No. {number}" in by_name.inner_text()
    # Read out from the member's card: the number, typed without the dash and in lower case.
    search.fill(number.replace("-", "").lower())
    page.get_by_role("button", name="Search").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#member-results .member-choice').length === 1"
        " && !document.querySelector('#member-results').textContent.includes('Searching')"
    )
    assert page.locator("#member-results .member-choice").count() == 1
    page.get_by_role("button", name="Choose Grace Hopper").click()
    page.wait_for_selector("#customer-name")
    assert page.locator("#customer-name").inner_text() == "Grace Hopper"
    assert page.locator("#customer-number").inner_text() == f"Member number {number}"
    assert "Can collect points, not redeem." in page.locator("#customer").inner_text()
    receipt = page.locator("#purchase-receipt").input_value()
    page.keyboard.type("9,99")
    page.keyboard.press("Enter")
    page.wait_for_selector("#purchase-booked")
    assert [e["kind"] for e in _entries(shop, 1, receipt)] == ["earn"]


def test_offline_purchases_are_queued_and_synced_exactly_once(shop: Shop, page: Any) -> None:
    _open_till(shop, page)
    page.wait_for_selector("#queue-waiting")
    page.context.set_offline(True)
    page.wait_for_function("() => !navigator.onLine")
    receipts: list[tuple[int, str]] = []
    for member_index, amount in ((0, "15,00"), (1, "25,00")):
        page.locator("#scan-code").focus()
        _scanner(page, shop.static_code(member_index))
        page.wait_for_selector("#customer-offline")
        receipts.append((member_index, page.locator("#purchase-receipt").input_value()))
        page.keyboard.type(amount)
        page.keyboard.press("Enter")
        page.wait_for_selector("#purchase-queued")
        assert _focused_id(page) == "scan-code"
    assert page.locator("#queue-count").inner_text() == "2 waiting to be booked"
    # A live code cannot be checked offline: the cashier is told what to ask for.
    page.locator("#scan-code").fill(shop.rotating_code(0))
    page.keyboard.press("Enter")
    assert "printed-card code" in page.locator("#scan-result").inner_text()
    for member_index, receipt in receipts:
        assert _entries(shop, member_index, receipt) == [], "nothing reached the server"

    page.context.set_offline(False)
    page.wait_for_selector("#queue-synced")
    assert "2 saved purchases were booked" in page.locator("#queue-synced").inner_text()
    assert page.locator("#queue-count").is_hidden()
    for member_index, receipt in receipts:
        assert [e["kind"] for e in _entries(shop, member_index, receipt)] == ["earn"]
    # Syncing again (the next timer tick, a reload) books nothing twice.
    page.reload()
    page.wait_for_selector("#queue-waiting")
    page.wait_for_timeout(500)
    for member_index, receipt in receipts:
        assert len(_entries(shop, member_index, receipt)) == 1
    queued = page.evaluate(
        """() => new Promise((resolve) => {
          const open = indexedDB.open("lw-till", 1);
          open.onsuccess = () => {
            const all = open.result.transaction("queue").objectStore("queue").getAll();
            all.onsuccess = () => resolve(all.result.length);
          };
        })"""
    )
    assert queued == 0


def test_refund_from_the_receipt_list_updates_the_customer_panel(shop: Shop, page: Any) -> None:
    _open_till(shop, page)
    page.locator("#scan-code").fill(shop.static_code(1))
    page.keyboard.press("Enter")
    page.wait_for_selector("#customer-name")
    receipt = page.locator("#purchase-receipt").input_value()
    page.keyboard.type("20,00")
    page.keyboard.press("Enter")
    page.wait_for_selector("#purchase-booked")
    before = _balance(shop, 1)

    page.locator(f'.receipt-row[data-receipt="{receipt}"]').click()
    view = page.locator("#receipt-view")
    view.wait_for()
    assert "Grace Hopper" in view.inner_text()
    assert page.get_by_label("Amount to refund").input_value() == "20.00"
    page.get_by_label("Amount to refund").fill("10,00")
    page.locator("#receipt-refund").click()
    page.wait_for_selector("#refund-done")
    after = _balance(shop, 1)
    assert after < before
    assert [e["kind"] for e in _entries(shop, 1, receipt)] == ["refund", "earn"]
    points = page.locator("#customer-points").inner_text()
    assert f"{after:,} points" in points, points
    assert "refunded" in page.locator(f'.receipt-row[data-receipt="{receipt}"]').inner_text()
    # The same receipt scanned into the scan field opens its view too.
    page.locator("#scan-code").fill(receipt)
    page.keyboard.press("Enter")
    page.locator("#receipt-view").wait_for()
    assert "Refunded so far" in page.locator("#receipt-view").inner_text()


def test_a_redemption_is_undone_from_the_till(shop: Shop, page: Any) -> None:
    from app.campaigns.issuing import issue_member_coupon
    from app.extensions import db
    from coupons.rules import Benefit, BenefitKind

    with shop.app.app_context():
        coupon = issue_member_coupon(
            shop.member_id(0), Benefit(kind=BenefitKind.AMOUNT_OFF, amount_cents=300), source="test"
        )
        db.session.commit()
    _open_till(shop, page)
    _scanner(page, shop.static_code(0))
    page.wait_for_selector("#customer-name")
    page.get_by_label("Basket").fill("20")
    page.locator("#scan-code").focus()
    _scanner(page, coupon.formatted)
    page.locator("#coupon-valid").wait_for()
    page.keyboard.press("Enter")
    page.wait_for_selector("#coupon-redeemed")
    token = shop.login_member(0)

    def state() -> str:
        coupons = shop.client.get("/api/v1/me/coupons", headers=bearer(token)).get_json()
        return str(next(c for c in coupons if c["coupon_id"] == coupon.coupon_id)["state"])

    assert state() == "redeemed"
    page.locator("#undo-redemption").click()
    page.wait_for_selector("#redemption-undone")
    assert state() == "active"
    assert _focused_id(page) == "scan-code"
