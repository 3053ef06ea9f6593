"""Card codes: the signed static ``LW1:`` code and the time-based rotating ``LW2:`` code.

Both formats are a public contract (see ``docs/card-codes.md``); tills from other vendors
parse and verify them, so every byte here is fixed.

``LW1:`` static code (printed cards, wallet-pass barcodes, NFC tags)
    ``"LW1:"`` + Base45 (RFC 9285) of an 89-byte payload::

        version 0x01 (1) | kid (4) | card_id (16, UUID bytes) | not_after (4, big-endian Unix
        seconds) | Ed25519 signature (64) over the 25 bytes before it

    Signed with the key ring's newest Ed25519 key (:mod:`wallet.keys`); anyone holding the
    published JWKS verifies it offline. It expires at ``not_after`` (valid while
    ``not_after > now``). A signature proves the server issued the code, not that the card is
    still in good standing or that the code is not a copy: revocation is the server's check.
    The Base45 alphabet contains a space, so only whitespace around the whole code is ignored;
    a space inside it is data.

``LW2:`` rotating code (the PWA's live card, Google Wallet ``rotatingBarcode``)
    ``"LW2:" + <card id as 26 Crockford digits> + ":" + <8-digit TOTP>``. The TOTP is
    RFC 6238: HMAC-SHA-1 over a per-card secret of at least 20 random bytes, 30-second steps
    counted from the Unix epoch, 8 digits. Nothing is signed with a public key; the secret
    stays on the server except where the code is rendered (Google Wallet, or the PWA if it
    computes codes itself). The server accepts the current step and one step either side, and
    the app refuses a (card, step) it has accepted before, so a screenshot stops working once
    the member has used the code, and at most 60 seconds after it was taken in any case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct
import uuid
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime, timedelta

import base45
from cryptography.exceptions import InvalidSignature

from wallet._time import UNIX_EPOCH, as_utc, from_unix_seconds, unix_seconds
from wallet.crockford import decode_uuid, encode_uuid
from wallet.errors import BadSignature, CardExpired, CodeStale, MalformedCode, UnknownKey
from wallet.keys import CardSigningKey, KeyRing

STATIC_CODE_PREFIX = "LW1:"
STATIC_CODE_VERSION = 0x01
SIGNED_BODY_BYTES = 25
SIGNATURE_BYTES = 64
STATIC_PAYLOAD_BYTES = SIGNED_BODY_BYTES + SIGNATURE_BYTES
# version, kid, card_id, not_after: the 25 signed bytes.
_SIGNED_BODY = struct.Struct(">B4s16sI")

ROTATING_CODE_PREFIX = "LW2:"
TOTP_PERIOD = timedelta(seconds=30)
TOTP_DIGITS = 8
MIN_TOTP_SECRET_BYTES = 20
TOTP_SECRET_BYTES = 20

_ROTATING_CODE = re.compile(r"LW2:([0-9A-Z]{26}):([0-9]{8})")
_OTP = re.compile(r"[0-9]{8}")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class StaticCardCode:
    """A parsed ``LW1:`` code; its signature is not yet checked unless it came from verify."""

    kid: bytes
    card_id: uuid.UUID
    not_after: datetime
    signature: bytes
    signed_body: bytes

    @property
    def kid_hex(self) -> str:
        """Return the kid as lowercase hex, as published in the JWKS."""
        return self.kid.hex()

    @property
    def text(self) -> str:
        """Return the code in its canonical written form."""
        return STATIC_CODE_PREFIX + _base45(self.signed_body + self.signature)


@dataclass(frozen=True)
class RotatingCardCode:
    """A parsed ``LW2:`` code: which card it claims to be, and the one-time password shown."""

    card_id: uuid.UUID
    otp: str


def encode_static_code(card_id: uuid.UUID, not_after: datetime, key: CardSigningKey) -> str:
    """Sign a static ``LW1:`` code for a card, valid until ``not_after`` (whole seconds)."""
    if key.private_key is None:
        raise ValueError(f"key {key.kid_hex} has no private key and cannot sign")
    if key.retired_at is not None:
        # A retired key's publication window is measured from its retirement; signing with it
        # afterwards would produce codes that outlive the key's publication.
        raise ValueError(f"key {key.kid_hex} is retired and must not sign new codes")
    expiry_seconds = unix_seconds(not_after, "not_after")
    if not 0 <= expiry_seconds <= 0xFFFFFFFF:
        raise ValueError("not_after must fit in 32 unsigned bits of Unix seconds")
    signed_body = _SIGNED_BODY.pack(STATIC_CODE_VERSION, key.kid, card_id.bytes, expiry_seconds)
    signature = key.private_key.sign(signed_body)
    return STATIC_CODE_PREFIX + _base45(signed_body + signature)


def parse_static_code(text: str) -> StaticCardCode:
    """Split an ``LW1:`` code into its fields without checking the signature."""
    text = text.strip()
    if not text.isascii() or text[:4].upper() != STATIC_CODE_PREFIX:
        raise MalformedCode("a static card code starts with LW1:")
    # Base45 has no lower-case letters, so a code that went through a lower-casing channel
    # (a keyboard wedge with caps lock, a URL normaliser) is restored by upper-casing it.
    try:
        payload = base45.b45decode(text[4:].upper())
    except ValueError as exc:
        raise MalformedCode("the static card code is not valid Base45") from exc
    if len(payload) != STATIC_PAYLOAD_BYTES:
        raise MalformedCode(
            f"a static card code carries {STATIC_PAYLOAD_BYTES} bytes, not {len(payload)}"
        )
    signed_body = payload[:SIGNED_BODY_BYTES]
    version, kid, card_id_bytes, expiry_seconds = _SIGNED_BODY.unpack(signed_body)
    if version != STATIC_CODE_VERSION:
        raise MalformedCode(f"unsupported static card code version {version}")
    return StaticCardCode(
        kid=kid,
        card_id=uuid.UUID(bytes=card_id_bytes),
        not_after=from_unix_seconds(expiry_seconds),
        signature=payload[SIGNED_BODY_BYTES:],
        signed_body=signed_body,
    )


def verify_static_code(text: str, keyring: KeyRing, now: datetime) -> StaticCardCode:
    """Parse an ``LW1:`` code and check its key, signature and expiry, or raise why not."""
    now = as_utc(now, "now")
    code = parse_static_code(text)
    key = keyring.find(code.kid)
    if key is None:
        raise UnknownKey(f"no card-signing key with kid {code.kid_hex}")
    try:
        key.public_key.verify(code.signature, code.signed_body)
    except InvalidSignature as exc:
        raise BadSignature("the static card code's signature does not verify") from exc
    # Expiry is checked last because not_after means something only once the signature
    # shows the server wrote it; a forger picks any not_after they like.
    if not code.not_after > now:
        raise CardExpired(f"the static card code expired at {code.not_after.isoformat()}")
    return code


def generate_totp_secret() -> bytes:
    """Create a fresh per-card TOTP secret of 20 random bytes (160 bits, RFC 4226's advice)."""
    return secrets.token_bytes(TOTP_SECRET_BYTES)


def totp_secret_base32(secret: bytes) -> str:
    """Write a TOTP secret in RFC 4648 Base32, as authenticator apps and pyotp take it."""
    # Secrets whose length is a multiple of 5 bytes (ours are 20) encode without "=" padding,
    # so the text is the same whether or not the reader expects padding. Other lengths keep
    # the standard padding so base64.b32decode() reads them back unchanged.
    return b32encode(secret).decode("ascii")


def rotating_prefix(card_id: uuid.UUID) -> str:
    """Return the fixed part of a card's rotating code: ``LW2:<crockford id>:``."""
    return f"{ROTATING_CODE_PREFIX}{encode_uuid(card_id)}:"


def totp_step(at: datetime) -> int:
    """Return the RFC 6238 time step (30-second periods since the Unix epoch) at ``at``."""
    step = (as_utc(at, "at") - UNIX_EPOCH) // TOTP_PERIOD
    if step < 0:
        raise ValueError("TOTP is not defined before the Unix epoch")
    return step


def totp_at(secret: bytes, at: datetime) -> str:
    """Return the 8-digit TOTP of ``secret`` at the instant ``at``."""
    return _hotp(secret, totp_step(at))


def encode_rotating_code(card_id: uuid.UUID, secret: bytes, at: datetime) -> str:
    """Return the ``LW2:`` code a card shows at the instant ``at``."""
    return rotating_prefix(card_id) + totp_at(secret, at)


def parse_rotating_code(text: str) -> RotatingCardCode:
    """Split an ``LW2:`` code into card id and OTP, ignoring case and whitespace."""
    # None of the LW2 symbols is whitespace, so all of it (a typed space, a scanner's line
    # break) can go; this is not true of LW1, whose Base45 alphabet contains a space.
    compact = _WHITESPACE.sub("", text)
    if not compact.isascii():
        raise MalformedCode("a rotating card code is ASCII text")
    match = _ROTATING_CODE.fullmatch(compact.upper())
    if match is None:
        raise MalformedCode("a rotating card code is LW2:<26 Crockford digits>:<8 digits>")
    return RotatingCardCode(card_id=decode_uuid(match.group(1)), otp=match.group(2))


def verify_rotating_otp(secret: bytes, otp: str, now: datetime, window: int = 1) -> int:
    """Return the time step whose TOTP matches ``otp`` within ±window steps, else CodeStale."""
    if not _OTP.fullmatch(otp):
        raise MalformedCode("a rotating card code's one-time password is 8 digits")
    if window < 0:
        raise ValueError("window must not be negative")
    current = totp_step(now)
    # Current step first, then the nearest neighbours: the step returned is the one the app
    # records against replay, and the likeliest one is the right one to record.
    offsets = [0]
    for distance in range(1, window + 1):
        offsets += [-distance, distance]
    for offset in offsets:
        step = current + offset
        if step >= 0 and hmac.compare_digest(_hotp(secret, step), otp):
            return step
    raise CodeStale("the one-time password matches no time step in the accepted window")


def parse_card_code(text: str) -> StaticCardCode | RotatingCardCode:
    """Parse either kind of card code, choosing by its ``LW1:``/``LW2:`` prefix."""
    prefix = text.strip()[:4].upper()
    if prefix == STATIC_CODE_PREFIX:
        return parse_static_code(text)
    if prefix == ROTATING_CODE_PREFIX:
        return parse_rotating_code(text)
    raise MalformedCode("a card code starts with LW1: or LW2:")


def card_nfc_value(card_id: uuid.UUID) -> str:
    """Return the identifier wallet passes send over NFC (Apple VAS, Google Smart Tap)."""
    # Apple's VAS message holds at most 64 bytes, too few for an LW1 code (138 characters).
    # Both NFC channels hand the value only to readers holding the merchant's keys, and the
    # value is static anyway, so it is an identifier: the till looks the card up online.
    return encode_uuid(card_id)


def _hotp(secret: bytes, counter: int) -> str:
    """Return the RFC 4226 HOTP value for ``counter`` with SHA-1 and 8 digits."""
    if len(secret) < MIN_TOTP_SECRET_BYTES:
        raise ValueError(f"a TOTP secret has at least {MIN_TOTP_SECRET_BYTES} bytes")
    digest = hmac.new(secret, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    (truncated,) = struct.unpack(">I", digest[offset : offset + 4])
    return str((truncated & 0x7FFFFFFF) % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def _base45(payload: bytes) -> str:
    encoded: bytes = base45.b45encode(payload)
    return encoded.decode("ascii")
