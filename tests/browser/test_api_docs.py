"""The API docs render in Chromium from the app's own files, with no network beyond the app."""

from __future__ import annotations

from typing import Any


def test_swagger_ui_renders_offline_under_its_csp(page: Any, live_server: str) -> None:
    outside: list[str] = []
    refused: list[str] = []

    def only_the_app(route: Any) -> None:
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_app)
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Refused" in message.text else None,
    )
    page.goto("/api/docs")
    title = page.locator(".swagger-ui .info .title")
    title.wait_for()
    assert "Loyalty Wallet API" in title.inner_text()
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 30
    assert outside == [], "the docs page reached outside the app"
    assert refused == [], "the Content-Security-Policy blocked part of the page"
