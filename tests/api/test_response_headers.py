"""Response headers: no caching of secrets, no sniffing, a CSP for the docs, compressed files."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from flask.testing import FlaskClient

from app.pwa_routes import PWA_DIRECTORY
from tests.conftest import Shop, bearer


def test_token_answers_and_the_card_are_never_stored_by_caches(shop: Shop) -> None:
    member = shop.members[0]
    login = shop.client.post(
        "/api/v1/auth/login", json={"email": member["email"], "password": member["password"]}
    )
    assert login.status_code == 200
    assert login.headers["Cache-Control"] == "no-store"
    refresh = shop.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": login.get_json()["refresh_token"]}
    )
    assert refresh.status_code == 200
    assert refresh.headers["Cache-Control"] == "no-store"
    account = shop.logins["cashier"]
    session = shop.client.post(
        "/api/v1/till/sessions",
        json={
            "till_key": shop.tills[0]["till_key"],
            "email": account["email"],
            "password": account["password"],
        },
    )
    assert session.status_code == 201
    assert session.headers["Cache-Control"] == "no-store"
    card = shop.client.get("/api/v1/me/card", headers=bearer(login.get_json()["access_token"]))
    assert card.status_code == 200
    assert card.headers["Cache-Control"] == "no-store"
    # Errors too: a 401 says nothing worth keeping.
    assert shop.client.get("/api/v1/me/card").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "path", ["/", "/pwa/js/app.js", "/api/openapi.json", "/api/docs", "/api/v1/me", "/nope"]
)
def test_every_answer_says_nosniff(client: FlaskClient, path: str) -> None:
    assert client.get(path).headers["X-Content-Type-Options"] == "nosniff"


def test_the_docs_page_loads_swagger_ui_from_this_origin_under_a_csp(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html, "no CDN"
    assert "<script>" not in html, "no inline script (the CSP would block it)"
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.get_data()) > 0
    bundle = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.mimetype == "text/javascript"
    assert b"SwaggerUIBundle" in bundle.get_data()
    assert client.get("/api/docs/assets/index.html").status_code == 404


@pytest.mark.parametrize(
    ("encoding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)]
)
def test_pwa_text_files_are_served_compressed(
    client: FlaskClient, encoding: str, decode: object
) -> None:
    original = (PWA_DIRECTORY / "js" / "app.js").read_bytes()
    response = client.get("/pwa/js/app.js", headers={"Accept-Encoding": encoding})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    assert len(body) < len(original)
    assert decode(body) == original  # type: ignore[operator]
    # Revalidation works with the compressed answer's own ETag.
    again = client.get(
        "/pwa/js/app.js",
        headers={"Accept-Encoding": encoding, "If-None-Match": response.headers["ETag"]},
    )
    assert again.status_code == 304


def test_uncompressed_answers_say_they_vary_by_encoding_too(client: FlaskClient) -> None:
    original = (PWA_DIRECTORY / "index.html").read_bytes()
    response = client.get("/", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.get_data() == original
    again = client.get("/", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_api_answers_are_not_compressed(shop: Shop) -> None:
    """Answers that mix secrets with what the caller sent stay uncompressed (BREACH)."""
    response = shop.client.get(
        "/api/v1/me/card", headers={**bearer(shop.login_member()), "Accept-Encoding": "gzip, br"}
    )
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
