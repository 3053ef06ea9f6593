"""Presenting a card at the till: codes in, a verified card out, or a refusal with its reason.

A till may present three things:

* an ``LW1:`` static code: the Ed25519 signature is checked against the instance's key ring
  (unknown key, bad signature, expiry), then the card must exist and not be revoked;
* an ``LW2:`` rotating code: the card's TOTP must match the current 30-second step or one
  either side, and be newer than the last step accepted for the card. One conditional
  ``UPDATE`` of ``cards.last_rotating_step`` inside the request's transaction records it, so a
  concurrent replay fails in the database, on every process and host;
* a ``scan_token`` from ``POST /api/v1/till/scan``: a short-lived HS256 JWT bound to the till
  and card, saying which credential was shown. A rotating code is good for one scan, so the
  rest of the visit (purchase, redemption) passes the scan token instead.

``present_card`` does both halves: ``read_card_code`` checks what the code says on its own (no
database), ``accept_card`` decides on the card's row. The till reads that row itself, with the
member it locks, in one statement (``app.till.pipeline``).

Every refusal is a ``CardRefused`` with the card's stable type (its HTTP status comes from
``app.errors.DOMAIN_PROBLEMS``), carrying the card when the code got as far as naming one. This
module knows nothing of anti-fraud: the till pipeline (``app.till.pipeline``) checks the
lockout before presenting, counts a refusal that looks like a guess, checks blocks after, and
writes what it learnt into the attempt log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

import jwt
from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from app.cards.keys import card_key_ring
from app.cards.models import Card
from app.cards.service import totp_secret_of
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.memory import BoundedMemory
from wallet.card_codes import (
    StaticCardCode,
    parse_rotating_code,
    verify_rotating_otp,
    verify_static_code,
)
from wallet.errors import CardCodeError
from wallet.keys import KeyRing

SCAN_TOKEN_PREFIX = "lws."
SCAN_TOKEN_AUDIENCE = "lw-scan"
SCAN_TOKEN_LIFETIME = timedelta(minutes=10)
# A visit opened by finding the member by name at the till: no card was shown at all.
LOOKUP_CREDENTIAL = "lookup"


class CardRefused(DomainError):
    """A card code refused at the till, with the card it named if it got that far."""

    def __init__(self, type: str, detail: str, card: CardState | None = None) -> None:
        super().__init__(type, detail)
        self.card_id = card.id if card is not None else None
        self.member_id = card.member_id if card is not None else None


@dataclass(frozen=True)
class PresentedCard:
    """A card that was verified as presented at this till just now."""

    card_id: uuid.UUID
    member_id: int
    credential: str  # "static" | "rotating" | "lookup"


@dataclass(frozen=True)
class ShownCode:
    """A code whose own checks passed (format, signature, scan token); its card is not read yet.

    ``otp`` is a rotating code's one-time password: it is checked against the card's secret,
    which only the card's row holds (``accept_card``).
    """

    card_id: uuid.UUID
    credential: str  # "static" | "rotating" | a scan token's credential
    otp: str | None = None


class CardState(NamedTuple):
    """The card's columns that decide whether it may be used: read by the caller, in its way."""

    id: uuid.UUID
    member_id: int
    revoked_at: datetime | None
    totp_secret_sealed: bytes


# The card's columns ``accept_card`` needs, for a caller that reads them with other rows (the
# till pipeline reads them with the member it locks): in ``CardState``'s order.
CARD_STATE_COLUMNS = (Card.id, Card.member_id, Card.revoked_at, Card.totp_secret_sealed)

# The card's columns the till needs, read without the ORM (the hottest lookup of the till).
_CARD_BY_ID = select(*CARD_STATE_COLUMNS).where(Card.id == bindparam("card_id"))


def card_state(card_id: uuid.UUID) -> CardState | None:
    """Read the card's state on its own (``present_card``; the till reads it with the member)."""
    row = db.session.connection().execute(_CARD_BY_ID, {"card_id": card_id}).first()
    return CardState(*row) if row is not None else None


def _usable_card(card: CardState | None) -> CardState:
    if card is None:
        raise CardRefused("unknown-card", "No card with this id was issued here.")
    if card.revoked_at is not None:
        raise CardRefused(
            "card-revoked", "This card was replaced or blocked; ask for the current one.", card
        )
    return card


# Static codes verified lately, per process: a card is shown for a scan and again for the
# purchase, and checking its Ed25519 signature costs more than the card's lookup. An entry is
# used only while the key ring it was verified with is the one in force (a rotation or a
# retired key makes a new ring) and the code has not expired; anything else is verified in
# full, which gives every refusal its reason. Only codes that passed every check are kept.
_VERIFIED_CODES: BoundedMemory[str, tuple[StaticCardCode, KeyRing]] = BoundedMemory(8192)


def _verified_static_code(code: str, now: datetime) -> StaticCardCode:
    ring = card_key_ring()
    known = _VERIFIED_CODES.get(code)
    if known is not None and known[1] is ring and known[0].not_after > now:
        return known[0]
    verified = verify_static_code(code, ring, now)
    _VERIFIED_CODES.remember(code, (verified, ring))
    return verified


def _read_static(code: str, now: datetime) -> ShownCode:
    try:
        verified = _verified_static_code(code, now)
    except CardCodeError as exc:
        raise CardRefused(exc.type, str(exc)) from None
    return ShownCode(verified.card_id, "static")


def _read_rotating(code: str) -> ShownCode:
    try:
        parsed = parse_rotating_code(code)
    except CardCodeError as exc:
        raise CardRefused(exc.type, str(exc)) from None
    return ShownCode(parsed.card_id, "rotating", parsed.otp)


def _accept_rotating(otp: str, card: CardState, now: datetime) -> None:
    try:
        step = verify_rotating_otp(totp_secret_of(card.totp_secret_sealed), otp, now)
    except CardCodeError as exc:
        raise CardRefused(
            exc.type, "This live code is too old or too new; show the current one.", card
        ) from None
    accepted = db.session.execute(
        update(Card)
        .where(
            Card.id == card.id,
            or_(Card.last_rotating_step.is_(None), Card.last_rotating_step < step),
        )
        .values(last_rotating_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(accepted, "rowcount", 0) != 1:
        raise CardRefused(
            "code-replayed", "This live code was already used; show the current one.", card
        )


def _scan_key() -> bytes:
    key: bytes = current_app.extensions["lw_secrets"].named_key("scan-token")
    return key


def issue_scan_token(presented: PresentedCard, till_id: int) -> tuple[str, datetime]:
    """Sign a scan token that stands for this card at this till for the next ten minutes."""
    expires_at = (utcnow() + SCAN_TOKEN_LIFETIME).replace(microsecond=0)
    claims = {
        "aud": SCAN_TOKEN_AUDIENCE,
        "till": till_id,
        "card": str(presented.card_id),
        "member": presented.member_id,
        "cred": presented.credential,
        "exp": expires_at,
    }
    return SCAN_TOKEN_PREFIX + jwt.encode(claims, _scan_key(), algorithm="HS256"), expires_at


def _read_scan_token(token: str, till_id: int) -> ShownCode:
    try:
        claims = jwt.decode(
            token[len(SCAN_TOKEN_PREFIX) :],
            _scan_key(),
            algorithms=["HS256"],
            audience=SCAN_TOKEN_AUDIENCE,
            options={"require": ["exp", "till", "card", "cred"]},
        )
    except jwt.InvalidTokenError:
        raise CardRefused(
            "invalid-scan-token", "This scan token is invalid or expired; scan the card again."
        ) from None
    if claims["till"] != till_id:
        raise CardRefused("invalid-scan-token", "This scan token belongs to another till.")
    return ShownCode(uuid.UUID(claims["card"]), str(claims["cred"]))


def read_card_code(code: str, till_id: int, now: datetime) -> ShownCode:
    """Check what a code says on its own (no database): format, signature, scan token.

    Raises ``CardRefused``. The card it names is accepted or refused by ``accept_card``, with
    the card's row, which the caller reads (the till reads it with the member it locks).
    """
    text = code.strip()
    if text.startswith(SCAN_TOKEN_PREFIX):
        return _read_scan_token(text, till_id)
    prefix = text[:4].upper()
    if prefix == "LW1:":
        return _read_static(text, now)
    if prefix == "LW2:":
        return _read_rotating(text)
    raise CardRefused(
        "malformed-code", "A card code starts with LW1: or LW2: (or is a scan token)."
    )


def accept_card(shown: ShownCode, card: CardState | None, now: datetime) -> PresentedCard:
    """Accept the card a checked code names, given its row (``None``: no such card).

    Refuses an unknown or revoked card; a rotating code must match the card's secret and be
    newer than the last one accepted (one conditional ``UPDATE`` records it).
    """
    usable = _usable_card(card)
    if shown.otp is not None:
        _accept_rotating(shown.otp, usable, now)
    return PresentedCard(usable.id, usable.member_id, shown.credential)


def present_card(code: str, till_id: int, now: datetime | None = None) -> PresentedCard:
    """Verify a card code, rotating code or scan token presented at a till; raise CardRefused."""
    now = now or utcnow()
    shown = read_card_code(code, till_id, now)
    return accept_card(shown, card_state(shown.card_id), now)


def present_looked_up_card(card_id: uuid.UUID) -> PresentedCard:
    """Stand a member's card in for a scan after the cashier found the member by name."""
    card = _usable_card(card_state(card_id))
    return PresentedCard(card.id, card.member_id, LOOKUP_CREDENTIAL)
