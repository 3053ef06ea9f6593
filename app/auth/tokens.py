"""Access tokens: short-lived JWTs with a pinned algorithm.

Tokens are HS256 JWTs signed with the newest key of the instance's token-key list; the header
names the key (``kid``) and decoding accepts only HS256, only known kids, and checks ``iss``,
``aud`` and ``exp``. Two audiences keep the two kinds of session apart: ``lw-api`` for members
and staff in the app, ``lw-till`` for a cashier on one till. A till token carries the till and
the store it was opened on, and works only on till routes. Lifetime is at most 15 minutes;
refresh tokens (``app.auth.service``) renew them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from flask import current_app

from app.db import utcnow
from app.errors import Problem
from app.instance_secrets import TokenKey
from app.memory import BoundedMemory

ALGORITHM = "HS256"
API_AUDIENCE = "lw-api"
TILL_AUDIENCE = "lw-till"


@dataclass(frozen=True)
class Identity:
    """Who is calling: a member, a staff account, or a staff account on a till."""

    kind: str  # "member" | "staff" | "till"
    subject_id: int
    role: str  # "member" or a staff role
    till_id: int | None = None
    store_id: int | None = None


def issue_access_token(identity: Identity) -> str:
    """Sign a short-lived access token for an identity."""
    key = current_app.extensions["lw_secrets"].token_keys()[0]
    now = utcnow()
    claims: dict[str, object] = {
        "iss": current_app.config["TOKEN_ISSUER"],
        "aud": TILL_AUDIENCE if identity.kind == "till" else API_AUDIENCE,
        "sub": str(identity.subject_id),
        "kind": identity.kind,
        "role": identity.role,
        "iat": now,
        "exp": now + timedelta(seconds=current_app.config["ACCESS_TOKEN_SECONDS"]),
        "jti": uuid.uuid4().hex,
    }
    if identity.till_id is not None:
        claims["till_id"] = identity.till_id
        claims["store_id"] = identity.store_id
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


# Tokens verified lately, per process: a till sends the same token with every request for up
# to 15 minutes, and verifying it again (parse, HMAC, claims) costs more than the rest of a
# small request. Keyed by the exact token and audience; an entry holds the identity, the
# expiry (checked on every use) and the key ring it was verified with (a rotated or removed
# key ring invalidates it). Only tokens that passed every check are kept.
_VERIFIED: BoundedMemory[tuple[str, str], tuple[Identity, float, object]] = BoundedMemory(4096)


def decode_access_token(token: str, audience: str) -> Identity:
    """Verify a token for one audience and return who it names, or raise a 401 problem."""
    ring = current_app.extensions["lw_secrets"].token_keys()
    known = _VERIFIED.get((token, audience))
    if known is not None and known[2] is ring and known[1] > time.time():
        return known[0]
    identity, expires = _verify(token, audience, ring)
    _VERIFIED.remember((token, audience), (identity, expires, ring))
    return identity


def _verify(token: str, audience: str, ring: tuple[TokenKey, ...]) -> tuple[Identity, float]:
    """Check a token's signature and claims; return its identity and expiry (POSIX time)."""
    keys = {key.kid: key for key in ring}
    try:
        header = jwt.get_unverified_header(token)
        key = keys.get(header.get("kid", ""))
        if key is None:
            raise jwt.InvalidTokenError("unknown key id")
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=current_app.config["TOKEN_ISSUER"],
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Problem(
            "token-expired",
            401,
            "Token expired",
            "The access token has expired; refresh it.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    except jwt.InvalidAudienceError as exc:
        raise Problem(
            "wrong-token-kind",
            401,
            "Wrong kind of token",
            "This route does not accept this kind of token (till tokens work only on till routes).",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    except jwt.InvalidTokenError as exc:
        raise Problem(
            "invalid-token",
            401,
            "Invalid token",
            "The access token is not valid.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    identity = Identity(
        kind=str(claims["kind"]),
        subject_id=int(claims["sub"]),
        role=str(claims["role"]),
        till_id=claims.get("till_id"),
        store_id=claims.get("store_id"),
    )
    return identity, float(claims["exp"])
