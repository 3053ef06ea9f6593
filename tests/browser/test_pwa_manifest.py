"""Installability: Chromium itself checks the manifest, the icons and the service worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE_VIEWPORT, member_signs_in
from tests.conftest import Shop

pytestmark = pytest.mark.browser


@pytest.fixture
def profile_page(browser: Any, live_server: str, tmp_path: Path) -> Iterator[Any]:
    """Return a page in a real (not off-the-record) Chromium profile.

    Chromium never offers to install from an incognito-like context, which is what Playwright's
    ``new_context`` makes; a persistent profile is what a phone's browser has.
    """
    playwright = browser.browser_type
    context = playwright.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        base_url=live_server,
        viewport=PHONE_VIEWPORT,
        service_workers="allow",
    )
    context.set_default_timeout(15_000)
    yield context.pages[0] if context.pages else context.new_page()
    context.close()


def test_chromium_finds_the_app_installable(shop: Shop, profile_page: Any) -> None:
    page = profile_page
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    registration = page.evaluate(
        "navigator.serviceWorker.ready.then(r => ({scope: r.scope, script: r.active.scriptURL}))"
    )
    assert registration["scope"] == page.url.split("#")[0]
    assert registration["script"].endswith("/sw.js")

    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest")
    assert not manifest["errors"], manifest["errors"]
    raw = json.loads(manifest["data"])
    assert raw["name"] == "Loyalty Wallet"
    assert raw["start_url"] == "/"
    assert raw["display"] == "standalone"
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == [], errors

    for icon in raw["icons"]:
        status = page.evaluate("url => fetch(url).then(r => r.status)", icon["src"])
        assert status == 200, icon["src"]
