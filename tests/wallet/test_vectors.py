"""The test vectors published in docs/card-codes.md hold for this implementation.

The vectors are read from the document itself, so the public contract and the code cannot
drift apart: changing either without the other fails here.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import ndef
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wallet.card_codes import (
    card_nfc_value,
    encode_rotating_code,
    encode_static_code,
    parse_static_code,
    totp_at,
    totp_secret_base32,
    totp_step,
    verify_rotating_otp,
    verify_static_code,
)
from wallet.crockford import decode_uuid, encode_uuid
from wallet.errors import CardExpired
from wallet.google import rotating_barcode
from wallet.keys import CardSigningKey, KeyRing, public_key_from_jwk
from wallet.ndef import card_ndef_message

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "card-codes.md"
# A fenced block whose info string names a vector: ```text lw1-vector ... ```
_VECTOR_BLOCK = re.compile(r"^```\w+ ([a-z0-9-]+-vector)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@cache
def vector_blocks() -> dict[str, str]:
    blocks: dict[str, str] = {}
    for name, body in _VECTOR_BLOCK.findall(DOCUMENT.read_text(encoding="utf-8")):
        assert name not in blocks, f"vector block {name} appears twice"
        blocks[name] = body
    return blocks


def vector(name: str) -> dict[str, str]:
    """Return the ``key = value`` lines of a vector block; values are taken verbatim."""
    entries: dict[str, str] = {}
    for line in vector_blocks()[f"{name}-vector"].splitlines():
        key, separator, value = line.partition(" = ")
        assert separator, f"line {line!r} in {name}-vector is not 'key = value'"
        entries[key.strip()] = value
    return entries


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def vector_signing_key() -> CardSigningKey:
    lw1 = vector("lw1")
    private_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(lw1["seed_hex"]))
    return CardSigningKey(
        kid=bytes.fromhex(lw1["kid_hex"]),
        private_key=private_key,
        public_key=private_key.public_key(),
        created_at=instant("2026-01-01T00:00:00Z"),
    )


def test_document_has_every_vector_block() -> None:
    assert set(vector_blocks()) == {
        "lw1-vector",
        "jwks-vector",
        "crockford-vector",
        "lw2-vector",
        "ndef-vector",
        "ndef-bytes-vector",
        "google-vector",
    }


def test_lw1_vector_is_what_the_fixed_key_signs() -> None:
    lw1 = vector("lw1")
    not_after = instant(lw1["not_after"])
    assert int(not_after.timestamp()) == int(lw1["not_after_unix"])
    code = encode_static_code(uuid.UUID(lw1["card_id"]), not_after, vector_signing_key())
    assert code == lw1["code"]
    parsed = parse_static_code(lw1["code"])
    assert parsed.signed_body.hex() == lw1["signed_body_hex"]
    assert parsed.signature.hex() == lw1["signature_hex"]
    assert parsed.kid_hex == lw1["kid_hex"]


def test_lw1_vector_verifies_with_the_published_jwks_and_expires_as_stated() -> None:
    lw1 = vector("lw1")
    jwks: dict[str, Any] = json.loads(vector_blocks()["jwks-vector"])
    (jwk,) = jwks["keys"]
    public_key = public_key_from_jwk(jwk)
    # Independent of our verifier: raw Ed25519 over the documented byte ranges.
    public_key.verify(bytes.fromhex(lw1["signature_hex"]), bytes.fromhex(lw1["signed_body_hex"]))
    till_ring = KeyRing(
        [
            CardSigningKey(
                kid=bytes.fromhex(jwk["kid"]),
                private_key=None,
                public_key=public_key,
                created_at=instant("2026-01-01T00:00:00Z"),
            )
        ]
    )
    verified = verify_static_code(lw1["code"], till_ring, instant(lw1["accepted_at"]))
    assert str(verified.card_id) == lw1["card_id"]
    with pytest.raises(CardExpired):
        verify_static_code(lw1["code"], till_ring, instant(lw1["card_expired_at"]))


def test_jwks_vector_is_what_the_key_ring_publishes() -> None:
    ring = KeyRing([vector_signing_key()])
    published = ring.to_jwks(instant("2026-03-01T00:00:00Z"), timedelta(days=365))
    assert published == json.loads(vector_blocks()["jwks-vector"])
    x = published["keys"][0]["x"]
    raw = base64.urlsafe_b64decode(x + "=")
    assert raw == vector_signing_key().public_key.public_bytes_raw()


def test_crockford_vector_holds_both_ways() -> None:
    for card_id, text in vector("crockford").items():
        assert encode_uuid(uuid.UUID(card_id)) == text
        assert decode_uuid(text) == uuid.UUID(card_id)


def test_lw2_vector_is_the_totp_of_the_fixed_secret_at_the_fixed_instant() -> None:
    lw2 = vector("lw2")
    secret = bytes.fromhex(lw2["secret_hex"])
    card_id = uuid.UUID(lw2["card_id"])
    at = instant(lw2["at"])
    assert int(at.timestamp()) == int(lw2["at_unix"])
    assert totp_step(at) == int(lw2["time_step"])
    assert totp_secret_base32(secret) == lw2["secret_base32"]
    assert encode_uuid(card_id) == lw2["card_number"]
    assert card_nfc_value(card_id) == lw2["card_number"]
    step = timedelta(seconds=30)
    assert encode_rotating_code(card_id, secret, at - step) == lw2["code_step_minus1"]
    assert encode_rotating_code(card_id, secret, at) == lw2["code"]
    assert encode_rotating_code(card_id, secret, at + step) == lw2["code_step_plus1"]


def test_server_accepts_the_three_lw2_vector_codes_at_the_vector_instant() -> None:
    lw2 = vector("lw2")
    secret = bytes.fromhex(lw2["secret_hex"])
    at = instant(lw2["at"])
    current = int(lw2["time_step"])
    for key, expected_step in [
        ("code_step_minus1", current - 1),
        ("code", current),
        ("code_step_plus1", current + 1),
    ]:
        otp = lw2[key].rsplit(":", 1)[1]
        assert verify_rotating_otp(secret, otp, at) == expected_step


def test_rfc_6238_vectors_quoted_in_the_document_hold() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    quoted = re.findall(r"T = (\d+) gives `(\d{8})`", text)
    assert len(quoted) >= 2
    for seconds, otp in quoted:
        at = datetime.fromtimestamp(int(seconds), tz=UTC)
        assert totp_at(b"12345678901234567890", at) == otp


def test_ndef_vector_is_the_message_for_the_fixed_url_domain_and_code() -> None:
    ndef_vector = vector("ndef")
    assert ndef_vector["static_code"] == vector("lw1")["code"]
    expected = bytes.fromhex("".join(vector_blocks()["ndef-bytes-vector"].split()))
    assert len(expected) == int(ndef_vector["message_length"])
    message = card_ndef_message(
        ndef_vector["card_page_url"], ndef_vector["issuer_domain"], ndef_vector["static_code"]
    )
    assert message == expected
    uri_record, card_record = ndef.message_decoder(expected)
    assert uri_record.iri == ndef_vector["card_page_url"]
    assert card_record.type == f"urn:nfc:ext:{ndef_vector['issuer_domain']}:card"
    assert bytes(card_record.data).decode("ascii") == ndef_vector["static_code"]


def test_google_vector_is_the_rotating_barcode_of_the_lw2_vector() -> None:
    lw2 = vector("lw2")
    google = vector("google")
    rotating = rotating_barcode(uuid.UUID(lw2["card_id"]), bytes.fromhex(lw2["secret_hex"]))
    assert rotating["valuePattern"] == google["value_pattern"]
    (parameters,) = rotating["totpDetails"]["parameters"]
    assert parameters["key"] == google["totp_key"]
    assert parameters["valueLength"] == int(google["value_length"])
    assert rotating["totpDetails"]["periodMillis"] == google["period_millis"]
    otp = lw2["code"].rsplit(":", 1)[1]
    assert google["value_pattern"].replace("{totp_value_0}", otp) == lw2["code"]
