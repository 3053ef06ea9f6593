"""Registration, login, refresh-token rotation, logout and token checks."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt
from flask import Flask
from flask.testing import FlaskClient

from app.auth.tokens import API_AUDIENCE
from app.db import utcnow
from tests.conftest import Shop, bearer


def register(client: FlaskClient, email: str = "new@example.com") -> dict:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": "correct horse battery", "display_name": "New Member"},
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_register_returns_tokens_that_open_the_member_view(client: FlaskClient) -> None:
    body = register(client)
    me = client.get("/api/v1/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    profile = me.get_json()
    assert {
        k: profile[k] for k in ("member_id", "email", "display_name", "points_balance", "tier")
    } == {
        "member_id": body["member_id"],
        "email": "new@example.com",
        "display_name": "New Member",
        "points_balance": 0,
        "tier": "base",
    }


def test_registering_the_same_email_twice_is_refused(client: FlaskClient) -> None:
    register(client, "Twice@Example.com")
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "twice@example.com ", "password": "another password", "display_name": "X"},
    )
    assert response.status_code in (409, 422)
    assert response.mimetype == "application/problem+json"


def test_login_reports_the_role(shop: Shop) -> None:
    assert shop.login(shop.members[0]["email"], shop.members[0]["password"])["role"] == "member"
    for role in ("cashier", "manager", "admin"):
        account = shop.logins[role]
        assert shop.login(account["email"], account["password"])["role"] == role


def test_wrong_password_and_unknown_email_get_the_same_refusal(shop: Shop) -> None:
    wrong = shop.client.post(
        "/api/v1/auth/login", json={"email": "ada@demo.shop", "password": "nope"}
    )
    unknown = shop.client.post("/api/v1/auth/login", json={"email": "who@x.y", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["type"] == unknown.get_json()["type"] == "invalid-credentials"


def test_refresh_rotates_and_reusing_an_old_token_ends_the_whole_login(shop: Shop) -> None:
    first = shop.login("ada@demo.shop", "demo-member-2026")
    second = shop.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert second.status_code == 200
    second_pair = second.get_json()
    assert second_pair["refresh_token"] != first["refresh_token"]

    reuse = shop.client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.get_json()["type"] == "refresh-token-reused"

    # The thief's reuse also killed the legitimate holder's newer token.
    after = shop.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second_pair["refresh_token"]}
    )
    assert after.status_code == 401
    assert after.get_json()["type"] == "invalid-refresh-token"


def test_logout_ends_the_login(shop: Shop) -> None:
    pair = shop.login("ada@demo.shop", "demo-member-2026")
    assert (
        shop.client.post(
            "/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]}
        ).status_code
        == 204
    )
    again = shop.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert again.status_code == 401


def _forge(
    app: Flask, claims_update: dict, *, header: dict | None = None, key: bytes | None = None
) -> str:
    with app.app_context():
        token_key = app.extensions["lw_secrets"].token_keys()[0]
        now = utcnow()
        claims = {
            "iss": app.config["TOKEN_ISSUER"],
            "aud": API_AUDIENCE,
            "sub": "1",
            "kind": "member",
            "role": "member",
            "iat": now,
            "exp": now + timedelta(minutes=5),
        }
        claims.update(claims_update)
        return jwt.encode(
            claims,
            key or token_key.secret,
            algorithm="HS256",
            headers=header or {"kid": token_key.kid},
        )


def test_expired_token_is_refused(app: Flask, shop: Shop) -> None:
    token = _forge(app, {"exp": utcnow() - timedelta(seconds=1)})
    response = shop.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["type"] == "token-expired"


def test_token_signed_with_another_key_is_refused(app: Flask, shop: Shop) -> None:
    token = _forge(app, {}, key=b"x" * 32)
    response = shop.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["type"] == "invalid-token"


def test_alg_none_token_is_refused(app: Flask, shop: Shop) -> None:
    with app.app_context():
        kid = app.extensions["lw_secrets"].token_keys()[0].kid

    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    now = int(utcnow().timestamp())
    token = (
        part({"alg": "none", "typ": "JWT", "kid": kid})
        + "."
        + part(
            {
                "iss": app.config["TOKEN_ISSUER"],
                "aud": API_AUDIENCE,
                "sub": "1",
                "kind": "member",
                "role": "member",
                "iat": now,
                "exp": now + 300,
            }
        )
        + "."
    )
    response = shop.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["type"] == "invalid-token"


def test_tampered_payload_is_refused(shop: Shop) -> None:
    token = shop.login_member()
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(int(claims["sub"]) + 1)
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    response = shop.client.get("/api/v1/me", headers=bearer(f"{header}.{forged}.{signature}"))
    assert response.status_code == 401


def test_access_tokens_live_at_most_fifteen_minutes_and_name_their_key(
    app: Flask, shop: Shop
) -> None:
    token = shop.login_member()
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "HS256" and header["kid"]
    assert 0 < claims["exp"] - claims["iat"] <= 900


def test_missing_token_gets_401_problem(client: FlaskClient) -> None:
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "authentication-required"


def test_rotated_token_key_keeps_old_tokens_valid_and_signs_with_the_new_key(
    app: Flask, shop: Shop
) -> None:
    old_token = shop.login_member()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "rotate-token-key"])
    assert result.exit_code == 0, result.output
    new_token = shop.login_member()
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    assert shop.client.get("/api/v1/me", headers=bearer(old_token)).status_code == 200
    assert shop.client.get("/api/v1/me", headers=bearer(new_token)).status_code == 200


def test_registration_issues_exactly_one_active_card(app: Flask, client: FlaskClient) -> None:
    from sqlalchemy import func, select

    from app.cards.models import Card
    from app.extensions import db

    body = register(client, "card@example.com")
    card = client.get("/api/v1/me/card", headers=bearer(body["access_token"]))
    assert card.status_code == 200
    with app.app_context():
        active = db.session.scalar(
            select(func.count()).where(
                Card.member_id == body["member_id"], Card.revoked_at.is_(None)
            )
        )
    assert active == 1


def test_a_token_used_before_is_refused_once_it_has_expired(app: Flask, shop: Shop) -> None:
    """Verified tokens are remembered per process; their expiry is still checked on each use."""
    expires = int(time.time()) + 2
    token = _forge(app, {"exp": expires, "sub": str(shop.member_id())})
    assert shop.client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    time.sleep(max(expires - time.time(), 0) + 0.1)
    response = shop.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["type"] == "token-expired"


def test_a_token_used_before_is_refused_once_its_key_was_dropped(app: Flask, shop: Shop) -> None:
    token = shop.login_member()
    assert shop.client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    with app.app_context():  # a new key, and only the new key kept
        app.extensions["lw_secrets"].rotate_token_key(keep=1)
    response = shop.client.get("/api/v1/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.get_json()["type"] == "invalid-token"
