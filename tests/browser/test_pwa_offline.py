"""Offline: the service worker keeps the shell and the card, and never the API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOT_DIRECTORY, decode_qr, member_signs_in
from tests.conftest import Shop

pytestmark = pytest.mark.browser

# ``ready`` resolves once a worker is active, which may still be "activating" on a busy
# machine: wait (at most ten seconds) for "activated" before reporting the state.
WORKER_READY = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const worker = registration.active;
  if (worker && worker.state !== "activated") {
    await Promise.race([
      new Promise((resolve) => worker.addEventListener("statechange", () => {
        if (worker.state === "activated") resolve();
      })),
      new Promise((resolve) => setTimeout(resolve, 10000)),
    ]);
  }
  return {scope: registration.scope, state: worker && worker.state};
}"""

CACHED_URLS = """async () => {
  const urls = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) urls.push(new URL(request.url).pathname);
  }
  return urls;
}"""


def _install(page: Any, shop: Shop) -> None:
    """Sign Ada in and wait until the service worker is active and controls the page."""
    ada = shop.members[0]
    member_signs_in(page, ada["email"], ada["password"])
    ready = page.evaluate(WORKER_READY)
    assert ready["state"] == "activated"
    assert ready["scope"].endswith("/")
    # wait_for_function would eval() in the page, which the app's CSP forbids: poll instead.
    for _ in range(100):
        if page.evaluate("navigator.serviceWorker.controller !== null"):
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the service worker never took control of the page")
    page.wait_for_selector("#points-strip .points-value")


def test_card_still_renders_a_valid_live_code_offline_after_a_reload(
    shop: Shop, installed_page: Any
) -> None:
    page = installed_page
    _install(page, shop)
    page.context.set_offline(True)
    page.reload()

    page.wait_for_selector("#live-qr[data-code]")
    assert page.locator("#offline-banner").is_visible()
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-card-offline.png"))
    codes = decode_qr(page.locator("#live-qr").screenshot())
    assert len(codes) == 1
    # The code computed offline is one the server accepts now (current step or a neighbour).
    from datetime import timedelta

    from app.db import utcnow

    now = utcnow()
    expected = {shop.rotating_code(0, now + timedelta(seconds=s)) for s in (-30, 0, 30)}
    assert codes[0] in expected


def test_api_answers_are_never_taken_from_the_cache(shop: Shop, installed_page: Any) -> None:
    page = installed_page
    _install(page, shop)
    page.locator("#member-nav").get_by_role("link", name="Points").click()
    page.wait_for_selector("#points-balance")

    cached = page.evaluate(CACHED_URLS)
    assert "/" in cached and "/pwa/js/qr.js" in cached
    assert not [url for url in cached if url.startswith("/api/")]

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector(".offline-notice")
    assert "You're offline" in page.locator("#points-summary").inner_text()
    assert page.locator("#points-balance").count() == 0, "no stale balance is shown"
    page.locator("#member-nav").get_by_role("link", name="Card").click()
    page.wait_for_selector("#points-strip.is-offline")
    assert "offline" in page.locator("#points-strip").inner_text()
    page.screenshot(path=str(SCREENSHOT_DIRECTORY / "pwa-points-offline.png"))


NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, url: n.data && n.data.url }));
}"""


def test_push_message_becomes_a_notification_that_opens_only_this_app(
    shop: Shop, installed_page: Any, live_server: str
) -> None:
    page = installed_page
    page.context.grant_permissions(["notifications"], origin=live_server)
    _install(page, shop)
    cdp = page.context.new_cdp_session(page)
    registrations: list[str] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(r["registrationId"] for r in event["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        if registrations:
            break
        page.wait_for_timeout(100)
    assert registrations

    message = '{"title": "Double points", "body": "This weekend only", "url": "https://evil.test/"}'
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": live_server, "registrationId": registrations[0], "data": message},
    )
    shown: list[dict[str, Any]] = []
    for _ in range(50):
        shown = page.evaluate(NOTIFICATIONS)
        if shown:
            break
        page.wait_for_timeout(100)

    assert shown == [
        {"title": "Double points", "body": "This weekend only", "url": f"{live_server}/#/card"}
    ]
