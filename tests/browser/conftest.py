"""Browser suite: the PWA in headless Chromium against a real server.

Each test module gets the app on a fresh copy of a migrated SQLite database that already holds
the demo shop (seeded once per session: building and seeding per test would cost more than the
test; the browser tests are about the web app, the API suite covers PostgreSQL). The app is
served by werkzeug in a background thread, so the browser talks HTTP to a real server: service
workers, ``fetch`` and offline emulation behave as they do in production. One Chromium runs for the
whole session; each test gets its own browser context (fresh storage, caches and service
workers) with a 390 x 844 phone viewport. ``page`` blocks service workers (fewer requests,
and request interception sees every call); ``installed_page`` lets the worker install.

Chromium is Debian's ``/usr/bin/chromium`` (``LW_CHROMIUM`` overrides the path). Without it
the suite skips locally and fails in CI, like every other suite whose service is missing.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from app.extensions import db
from tests.conftest import base_config, unavailable

CHROMIUM = Path(os.environ.get("LW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 390, "height": 844}
TABLET_VIEWPORT = {"width": 1180, "height": 820}
PWA_FOLDER = Path(__file__).resolve().parents[2] / "pwa"
AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOT_DIRECTORY = Path(os.environ.get("LW_SCREENSHOTS", "/tmp"))


@pytest.fixture(scope="session")
def seeded_template(
    sqlite_template: Path, instance_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Return a migrated SQLite database file holding the demo shop, for tests to copy."""
    from app.demo import seed_demo

    path = tmp_path_factory.mktemp("browser-template") / "seeded.db"
    shutil.copy(sqlite_template, path)
    template_app = create_app(base_config(instance_path, f"sqlite:///{path}"))
    with template_app.app_context():
        seed_demo()
        db.session.commit()
        db.engine.dispose()
    return path


@pytest.fixture(scope="module")
def app(
    seeded_template: Path, tmp_path_factory: pytest.TempPathFactory, instance_path: Path
) -> Iterator[Flask]:
    """Return an app on a fresh copy of the seeded SQLite database, one per test module.

    Building the app costs more than most browser tests, so the tests of a module share it
    (and its server); they assert on the changes they make, never on absolute counts.
    """
    database = tmp_path_factory.mktemp("browser") / "browser.db"
    shutil.copy(seeded_template, database)
    # Request logs would be most of the server's work here; the API suites test logging.
    config = {**base_config(instance_path, f"sqlite:///{database}"), "LOG_LEVEL": "WARNING"}
    flask_app = create_app(config)
    yield flask_app
    with flask_app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Return a headless Chromium shared by the session."""
    if not CHROMIUM.exists():
        unavailable(f"browser suite: no Chromium at {CHROMIUM} (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class QuietKeepAliveHandler(WSGIRequestHandler):
    """Serve HTTP/1.1 with keep-alive (as production servers do) and log nothing."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log nothing: the browser suite makes hundreds of requests."""


@pytest.fixture(scope="module")
def live_server(app: Flask) -> Iterator[str]:
    """Serve the app over HTTP on a free port and return its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietKeepAliveHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def catalogue(language: str, area: str) -> dict[str, str]:
    """Return the strings of a PWA catalogue (``pwa/locales/<language>/<area>.js``)."""
    text = (PWA_FOLDER / "locales" / language / f"{area}.js").read_text(encoding="utf-8")
    return dict(re.findall(r'^\s*"([^"]+)":\s*"((?:[^"\\]|\\.)*)",\s*$', text, re.MULTILINE))


def open_context_page(browser: Any, base_url: str, **options: Any) -> Any:
    """Return a page in a new browser context (closed with the context by the caller)."""
    settings = {"viewport": PHONE_VIEWPORT, "service_workers": "block", **options}
    browser_context = browser.new_context(base_url=base_url, **settings)
    browser_context.set_default_timeout(15_000)
    return browser_context.new_page()


def _open_page(browser: Any, base_url: str, service_workers: str) -> Iterator[Any]:
    browser_context = browser.new_context(
        base_url=base_url, viewport=PHONE_VIEWPORT, service_workers=service_workers
    )
    browser_context.set_default_timeout(15_000)
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    browser_context.close()
    assert not errors, errors


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    """Return a phone-sized page without service workers; script errors fail the test."""
    yield from _open_page(browser, live_server, "block")


@pytest.fixture
def installed_page(browser: Any, live_server: str) -> Iterator[Any]:
    """Return a phone-sized page whose service worker may install."""
    yield from _open_page(browser, live_server, "allow")


def decode_qr(png: bytes) -> list[str]:
    """Return the texts of every QR code zxing-cpp finds in a PNG image."""
    import zxingcpp
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return [result.text for result in zxingcpp.read_barcodes(image)]


def has_route(app: Flask, path: str) -> bool:
    """Return whether the app serves a URL rule (features land at different times)."""
    return any(rule.rule == path for rule in app.url_map.iter_rules())


def member_signs_in(page: Any, email: str, password: str) -> None:
    """Sign a member in through the login view and wait for the live card."""
    page.goto("/#/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).last.click()
    page.wait_for_selector("#live-qr[data-code]")


def cashier_opens_till(page: Any, till_key: str, email: str, password: str) -> None:
    """Open a till session through the till view."""
    page.goto("/#/till")
    page.get_by_label("Till key").fill(till_key)
    page.get_by_label("Cashier e-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Open till").click()
    page.wait_for_selector("#scan-code")
