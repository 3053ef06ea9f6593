"""The member's profile view (#/profile): profile, consents, data export and account deletion,
checked against the API, plus accessibility and the German wording (of the referrals view too)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import AXE_SCRIPT, member_signs_in, open_context_page
from tests.browser.test_pwa_languages import AXE_RUN, LOCALES, SHOWN_TEXT, english_leftovers
from tests.conftest import Shop, bearer, unavailable

pytestmark = pytest.mark.browser

PASSWORD = "profile-pass-1"


def _new_member(shop: Shop, tag: str, name: str = "Jana Krüger") -> dict[str, str]:
    """Register a member of this test's own (the module's tests share one database)."""
    email = f"profile.{tag}@example.org"
    response = shop.client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "display_name": name},
    )
    assert response.status_code == 201, response.get_json()
    return {"email": email, "name": name, "token": response.get_json()["access_token"]}


def _open_profile(page: Any) -> None:
    page.locator("#profile-link").click()
    page.wait_for_selector("#profile-form")
    page.wait_for_selector("#consents .consent")
    page.wait_for_load_state("networkidle")


def test_member_edits_the_profile_and_the_api_holds_it(shop: Shop, page: Any) -> None:
    member = _new_member(shop, "edit")
    stores = shop.client.get("/api/v1/me/stores", headers=bearer(member["token"])).get_json()
    home = stores[-1]
    member_signs_in(page, member["email"], PASSWORD)
    _open_profile(page)
    assert page.locator("#view-title").inner_text() == "My profile and data"
    assert page.get_by_label("Name").input_value() == member["name"]
    page.get_by_label("Name").fill("Jana K.")
    page.get_by_label("Birthday (optional)").fill("1988-07-14")
    page.get_by_label("Home store").select_option(label=home["name"])
    page.get_by_label("Language of our messages").select_option("de")
    page.get_by_label("Phone (optional)").fill("+49 171 555-0101")
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_selector("#profile-saved")

    profile = shop.client.get("/api/v1/me/profile", headers=bearer(member["token"])).get_json()
    assert profile["display_name"] == "Jana K."
    assert profile["birthday"] == "1988-07-14"
    assert profile["home_store_id"] == home["id"]
    assert profile["preferred_language"] == "de"
    assert profile["phone"] == "+491715550101"

    # Clearing an optional field sends null; the other fields stay as they are.
    page.get_by_label("Phone (optional)").fill("")
    page.get_by_role("button", name="Save profile").click()
    page.wait_for_selector("#profile-saved")
    page.wait_for_load_state("networkidle")
    cleared = shop.client.get("/api/v1/me/profile", headers=bearer(member["token"])).get_json()
    assert cleared["phone"] is None and cleared["birthday"] == "1988-07-14"

    # A fresh start shows what the server holds.
    page.reload()
    page.wait_for_selector("#profile-form")
    assert page.get_by_label("Name").input_value() == "Jana K."
    selected = page.get_by_label("Home store").locator("option:checked").inner_text()
    assert selected == home["name"]


def test_member_turns_marketing_on_and_the_consent_history_shows_it(shop: Shop, page: Any) -> None:
    member = _new_member(shop, "consent")
    member_signs_in(page, member["email"], PASSWORD)
    _open_profile(page)
    switch = page.get_by_role("switch", name="News about offers")
    assert not switch.is_checked()
    assert page.locator('[data-purpose="marketing"] .consent-since').inner_text() == (
        "Never switched on"
    )
    switch.check()
    page.wait_for_selector('[data-purpose="marketing"] .consent-since:text("Switched on")')
    assert page.get_by_role("switch", name="News about offers").is_checked()
    assert not page.get_by_role("switch", name="Surveys").is_checked()

    consents = shop.client.get("/api/v1/me/consents", headers=bearer(member["token"])).get_json()
    state = {item["purpose"]: item for item in consents["consents"]}
    assert state["marketing"]["granted"] is True
    history = [item for item in consents["history"] if item["purpose"] == "marketing"]
    assert len(history) == 1
    assert history[0]["granted"] is True and history[0]["source"] == "app"
    assert history[0]["wording_version"]

    # And off again: a second record, the switch follows.
    page.get_by_role("switch", name="News about offers").uncheck()
    page.wait_for_selector('[data-purpose="marketing"] .consent-since:text("Switched off")')
    consents = shop.client.get("/api/v1/me/consents", headers=bearer(member["token"])).get_json()
    marketing = [item["granted"] for item in consents["history"] if item["purpose"] == "marketing"]
    assert sorted(marketing) == [False, True]


def test_member_downloads_the_export_as_a_zip(shop: Shop, page: Any) -> None:
    member = _new_member(shop, "export")
    member_signs_in(page, member["email"], PASSWORD)
    _open_profile(page)
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download my data").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes()))
    assert "export.json" in archive.namelist()
    export = json.loads(archive.read("export.json"))
    assert export["format"] == "loyalty-wallet-export/1"
    assert member["email"] in json.dumps(export["data"]["member"])
    page.wait_for_selector("text=Your data was downloaded.")


def test_member_deletes_the_account_after_confirming_and_cannot_sign_in_again(
    shop: Shop, page: Any
) -> None:
    member = _new_member(shop, "delete")
    member_signs_in(page, member["email"], PASSWORD)
    _open_profile(page)
    page.get_by_role("button", name="Delete my account").click()
    dialog = page.get_by_role("dialog", name="Delete your account?")
    dialog.wait_for()
    # Changing one's mind closes the dialog and deletes nothing.
    dialog.get_by_role("button", name="Keep my account").click()
    dialog.wait_for(state="hidden")
    # A wrong password is refused and the account stays.
    page.get_by_role("button", name="Delete my account").click()
    dialog.get_by_label("Your password, to confirm").fill("not-my-password")
    dialog.get_by_role("button", name="Delete for good").click()
    dialog.get_by_role("alert").wait_for()
    assert shop.client.get("/api/v1/me", headers=bearer(member["token"])).status_code == 200

    dialog.get_by_label("Your password, to confirm").fill(PASSWORD)
    dialog.get_by_role("button", name="Delete for good").click()
    page.wait_for_url("**/#/login")
    page.locator("#field-email").wait_for()
    assert page.evaluate("Object.keys(localStorage).filter((k) => /member/.test(k))") == []
    refused = shop.client.post(
        "/api/v1/auth/login", json={"email": member["email"], "password": PASSWORD}
    )
    assert refused.status_code == 401, refused.get_json()
    # Through the app too: the sign-in form refuses.
    page.get_by_label("E-mail").fill(member["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).last.click()
    page.get_by_role("alert").wait_for()
    assert page.locator("#live-qr").count() == 0


def _language_page(browser: Any, live_server: str, language: str, **options: Any) -> Any:
    page = open_context_page(browser, live_server, locale=LOCALES[language], **options)
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


def _sign_in_by_ids(page: Any, email: str) -> None:
    page.goto("/#/login")
    page.locator("#field-email").fill(email)
    page.locator("#field-password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_selector("#live-qr[data-code]")


@pytest.mark.parametrize("language", ["en", "de"])
def test_axe_finds_no_serious_violation_on_the_profile(
    shop: Shop, browser: Any, live_server: str, language: str
) -> None:
    if not AXE_SCRIPT.exists():
        unavailable("accessibility check: axe-core is not installed (run `make install`)")
    member = _new_member(shop, f"axe-{language}")
    page = _language_page(browser, live_server, language, bypass_csp=True)
    try:
        _sign_in_by_ids(page, member["email"])
        _open_profile(page)
        page.add_script_tag(path=str(AXE_SCRIPT))
        assert page.evaluate(AXE_RUN) == [], "profile"
        page.locator("#delete-account").click()
        page.locator("#delete-dialog").wait_for()
        assert page.evaluate(AXE_RUN) == [], "delete dialog"
        assert not page.errors, page.errors
    finally:
        page.context.close()


def test_the_german_profile_shows_no_english(shop: Shop, browser: Any, live_server: str) -> None:
    member = _new_member(shop, "deutsch")
    stores = shop.client.get("/api/v1/me/stores", headers=bearer(member["token"])).get_json()
    shop_data = sorted(
        [member["name"], member["email"], *(store["name"] for store in stores)],
        key=len,
        reverse=True,
    )
    page = _language_page(browser, live_server, "de")
    try:
        _sign_in_by_ids(page, member["email"])
        _open_profile(page)
        assert page.locator("#view-title").inner_text() == "Mein Profil und meine Daten"
        assert english_leftovers(page.evaluate(SHOWN_TEXT), tuple(shop_data)) == []
        page.locator("#consent-surveys").check()
        page.wait_for_selector('[data-purpose="surveys"] .consent-since:text("Eingeschaltet")')
        page.locator("#delete-account").click()
        page.locator("#delete-dialog").wait_for()
        assert english_leftovers(page.evaluate(SHOWN_TEXT), tuple(shop_data)) == []
        page.keyboard.press("Escape")
        # The referrals view speaks German too (its code and link are data).
        page.goto("/#/referrals")
        page.wait_for_selector("#referral-code")
        referral = [page.locator(f"#referral-{part}").inner_text() for part in ("link", "code")]
        assert page.get_by_role("button", name="Meinen Link teilen").is_visible()
        shown = page.evaluate(SHOWN_TEXT)
        assert english_leftovers(shown, (*referral, *shop_data)) == []
        assert not page.errors, page.errors
    finally:
        page.context.close()
