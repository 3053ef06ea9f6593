"""Sign-in (and sign-up) by a link sent by e-mail.

``request_magic_link(email)`` always answers the same way, whether or not the e-mail has an
account, so the route cannot be used to find out who is a member. For a known member it sends a
sign-in link; for an unknown e-mail, a sign-up link that creates the account when it is used
(the sign-up details wait in the token's row, not in an account nobody confirmed).

The token is 32 random bytes, sent only in the e-mail and stored only as its SHA-256, so a
database dump cannot sign anyone in. It lives ``MAGIC_LINK_MINUTES`` (default 15) and is used
up by one conditional ``UPDATE ... WHERE used_at IS NULL AND expires_at > now``: of two clicks
on the same link, exactly one signs in. The retention job deletes used and expired rows.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from app.accounts.models import Member
from app.auth.models import MagicLinkToken
from app.auth.service import (
    TokenPair,
    login_member,
    normalise_email,
    register_member,
    sha256_hex,
)
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.fraud.verdict import screen_member_signup
from app.mail import EmailMessage, send_email

MAGIC_PREFIX = "lwm_"
DEFAULT_MINUTES = 15


def _lifetime() -> timedelta:
    return timedelta(minutes=int(current_app.config.get("MAGIC_LINK_MINUTES", DEFAULT_MINUTES)))


def magic_link_url(token: str) -> str:
    """Return the PWA address that signs in with ``token``."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/#/magic/{token}"


def request_magic_link(email: str, signup: dict[str, Any] | None = None) -> None:
    """Send a sign-in link to a member, or a sign-up link to an e-mail without an account."""
    email = normalise_email(email)
    member_id = db.session.scalar(select(Member.id).where(Member.email == email))
    token = MAGIC_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        MagicLinkToken(
            token_hash=sha256_hex(token),
            member_id=member_id,
            signup=None if member_id is not None else {**(signup or {}), "email": email},
            expires_at=utcnow() + _lifetime(),
        )
    )
    db.session.flush()
    minutes = int(_lifetime().total_seconds() // 60)
    action = "sign in" if member_id is not None else "finish joining"
    send_email(
        EmailMessage(
            to=email,
            subject="Your sign-in link" if member_id is not None else "Join the programme",
            text=(
                f"Open this link within {minutes} minutes to {action}:\n\n"
                f"{magic_link_url(token)}\n\n"
                "It works once. If you did not ask for it, ignore this message."
            ),
        )
    )


def _invalid_link() -> DomainError:
    return DomainError(
        "invalid-magic-link", "This link is unknown, used or expired. Ask for a new one."
    )


def redeem_magic_link(token: str) -> tuple[TokenPair, bool]:
    """Use up a sign-in link and log in (creating the account for a sign-up link).

    Returns the token pair and whether an account was created.
    """
    now = utcnow()
    used = db.session.execute(
        update(MagicLinkToken)
        .where(
            MagicLinkToken.token_hash == sha256_hex(token),
            MagicLinkToken.used_at.is_(None),
            MagicLinkToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(MagicLinkToken.member_id, MagicLinkToken.signup)
    ).first()
    if used is None:
        raise _invalid_link()
    member_id, signup = used
    if member_id is not None:
        member = db.session.get(Member, member_id)
        if member is None or member.blocked:
            raise _invalid_link()
        return login_member(member), False
    details = dict(signup or {})
    email = str(details.pop("email"))
    existing = db.session.scalar(select(Member).where(Member.email == email))
    if existing is not None:  # joined another way since the link was sent
        return login_member(existing), False
    screen_member_signup()  # the same sign-up rules as the password form
    _member, pair = register_member(
        email,
        # No password: the member signs in by link until they choose one.
        secrets.token_urlsafe(32),
        details.get("display_name") or email.partition("@")[0],
        referral_code=details.get("referral_code"),
        device_id=details.get("device_id"),
        consents=details.get("consents"),
    )
    return pair, True


def confirm_with_magic_link(member_id: int, token: str) -> None:
    """Use up a sign-in link of this member as proof of the e-mail (instead of a password).

    Members who joined by link have no password they know; a fresh link confirms a step as
    grave as deleting the account.
    """
    used = db.session.execute(
        update(MagicLinkToken)
        .where(
            MagicLinkToken.token_hash == sha256_hex(token),
            MagicLinkToken.member_id == member_id,
            MagicLinkToken.used_at.is_(None),
            MagicLinkToken.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
        .returning(MagicLinkToken.id)
    ).first()
    if used is None:
        raise _invalid_link()
