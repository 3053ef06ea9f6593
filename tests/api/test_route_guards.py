"""Every API route checks who is calling: without a token, only the public ones answer."""

from __future__ import annotations

import re

from flask import Flask

PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/magic-link"),
    ("POST", "/api/v1/auth/magic-link/session"),
    ("POST", "/api/v1/till/sessions"),
    ("GET", "/api/v1/push/vapid-public-key"),
    ("GET", "/api/v1/branding"),
    ("GET", "/api/v1/branding/logo"),
}


def _concrete(rule: str) -> str:
    """Fill a URL rule's variables with plausible values."""
    rule = re.sub(r"<uuid:[^>]+>", "00000000-0000-4000-8000-000000000000", rule)
    rule = re.sub(r"<any\(([a-z]+)[^>]*\):[^>]+>", r"\1", rule)
    return re.sub(r"<[^>]+>", "1", rule)


def test_every_api_route_but_the_public_ones_refuses_an_anonymous_caller(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if (method, rule.rule) in PUBLIC_ROUTES:
                continue
            response = client.open(_concrete(rule.rule), method=method, json={})
            assert response.status_code == 401, (method, rule.rule, response.status_code)
            assert response.mimetype == "application/problem+json"
            assert response.get_json()["type"] == "authentication-required"
            checked += 1
    assert checked > 60


def test_a_forged_token_opens_no_route(app: Flask) -> None:
    client = app.test_client()
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or "GET" not in (rule.methods or set()):
            continue
        if ("GET", rule.rule) in PUBLIC_ROUTES or rule.rule == "/api/v1/rewards":
            continue
        response = client.get(_concrete(rule.rule), headers=forged)
        assert response.status_code == 401, (rule.rule, response.status_code)
