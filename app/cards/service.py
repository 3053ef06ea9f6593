"""Issuing, reading and revoking member cards.

The static ``LW1:`` code is never stored: it is signed on demand with the newest card key over
(card id, not_after), and Ed25519 is deterministic, so the same key gives the same code every
time (stable QR images, stable ETags). After a key rotation members get codes signed with the
new key while printed codes signed with the old one still verify until they expire.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import bindparam, select

from app.accounts.models import Member
from app.cards.keys import card_key_ring, card_validity
from app.cards.models import Card
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from app.memory import BoundedMemory
from wallet.card_codes import (
    encode_static_code,
    generate_totp_secret,
    rotating_prefix,
    totp_secret_base32,
)

_SEAL_CONTEXT = b"card-totp-secret-v1"
_NONCE_BYTES = 12


def _seal_key() -> AESGCM:
    return AESGCM(current_app.extensions["lw_secrets"].named_key("card-secret-seal"))


def seal_totp_secret(secret: bytes) -> bytes:
    """Encrypt a card's TOTP secret for storage."""
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + _seal_key().encrypt(nonce, secret, _SEAL_CONTEXT)


def totp_secret_of(card: Card | bytes) -> bytes:
    """Decrypt a card's TOTP secret (given the card or its sealed secret)."""
    sealed = bytes(
        card if isinstance(card, bytes | bytearray | memoryview) else card.totp_secret_sealed
    )
    return _seal_key().decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _SEAL_CONTEXT)


def issue_card(member_id: int) -> Card:
    """Give a member a new active card (the caller has revoked any previous one)."""
    now = utcnow()
    card = Card(
        id=uuid.uuid4(),
        member_id=member_id,
        not_after=(now + card_validity()).replace(microsecond=0),
        totp_secret_sealed=seal_totp_secret(generate_totp_secret()),
    )
    db.session.add(card)
    db.session.flush()
    return card


# Built once: every member's app asks for its card when it opens (``GET /api/v1/me/card``).
_ACTIVE_CARD = select(Card).where(
    Card.member_id == bindparam("member_id"), Card.revoked_at.is_(None)
)


def active_card(member_id: int) -> Card:
    """Return the member's active card, issuing the first one if there is none yet."""
    card = db.session.scalar(_ACTIVE_CARD, {"member_id": member_id})
    return card if card is not None else issue_card(member_id)


def reissue_card(member_id: int, reason: str = "reissued") -> Card:
    """Revoke the member's active card and issue a new one (a lost phone, say)."""
    # Lock the member row so two reissues at once cannot both pass the one-card check.
    db.session.get(Member, member_id, with_for_update=True)
    old = active_card(member_id)
    old.revoked_at = utcnow()
    old.revoked_reason = reason
    db.session.flush()
    return issue_card(member_id)


# The LW1 codes this process signed, by card, expiry and key id (see ``static_code_of``).
_SIGNED_CODES: BoundedMemory[tuple[uuid.UUID, datetime, bytes], str] = BoundedMemory(10_000)


def static_code_of(card: Card) -> str:
    """Return the card's LW1 code, signed with the newest key.

    An Ed25519 signature is deterministic: the same card, expiry and key always give the same
    code. So each process remembers the codes it signed instead of signing again each time a
    member opens the app (the signature and its base45 text were about a twentieth of
    ``GET /api/v1/me/card``). A new key (a rotation) or a new expiry signs anew.
    """
    key = card_key_ring().newest()
    remembered = (card.id, card.not_after, key.kid)
    code = _SIGNED_CODES.get(remembered)
    if code is None:
        code = encode_static_code(card.id, card.not_after, key)
        _SIGNED_CODES.remember(remembered, code)
    return code


@dataclass(frozen=True)
class CardView:
    """What a member's phone needs to show the card, online and offline."""

    card_id: uuid.UUID
    static_code: str
    not_after: datetime
    totp_secret_base32: str
    rotating_prefix: str

    def to_dict(self) -> dict[str, object]:
        """Return the API representation."""
        return {
            "card_id": str(self.card_id),
            "static_code": self.static_code,
            "not_after": self.not_after.isoformat(),
            "totp": {
                "secret": self.totp_secret_base32,
                "algorithm": "SHA1",
                "digits": 8,
                "period": 30,
            },
            "rotating_prefix": self.rotating_prefix,
        }


def card_view(card: Card) -> CardView:
    """Build the member's view of a card."""
    return CardView(
        card_id=card.id,
        static_code=static_code_of(card),
        not_after=card.not_after,
        totp_secret_base32=totp_secret_base32(totp_secret_of(card)),
        rotating_prefix=rotating_prefix(card.id),
    )


def revoked_cards_since(since: datetime | None) -> Sequence[Card]:
    """List cards revoked after ``since`` (all revoked cards without it), oldest first."""
    query = select(Card).where(Card.revoked_at.is_not(None)).order_by(Card.revoked_at)
    if since is not None:
        query = query.where(Card.revoked_at > since)
    return db.session.scalars(query).all()


def require_member(member_id: int) -> Member:
    """Return a member or raise ``unknown-card`` (a card whose member is gone)."""
    member = db.session.get(Member, member_id)
    if member is None:
        raise DomainError("unknown-card", "No member holds this card.")
    return member
