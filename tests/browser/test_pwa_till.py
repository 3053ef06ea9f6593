"""Cashiers in the PWA: opening the till, scanning, booking, retrying, coupons."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOT_DIRECTORY, cashier_opens_till, catalogue, has_route
from tests.conftest import Shop, bearer

pytestmark = pytest.mark.browser


def _open_till(shop: Shop, page: Any) -> None:
    cashier = shop.logins["cashier"]
    cashier_opens_till(page, shop.tills[0]["till_key"], cashier["email"], cashier["password"])


def _scan(page: Any, code: str) -> None:
    page.get_by_label("Card, coupon or receipt").fill(code)
    page.get_by_role("button", name="Look up").click()


def _earn_entries(shop: Shop, member_index: int) -> list[dict[str, Any]]:
    token = shop.login_member(member_index)
    response = shop.client.get("/api/v1/me/ledger?page_size=100", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return [entry for entry in response.get_json() if entry["kind"] == "earn"]


def _balance(shop: Shop, member_index: int) -> int:
    token = shop.login_member(member_index)
    return int(shop.client.get("/api/v1/me", headers=bearer(token)).get_json()["points_balance"])


def test_cashier_opens_the_till_types_an_lw1_code_and_sees_the_members_name(
    shop: Shop, page: Any
) -> None:
    _open_till(shop, page)
    remembered = page.evaluate("JSON.parse(localStorage.getItem('lw.till-key'))")
    assert remembered == shop.tills[0]["till_key"]

    _scan(page, shop.static_code(1))

    page.wait_for_selector("#customer-name")
    assert page.locator("#customer-name").inner_text() == "Grace Hopper"
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-till.png"), full_page=True)


def test_a_refused_card_code_is_told_in_plain_words(shop: Shop, page: Any) -> None:
    _open_till(shop, page)
    forged = shop.static_code(0)
    forged = forged[:-3] + ("AAA" if not forged.endswith("AAA") else "BBB")

    _scan(page, forged)

    alert = page.locator("#scan-result").get_by_role("alert")
    alert.wait_for()
    expected = shop.client.post(
        "/api/v1/till/scan", json={"code": forged}, headers=bearer(shop.open_till())
    ).get_json()
    assert expected["status"] >= 400
    # The cashier reads the catalogue's words for the problem type, not the API's detail.
    assert alert.inner_text() == catalogue("en", "common")[f"problem.{expected['type']}"]
    assert page.locator("#customer-name").count() == 0


def test_retrying_a_purchase_whose_answer_was_lost_reuses_its_key_and_books_once(
    shop: Shop, page: Any
) -> None:
    if not has_route(shop.app, "/api/v1/till/purchases"):
        pytest.skip("the purchases API has not landed yet")
    earned_before = _earn_entries(shop, 1)
    balance_before = _balance(shop, 1)
    _open_till(shop, page)
    _scan(page, shop.static_code(1))
    page.wait_for_selector("#customer-name")

    keys: list[str | None] = []
    replayed: list[str | None] = []

    def lose_the_first_answer(route: Any) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        answer = route.fetch()  # the server books the purchase ...
        if len(keys) == 1:
            route.abort("connectionreset")  # ... but its answer never reaches the till
        else:
            replayed.append(answer.headers.get("idempotent-replayed"))
            route.fulfill(response=answer)

    page.route("**/api/v1/till/purchases", lose_the_first_answer)
    page.get_by_label("Amount paid").fill("42.00")
    page.get_by_role("button", name="Book purchase").click()
    page.locator("#purchase-result").get_by_role("alert").wait_for()
    assert page.get_by_label("Amount paid").is_disabled(), (
        "inputs lock while the outcome is unknown"
    )

    page.get_by_role("button", name="Retry booking").click()
    page.wait_for_selector("#purchase-booked")

    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    assert replayed == ["true"]
    assert len(_earn_entries(shop, 1)) == len(earned_before) + 1
    earned = _balance(shop, 1) - balance_before
    assert earned > 0
    assert f"+{earned} points" in page.locator("#purchase-booked").inner_text()
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-till-booked.png"), full_page=True)


def test_next_sale_gets_a_new_key_and_a_new_receipt(shop: Shop, page: Any) -> None:
    if not has_route(shop.app, "/api/v1/till/purchases"):
        pytest.skip("the purchases API has not landed yet")
    _open_till(shop, page)
    _scan(page, shop.static_code(0))
    page.wait_for_selector("#customer-name")
    keys: list[str] = []

    def note_key(request: Any) -> None:
        if request.url.endswith("/api/v1/till/purchases"):
            keys.append(request.headers["idempotency-key"])

    page.on("request", note_key)
    receipts = []
    for amount in ("10.00", "11.50"):
        receipts.append(page.get_by_label("Receipt number").input_value())
        page.get_by_label("Amount paid").fill(amount)
        page.get_by_role("button", name="Book purchase").click()
        page.wait_for_selector("#purchase-booked")
        page.get_by_role("button", name="New sale").click()
    assert len(set(keys)) == 2
    assert len(set(receipts)) == 2


def test_cashier_checks_and_redeems_a_members_coupon(shop: Shop, page: Any) -> None:
    if not has_route(shop.app, "/api/v1/till/coupons/redeem"):
        pytest.skip("the coupon API has not landed yet")
    from app.campaigns.issuing import issue_member_coupon
    from app.extensions import db
    from coupons.rules import Benefit, BenefitKind

    with shop.app.app_context():
        coupon = issue_member_coupon(
            shop.member_id(0), Benefit(kind=BenefitKind.AMOUNT_OFF, amount_cents=500), source="test"
        )
        db.session.commit()
    _open_till(shop, page)
    _scan(page, shop.static_code(0))
    page.wait_for_selector("#customer-name")

    page.get_by_label("Basket").fill("30")
    # A coupon scanned into the scan field is checked at once, its answer right there.
    _scan(page, coupon.formatted)
    page.locator("#coupon-valid").wait_for()
    assert "Valid" in page.locator("#scan-result").inner_text()
    assert page.locator("#scan-result").is_visible()

    page.keyboard.press("Enter")  # the answer's Redeem button has the focus
    page.wait_for_selector("#coupon-redeemed")
    page.get_by_label("Coupon code", exact=True).fill(coupon.formatted)
    page.locator("#redeem-coupon").click()
    alert = page.locator("#scan-result").get_by_role("alert")
    alert.wait_for()
    text = alert.inner_text()
    store = shop.client.get("/api/v1/till/context", headers=bearer(shop.open_till())).get_json()
    assert text.startswith("Already redeemed today at "), text
    assert text.endswith(f" in {store['store']['name']}."), text


# Headless Chromium on Linux has no BarcodeDetector and no camera: stand both in, so the test
# drives the app's own camera code (permission, preview, detection loop, look-up, shutdown).
FAKE_CAMERA = """
window.__detectedCode = null;
window.BarcodeDetector = class {
  constructor(options) { window.__detectorFormats = options.formats; }
  async detect() {
    return window.__detectedCode ? [{ rawValue: window.__detectedCode, format: "qr_code" }] : [];
  }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 64;
  canvas.height = 64;
  canvas.getContext("2d").fillRect(0, 0, 64, 64);
  window.__cameraStream = canvas.captureStream(5);
  return window.__cameraStream;
};
"""


def test_camera_scan_looks_up_the_detected_card_and_releases_the_camera(
    shop: Shop, page: Any
) -> None:
    page.add_init_script(FAKE_CAMERA)
    _open_till(shop, page)

    page.get_by_role("button", name="Scan with camera").click()
    page.get_by_label("Camera preview").wait_for()
    page.evaluate("code => { window.__detectedCode = code; }", shop.static_code(1))

    page.wait_for_selector("#customer-name")
    assert page.locator("#customer-name").inner_text() == "Grace Hopper"
    assert page.evaluate("window.__detectorFormats") == ["qr_code"]
    assert page.get_by_label("Camera preview").is_hidden()
    live_tracks = "window.__cameraStream.getTracks().filter(t => t.readyState === 'live').length"
    assert page.evaluate(live_tracks) == 0


def test_a_purchase_needing_step_up_goes_through_once_a_manager_approves_on_the_till(
    shop: Shop, page: Any
) -> None:
    if not has_route(shop.app, "/api/v1/fraud/rules"):
        pytest.skip("the fraud rules API has not landed yet")
    admin = bearer(shop.login_staff("admin"))
    strict = {"live-code": {"operations": {"purchase": True}}}
    relaxed = {"live-code": {"operations": {"purchase": False}}}
    assert shop.client.put("/api/v1/fraud/rules", json=strict, headers=admin).status_code == 200
    try:
        balance_before = _balance(shop, 0)
        _open_till(shop, page)
        _scan(page, shop.static_code(0))
        page.wait_for_selector("#customer-name")
        page.get_by_label("Amount paid").fill("20.00")
        page.get_by_role("button", name="Book purchase").click()

        approval = page.get_by_role("form", name="Manager approval")
        approval.wait_for()
        page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-till-step-up.png"), full_page=True)
        assert _balance(shop, 0) == balance_before, "nothing is booked before the approval"
        manager = shop.logins["manager"]
        approval.get_by_label("Manager e-mail").fill(manager["email"])
        approval.get_by_label("Manager password").fill(manager["password"])
        approval.get_by_role("button", name="Approve").click()

        page.wait_for_selector("#purchase-booked")
        assert _balance(shop, 0) > balance_before
    finally:
        shop.client.put("/api/v1/fraud/rules", json=relaxed, headers=admin)
