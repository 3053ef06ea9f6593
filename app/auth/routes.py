"""Auth routes: register, login, refresh, logout, and opening a till session."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth import magic_links, service
from app.auth.schemas import (
    LoginSchema,
    MagicLinkRedeemSchema,
    MagicLinkRequestSchema,
    MagicLinkSessionSchema,
    RefreshSchema,
    RegisteredSchema,
    RegisterSchema,
    TillSessionRequestSchema,
    TillSessionSchema,
    TokenPairSchema,
)
from app.extensions import limiter
from app.fraud.verdict import screen_member_signup

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Accounts and logins")
till_blp = Blueprint(
    "till_sessions", __name__, url_prefix="/api/v1/till", description="Till sessions"
)


def _login_limit() -> str:
    from flask import current_app

    limit: str = current_app.config["LOGIN_RATE_LIMIT"]
    return limit


@blp.route("/register")
class Register(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.arguments(RegisterSchema)
    @blp.response(201, RegisteredSchema)
    @blp.alt_response(403, description="risk-denied")
    @blp.alt_response(409, description="email-taken")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Join the programme as a member."""
        screen_member_signup()
        member, pair = service.register_member(
            body["email"],
            body["password"],
            body["display_name"],
            referral_code=body["referral_code"],
            device_id=body["device_id"],
            consents=body["consents"],
        )
        return {
            "member_id": member.id,
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
        }


@blp.route("/login")
class Login(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="invalid-credentials")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log in as a member or a staff account."""
        pair = service.login(
            body["email"], body["password"], body["account"], device_id=body["device_id"]
        )
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "role": pair.identity.role,
        }


@blp.route("/magic-link")
class MagicLink(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.arguments(MagicLinkRequestSchema)
    @blp.response(202)
    def post(self, body: dict[str, Any]) -> None:
        """E-mail me a sign-in link (or a sign-up link if I have no account yet)."""
        signup = {
            name: body[name]
            for name in ("display_name", "referral_code", "device_id", "consents")
            if body[name] is not None
        }
        magic_links.request_magic_link(body["email"], signup)


@blp.route("/magic-link/session")
class MagicLinkSession(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.arguments(MagicLinkRedeemSchema)
    @blp.response(201, MagicLinkSessionSchema)
    @blp.alt_response(401, description="invalid-magic-link")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sign in with the token of an e-mailed link (it works once)."""
        pair, created = magic_links.redeem_magic_link(body["token"])
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "role": pair.identity.role,
            "created": created,
        }


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="invalid-refresh-token, refresh-token-reused")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Trade a refresh token for a new token pair (the old one stops working)."""
        pair = service.refresh(body["refresh_token"])
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "role": pair.identity.role,
        }


@blp.route("/logout")
class Logout(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(204)
    def post(self, body: dict[str, Any]) -> None:
        """End a login: its refresh tokens stop working."""
        service.logout(body["refresh_token"])


@till_blp.route("/sessions")
class TillSessions(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @till_blp.arguments(TillSessionRequestSchema)
    @till_blp.response(201, TillSessionSchema)
    @till_blp.alt_response(401, description="invalid-credentials, invalid-till-key")
    @till_blp.alt_response(403, description="forbidden, till-blocked")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a till session for a cashier or manager of the till's store."""
        service.note_till_login(body["till_key"], body["email"])
        pair = service.open_till_session(body["till_key"], body["email"], body["password"])
        identity = pair.identity
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "till_id": identity.till_id,
            "store_id": identity.store_id,
            "role": identity.role,
        }
