"""Logins, refresh-token rotation and till sessions.

Services take the request's session, ``flush()`` and never ``commit()``: the request owns the
transaction (``app.transactions``). Using a refresh token is one conditional ``UPDATE``
(``used_at IS NULL``), so two concurrent refreshes with the same token cannot both win; the
loser is treated as a reuse and revokes the family.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import Member, StaffAccount, StaffRole
from app.auth.models import RefreshToken
from app.auth.passwords import hash_password, password_matches
from app.auth.tokens import Identity, issue_access_token
from app.cards.service import issue_card
from app.db import utcnow
from app.errors import DomainError
from app.events import DomainEvent, publish
from app.extensions import db
from app.fraud.attempts import note_attempt
from app.stores.models import Till

REFRESH_PREFIX = "lwr_"


@dataclass(frozen=True)
class TokenPair:
    """An access token with the refresh token that renews it."""

    access_token: str
    refresh_token: str
    identity: Identity


def sha256_hex(text: str) -> str:
    """Return the SHA-256 of a text as hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """Lower-case and trim an e-mail address."""
    return email.strip().lower()


def _email_taken() -> DomainError:
    return DomainError("email-taken", "An account with this e-mail exists.")


def _invalid_credentials() -> DomainError:
    return DomainError("invalid-credentials", "E-mail or password is wrong.")


def _start_refresh_token(identity: Identity, family_id: str | None = None) -> str:
    token = REFRESH_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        RefreshToken(
            family_id=family_id or secrets.token_hex(16),
            token_hash=sha256_hex(token),
            subject_kind=identity.kind,
            subject_id=identity.subject_id,
            till_id=identity.till_id,
            expires_at=utcnow() + timedelta(days=current_app.config["REFRESH_TOKEN_DAYS"]),
        )
    )
    db.session.flush()
    return token


def _token_pair(identity: Identity, family_id: str | None = None) -> TokenPair:
    return TokenPair(
        issue_access_token(identity), _start_refresh_token(identity, family_id), identity
    )


def device_hash(device_id: str | None) -> str | None:
    """Return the form of an app's device id that leaves the auth package (its SHA-256)."""
    return sha256_hex(device_id) if device_id else None


def register_member(
    email: str,
    password: str,
    display_name: str,
    *,
    referral_code: str | None = None,
    device_id: str | None = None,
    consents: dict[str, bool] | None = None,
) -> tuple[Member, TokenPair]:
    """Create a member account and log it in.

    Announces ``member.signed_up`` with what the sign-up brought along (a referral code, the
    consents ticked, a hash of the device id), for the referral and consent packages. Events
    may travel on (the outbox, webhooks), so they carry no raw device id and no address.
    """
    email = normalise_email(email)
    if db.session.scalar(select(Member.id).where(Member.email == email)) is not None:
        raise _email_taken()
    member = Member(
        email=email, display_name=display_name.strip(), password_hash=hash_password(password)
    )
    try:
        # A concurrent sign-up with the same e-mail loses here, on the unique index.
        with db.session.begin_nested():
            db.session.add(member)
    except IntegrityError:
        raise _email_taken() from None
    issue_card(member.id)
    publish(
        DomainEvent(
            "member.signed_up",
            {
                "referral_code": referral_code,
                "device_hash": device_hash(device_id),
                "consents": dict(consents or {}),
            },
            member_id=member.id,
        )
    )
    return member, login_member(member, device_id=device_id, announce=False)


def login_member(
    member: Member, *, device_id: str | None = None, announce: bool = True
) -> TokenPair:
    """Start a login of a member (``member.logged_in`` tells who signed in from where)."""
    if announce:
        publish(
            DomainEvent(
                "member.logged_in",
                {"device_hash": device_hash(device_id)},
                member_id=member.id,
            )
        )
    return _token_pair(Identity("member", member.id, "member"))


def login(
    email: str, password: str, account: str | None = None, *, device_id: str | None = None
) -> TokenPair:
    """Check credentials of a member or staff account and start a login."""
    email = normalise_email(email)
    member = (
        None
        if account == "staff"
        else db.session.scalar(select(Member).where(Member.email == email))
    )
    if member is not None:
        if not password_matches(member.password_hash, password):
            raise _invalid_credentials()
        return login_member(member, device_id=device_id)
    staff = (
        None
        if account == "member"
        else db.session.scalar(
            select(StaffAccount).where(StaffAccount.email == email, StaffAccount.active.is_(True))
        )
    )
    if not password_matches(staff.password_hash if staff else None, password) or staff is None:
        raise _invalid_credentials()
    return _token_pair(Identity("staff", staff.id, staff.role))


def refresh(refresh_token: str) -> TokenPair:
    """Use up a refresh token and hand out the next pair in its family."""
    token_hash = sha256_hex(refresh_token)
    now = utcnow()
    used = db.session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(
            RefreshToken.family_id,
            RefreshToken.subject_kind,
            RefreshToken.subject_id,
            RefreshToken.till_id,
        )
    ).first()
    if used is None:
        stored = db.session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        if stored is not None and stored.used_at is not None and stored.revoked_at is None:
            revoke_family(stored.family_id)
            # The revocation must survive the error answer, so it commits on its own.
            db.session.commit()
            raise DomainError(
                "refresh-token-reused",
                "This refresh token was already used; the login has been ended everywhere.",
            )
        raise DomainError("invalid-refresh-token", "Log in again.")
    identity = _identity_for(used.subject_kind, used.subject_id, used.till_id)
    return _token_pair(identity, used.family_id)


def _identity_for(kind: str, subject_id: int, till_id: int | None) -> Identity:
    if kind == "member":
        return Identity("member", subject_id, "member")
    staff = db.session.get(StaffAccount, subject_id)
    if staff is None or not staff.active:
        raise DomainError("invalid-refresh-token", "Log in again.")
    if kind == "till" and till_id is not None:
        till = db.session.get(Till, till_id)
        if till is None or till.blocked or not staff.works_in(till.store_id):
            raise DomainError("till-blocked", "This till may not be used.")
        return Identity("till", staff.id, staff.role, till.id, till.store_id)
    return Identity("staff", staff.id, staff.role)


def revoke_family(family_id: str) -> None:
    """End a login: every refresh token of its family stops working."""
    db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def logout(refresh_token: str) -> None:
    """End the login a refresh token belongs to; unknown tokens are ignored."""
    stored = db.session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(refresh_token))
    )
    if stored is not None:
        revoke_family(stored.family_id)


def note_till_login(till_key: str, email: str) -> None:
    """Start recording a till login, with the till and staff account it names (if they exist)."""
    till = db.session.execute(
        select(Till.id, Till.store_id).where(Till.key_hash == sha256_hex(till_key))
    ).first()
    staff_id = db.session.scalar(
        select(StaffAccount.id).where(StaffAccount.email == normalise_email(email))
    )
    note_attempt(
        "till-login",
        till_id=till.id if till else None,
        store_id=till.store_id if till else None,
        staff_id=staff_id,
    )


def open_till_session(till_key: str, email: str, password: str) -> TokenPair:
    """Log a cashier or manager in on one till."""
    till = db.session.scalar(select(Till).where(Till.key_hash == sha256_hex(till_key)))
    staff = db.session.scalar(
        select(StaffAccount).where(
            StaffAccount.email == normalise_email(email), StaffAccount.active.is_(True)
        )
    )
    if not password_matches(staff.password_hash if staff else None, password) or staff is None:
        raise _invalid_credentials()
    if till is None:
        raise DomainError("invalid-till-key", "This till is not registered.")
    if till.blocked:
        raise DomainError("till-blocked", "This till has been blocked by staff.")
    if staff.role not in (StaffRole.CASHIER, StaffRole.MANAGER) or not staff.works_in(
        till.store_id
    ):
        raise DomainError(
            "forbidden", "Only cashiers and managers of this store may open this till."
        )
    return _token_pair(Identity("till", staff.id, staff.role, till.id, till.store_id))
