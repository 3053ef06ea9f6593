"""Member cards as a library: card codes, QR, NFC and wallet passes.

Two card codes, both public formats documented in ``docs/card-codes.md``:

* ``LW1:`` static code, signed with the server's newest Ed25519 key (:mod:`wallet.keys`),
  verifiable offline by anyone holding the published JWKS, valid until its ``not_after``;
* ``LW2:`` rotating code, an RFC 6238 TOTP over a per-card secret that changes every 30 s.

Around them: QR rendering (:mod:`wallet.qr`), the NDEF message for NFC tags
(:mod:`wallet.ndef`), Apple Wallet ``.pkpass`` bundles (:mod:`wallet.apple`) and Google Wallet
save links (:mod:`wallet.google`). The package knows nothing of Flask or the database: checks
that need state (revoked cards, replayed rotating codes) belong to the app.

Only the card-code names are re-exported here; import the rendering and pass builders from
their modules, so that verifying a code does not load Pillow, qrcode or PyJWT.
"""

from wallet.card_codes import (
    RotatingCardCode,
    StaticCardCode,
    card_nfc_value,
    encode_rotating_code,
    encode_static_code,
    generate_totp_secret,
    parse_card_code,
    parse_rotating_code,
    parse_static_code,
    rotating_prefix,
    totp_at,
    totp_secret_base32,
    totp_step,
    verify_rotating_otp,
    verify_static_code,
)
from wallet.crockford import decode_uuid, encode_uuid
from wallet.errors import (
    BadSignature,
    CardCodeError,
    CardExpired,
    CodeStale,
    MalformedCode,
    UnknownKey,
)
from wallet.keys import CardSigningKey, KeyRing, generate_signing_key, public_key_from_jwk

__all__ = [
    "BadSignature",
    "CardCodeError",
    "CardExpired",
    "CardSigningKey",
    "CodeStale",
    "KeyRing",
    "MalformedCode",
    "RotatingCardCode",
    "StaticCardCode",
    "UnknownKey",
    "card_nfc_value",
    "decode_uuid",
    "encode_rotating_code",
    "encode_static_code",
    "encode_uuid",
    "generate_signing_key",
    "generate_totp_secret",
    "parse_card_code",
    "parse_rotating_code",
    "parse_static_code",
    "public_key_from_jwk",
    "rotating_prefix",
    "totp_at",
    "totp_secret_base32",
    "totp_step",
    "verify_rotating_otp",
    "verify_static_code",
]
