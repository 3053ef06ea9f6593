"""Static LW1 codes (signed, offline-verifiable) and rotating LW2 codes (TOTP)."""

from __future__ import annotations

import base64
import struct
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import base45
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

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
from wallet.crockford import encode_uuid
from wallet.errors import (
    BadSignature,
    CardCodeError,
    CardExpired,
    CodeStale,
    MalformedCode,
    UnknownKey,
)
from wallet.keys import KeyRing, generate_signing_key

NOT_AFTER = datetime(2027, 3, 1, 0, 0, 0, tzinfo=UTC)
BASE45_ALPHABET = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
RFC6238_SECRET = b"12345678901234567890"


def payload_of(code: str) -> bytes:
    """Decode an LW1 code's Base45 payload with the base45 package, independently of ours."""
    assert code.startswith("LW1:")
    decoded: bytes = base45.b45decode(code[4:])
    return decoded


def code_from_payload(payload: bytes) -> str:
    encoded: bytes = base45.b45encode(payload)
    return "LW1:" + encoded.decode()


@pytest.fixture
def static_code(keyring: KeyRing, card_id: uuid.UUID) -> str:
    """Return an LW1 code for the fixed card, signed with the ring's newest key."""
    return encode_static_code(card_id, NOT_AFTER, keyring.newest())


# --- LW1: layout and round trip -------------------------------------------------------------


def test_static_code_round_trips_through_verification(
    static_code: str, keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    code = verify_static_code(static_code, keyring, now)
    assert code.card_id == card_id
    assert code.not_after == NOT_AFTER
    assert code.kid == keyring.newest().kid
    assert code.text == static_code


def test_static_code_is_the_prefix_and_base45_of_89_bytes_in_the_documented_layout(
    static_code: str, keyring: KeyRing, card_id: uuid.UUID
) -> None:
    assert len(static_code) == 4 + 134
    assert set(static_code[4:]) <= BASE45_ALPHABET
    payload = payload_of(static_code)
    assert len(payload) == 89
    assert payload[0] == 0x01
    assert payload[1:5] == keyring.newest().kid
    assert payload[5:21] == card_id.bytes
    assert struct.unpack(">I", payload[21:25])[0] == int(NOT_AFTER.timestamp())


def test_static_code_signature_verifies_with_the_key_published_in_the_jwks(
    static_code: str, keyring: KeyRing, now: datetime
) -> None:
    # What a third-party till does: no wallet code, just the JWKS, Base45 and Ed25519.
    payload = payload_of(static_code)
    kid_hex = payload[1:5].hex()
    (jwk,) = [jwk for jwk in keyring.to_jwks(now, timedelta(days=400))["keys"]]
    assert jwk["kid"] == kid_hex
    raw_public_key = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    public_key = Ed25519PublicKey.from_public_bytes(raw_public_key)
    public_key.verify(payload[25:], payload[:25])  # raises InvalidSignature if wrong


def test_parse_gives_the_fields_without_needing_keys(
    static_code: str, keyring: KeyRing, card_id: uuid.UUID
) -> None:
    code = parse_static_code(static_code)
    assert isinstance(code, StaticCardCode)
    assert code.kid_hex == keyring.newest().kid_hex
    assert code.card_id == card_id
    assert code.not_after == NOT_AFTER
    assert code.not_after.tzinfo is not None
    assert len(code.signature) == 64
    assert code.signed_body == payload_of(static_code)[:25]


def test_not_after_is_written_in_whole_seconds_rounded_down(
    keyring: KeyRing, card_id: uuid.UUID
) -> None:
    code = encode_static_code(
        card_id, NOT_AFTER + timedelta(microseconds=999_999), keyring.newest()
    )
    assert parse_static_code(code).not_after == NOT_AFTER


def test_not_after_in_another_timezone_means_the_same_instant(
    keyring: KeyRing, card_id: uuid.UUID
) -> None:
    local = NOT_AFTER.astimezone(timezone(timedelta(hours=1)))
    code = encode_static_code(card_id, local, keyring.newest())
    assert parse_static_code(code).not_after == NOT_AFTER


@pytest.mark.parametrize(
    "not_after",
    [
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC),  # 2**32 seconds
    ],
)
def test_not_after_outside_32_bit_unix_seconds_is_refused(
    keyring: KeyRing, card_id: uuid.UUID, not_after: datetime
) -> None:
    with pytest.raises(ValueError):
        encode_static_code(card_id, not_after, keyring.newest())


def test_naive_not_after_is_refused(keyring: KeyRing, card_id: uuid.UUID) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        encode_static_code(card_id, datetime(2027, 1, 1), keyring.newest())


def test_public_only_or_retired_keys_do_not_sign(keyring: KeyRing, card_id: uuid.UUID) -> None:
    key = keyring.newest()
    with pytest.raises(ValueError, match="no private key"):
        encode_static_code(card_id, NOT_AFTER, key.public_only())
    with pytest.raises(ValueError, match="retired"):
        encode_static_code(card_id, NOT_AFTER, key.retired(key.created_at))


# --- LW1: refusals --------------------------------------------------------------------------


def test_one_bit_flip_anywhere_in_static_code_is_refused(
    static_code: str, keyring: KeyRing, now: datetime
) -> None:
    payload = payload_of(static_code)
    reasons: dict[str, int] = {}
    for bit in range(len(payload) * 8):
        tampered = bytearray(payload)
        tampered[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CardCodeError) as refused:
            verify_static_code(code_from_payload(bytes(tampered)), keyring, now)
        assert isinstance(refused.value, MalformedCode | UnknownKey | BadSignature | CardExpired)
        reasons[refused.value.type] = reasons.get(refused.value.type, 0) + 1
    # Version bits are malformed, kid bits unknown, everything else a bad signature.
    assert reasons == {"malformed-code": 8, "unknown-key": 32, "bad-signature": 672}


def test_code_signed_by_a_stranger_with_the_same_kid_is_refused(
    keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    ours = keyring.newest()
    impostor = generate_signing_key(now)
    impostor = type(impostor)(ours.kid, impostor.private_key, impostor.public_key, now)
    forged = encode_static_code(card_id, NOT_AFTER, impostor)
    with pytest.raises(BadSignature):
        verify_static_code(forged, keyring, now)


def test_code_with_an_unknown_kid_is_refused(
    static_code: str, card_id: uuid.UUID, now: datetime
) -> None:
    other_ring = KeyRing.generate(now)
    with pytest.raises(UnknownKey):
        verify_static_code(static_code, other_ring, now)


def test_code_is_valid_until_just_before_not_after_and_expired_from_then_on(
    static_code: str, keyring: KeyRing
) -> None:
    verify_static_code(static_code, keyring, NOT_AFTER - timedelta(seconds=1))
    with pytest.raises(CardExpired):
        verify_static_code(static_code, keyring, NOT_AFTER)
    with pytest.raises(CardExpired):
        verify_static_code(static_code, keyring, NOT_AFTER + timedelta(days=1))


def test_refusals_come_in_order_malformed_unknown_key_bad_signature_expired(
    static_code: str, keyring: KeyRing
) -> None:
    after_expiry = NOT_AFTER + timedelta(days=1)
    payload = bytearray(payload_of(static_code))
    payload[-1] ^= 0x01
    bad_signature_and_expired = code_from_payload(bytes(payload))
    with pytest.raises(BadSignature):
        verify_static_code(bad_signature_and_expired, keyring, after_expiry)
    with pytest.raises(UnknownKey):
        verify_static_code(bad_signature_and_expired, KeyRing([]), after_expiry)
    payload[0] = 0x02
    with pytest.raises(MalformedCode):
        verify_static_code(code_from_payload(bytes(payload)), KeyRing([]), after_expiry)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda code: "LW2:" + code[4:],
        lambda code: "LW1" + code[4:],
        lambda code: code[4:],
        lambda code: code[:-1],
        lambda code: code[:-3],
        lambda code: code + "00",
        lambda code: code + "000",
        lambda code: code[:10] + "\n" + code[10:],
        lambda code: code[:4] + "~" + code[5:],
        lambda code: code[:-2] + "::",  # a last byte above 255
        lambda code: "",
        lambda code: "LW1:",
    ],
)
def test_text_that_is_not_an_lw1_code_is_malformed(
    static_code: str, keyring: KeyRing, now: datetime, mangle: Callable[[str], str]
) -> None:
    with pytest.raises(MalformedCode):
        verify_static_code(mangle(static_code), keyring, now)


def test_code_with_another_version_is_malformed_even_when_correctly_signed(
    keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    key = keyring.newest()
    assert key.private_key is not None
    body = struct.pack(">B4s16sI", 0x02, key.kid, card_id.bytes, int(NOT_AFTER.timestamp()))
    future_version = code_from_payload(body + key.private_key.sign(body))
    with pytest.raises(MalformedCode, match="version"):
        verify_static_code(future_version, keyring, now)


def test_lowercase_code_with_surrounding_whitespace_is_read(
    static_code: str, keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    typed = "  \t" + static_code.lower() + " \r\n"
    assert verify_static_code(typed, keyring, now).card_id == card_id
    assert verify_static_code("lw1:" + static_code[4:], keyring, now).card_id == card_id


def test_whitespace_inside_the_code_is_data_not_padding(
    static_code: str, keyring: KeyRing, now: datetime
) -> None:
    # Base45 has a space in its alphabet, so a space added inside changes the payload.
    with pytest.raises(CardCodeError):
        verify_static_code(static_code[:20] + " " + static_code[20:], keyring, now)


def test_code_whose_payload_starts_with_a_space_survives_trimming(
    card_id: uuid.UUID, now: datetime
) -> None:
    # (0x01 << 8 | kid[0]) mod 45 == 36 puts Base45's space first, right after "LW1:".
    key = generate_signing_key(now)
    key = type(key)(b"\x05\x00\x00\x00", key.private_key, key.public_key, now)
    code = encode_static_code(card_id, NOT_AFTER, key)
    assert code.startswith("LW1: ")
    assert verify_static_code(f"  {code}  ", KeyRing([key]), now).card_id == card_id


# --- LW1 and key rotation -------------------------------------------------------------------


def test_after_rotation_the_new_key_signs_and_codes_of_the_old_key_still_verify(
    keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    old_code = encode_static_code(card_id, NOT_AFTER, keyring.newest())
    rotated = keyring.rotated(now + timedelta(days=1))
    new_code = encode_static_code(card_id, NOT_AFTER, rotated.newest())
    later = now + timedelta(days=2)
    assert verify_static_code(new_code, rotated, later).kid == rotated.newest().kid
    assert verify_static_code(old_code, rotated, later).kid == keyring.newest().kid
    assert parse_static_code(new_code).kid != parse_static_code(old_code).kid


def test_a_verifier_holding_only_the_published_keys_accepts_codes_of_a_recently_retired_key(
    keyring: KeyRing, card_id: uuid.UUID, now: datetime
) -> None:
    lifetime = timedelta(days=30)
    rotated_at = now + timedelta(days=1)
    old_code = encode_static_code(card_id, rotated_at + lifetime, keyring.newest())
    rotated = keyring.rotated(rotated_at)

    def till_ring(at: datetime) -> KeyRing:
        return KeyRing(rotated.published(at, lifetime)).public_only()

    just_before = rotated_at + lifetime - timedelta(seconds=1)
    assert verify_static_code(old_code, till_ring(just_before), just_before).card_id == card_id
    gone = rotated_at + lifetime
    with pytest.raises(UnknownKey):
        verify_static_code(old_code, till_ring(gone), gone)


# --- LW2: TOTP ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unix_time", "otp"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_rfc_6238_appendix_b_sha1_vectors(unix_time: int, otp: str) -> None:
    at = datetime.fromtimestamp(unix_time, tz=UTC)
    assert totp_at(RFC6238_SECRET, at) == otp


def test_totp_agrees_with_pyotp_on_random_secrets_and_instants(now: datetime) -> None:
    for step in range(0, 300, 7):
        secret = generate_totp_secret()
        at = now + timedelta(seconds=step * 13.7)
        reference = pyotp.TOTP(totp_secret_base32(secret), digits=8, interval=30)
        assert totp_at(secret, at) == reference.at(at)


def test_totp_step_counts_30_second_periods_from_the_epoch() -> None:
    assert totp_step(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    assert totp_step(datetime(1970, 1, 1, 0, 0, 29, 999_999, tzinfo=UTC)) == 0
    assert totp_step(datetime(1970, 1, 1, 0, 0, 30, tzinfo=UTC)) == 1
    assert totp_step(datetime.fromtimestamp(1111111109, tz=UTC)) == 0x23523EC


def test_totp_before_the_epoch_or_with_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError):
        totp_step(datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC))
    with pytest.raises(ValueError):
        totp_step(datetime(2026, 1, 1))


def test_generated_secrets_are_20_random_bytes() -> None:
    secrets_seen = {generate_totp_secret() for _ in range(50)}
    assert len(secrets_seen) == 50
    assert {len(secret) for secret in secrets_seen} == {20}


def test_secret_shorter_than_20_bytes_is_refused(now: datetime) -> None:
    with pytest.raises(ValueError, match="20 bytes"):
        totp_at(bytes(19), now)


def test_base32_secret_is_rfc_4648_and_reads_back() -> None:
    assert totp_secret_base32(RFC6238_SECRET) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    secret = generate_totp_secret()
    assert "=" not in totp_secret_base32(secret)
    assert base64.b32decode(totp_secret_base32(secret)) == secret
    assert base64.b32decode(totp_secret_base32(bytes(21))) == bytes(21)


def test_current_and_neighbouring_steps_are_accepted_and_report_their_step(
    now: datetime,
) -> None:
    secret = generate_totp_secret()
    current = totp_step(now)
    for offset in (-1, 0, 1):
        shown_at = now + timedelta(seconds=30 * offset)
        assert verify_rotating_otp(secret, totp_at(secret, shown_at), now) == current + offset


def test_codes_two_steps_away_are_stale(now: datetime) -> None:
    secret = generate_totp_secret()
    for offset in (-3, -2, 2, 3):
        otp = totp_at(secret, now + timedelta(seconds=30 * offset))
        if otp in {totp_at(secret, now + timedelta(seconds=30 * near)) for near in (-1, 0, 1)}:
            continue  # a one-in-ten-million collision with an accepted step
        with pytest.raises(CodeStale):
            verify_rotating_otp(secret, otp, now)


def test_window_zero_accepts_only_the_current_step(now: datetime) -> None:
    secret = generate_totp_secret()
    assert verify_rotating_otp(secret, totp_at(secret, now), now, window=0) == totp_step(now)
    with pytest.raises(CodeStale):
        verify_rotating_otp(secret, totp_at(secret, now - timedelta(seconds=30)), now, window=0)


def test_otp_of_another_card_is_stale(now: datetime) -> None:
    with pytest.raises(CodeStale):
        verify_rotating_otp(bytes(20), totp_at(b"\x01" * 20, now), now)


@pytest.mark.parametrize("otp", ["1234567", "123456789", "1234567a", "", "１２３４５６７８"])
def test_otp_that_is_not_eight_ascii_digits_is_malformed(otp: str, now: datetime) -> None:
    with pytest.raises(MalformedCode):
        verify_rotating_otp(generate_totp_secret(), otp, now)


# --- LW2: layout and parsing ----------------------------------------------------------------


def test_rotating_code_is_prefix_crockford_card_id_and_8_digit_totp(
    card_id: uuid.UUID, now: datetime
) -> None:
    secret = generate_totp_secret()
    code = encode_rotating_code(card_id, secret, now)
    assert rotating_prefix(card_id) == f"LW2:{encode_uuid(card_id)}:"
    assert code == rotating_prefix(card_id) + totp_at(secret, now)
    assert len(code) == 4 + 26 + 1 + 8


def test_rotating_code_round_trips_through_parse_and_verify(
    card_id: uuid.UUID, now: datetime
) -> None:
    secret = generate_totp_secret()
    parsed = parse_rotating_code(encode_rotating_code(card_id, secret, now))
    assert parsed == RotatingCardCode(card_id=card_id, otp=totp_at(secret, now))
    assert verify_rotating_otp(secret, parsed.otp, now) == totp_step(now)


def test_rotating_code_is_read_regardless_of_case_whitespace_and_crockford_aliases() -> None:
    card_id = uuid.UUID(int=1 << 125 | 1)  # digits "1000…0001": room for aliases
    canonical = f"LW2:{encode_uuid(card_id)}:01234567"
    assert canonical == "LW2:10000000000000000000000001:01234567"
    for typed in [
        canonical.lower(),
        f"  {canonical}\n",
        "lw2: 1000 0000 0000 0000 0000 0000 01 : 0123 4567",
        "LW2:I0000000000000000000000OOl:01234567",
    ]:
        assert parse_rotating_code(typed) == RotatingCardCode(card_id=card_id, otp="01234567")


@pytest.mark.parametrize(
    "text",
    [
        "LW2:10000000000000000000000001:0123456",
        "LW2:10000000000000000000000001:012345678",
        "LW2:1000000000000000000000001:01234567",
        "LW2:80000000000000000000000001:01234567",
        "LW2:10000000000000000000000001-01234567",
        "LW2:10000000000000000000000001:0123456A",
        "LW2:U0000000000000000000000001:01234567",
        "LW1:10000000000000000000000001:01234567",
        "LW2:10000000000000000000000001:01234567:",
        "LW2:\u01310000000000000000000000001:01234567",
        "",
    ],
)
def test_text_not_shaped_like_an_lw2_code_is_malformed(text: str) -> None:
    with pytest.raises(MalformedCode):
        parse_rotating_code(text)


# --- Dispatch and NFC value -----------------------------------------------------------------


def test_parse_card_code_dispatches_on_the_prefix(
    static_code: str, card_id: uuid.UUID, now: datetime
) -> None:
    assert isinstance(parse_card_code(f" {static_code.lower()} "), StaticCardCode)
    rotating = encode_rotating_code(card_id, generate_totp_secret(), now)
    assert isinstance(parse_card_code(rotating.lower()), RotatingCardCode)
    for text in ["", "LW3:abc", "ABCD-EFGH-JKMN-P", encode_uuid(card_id)]:
        with pytest.raises(MalformedCode):
            parse_card_code(text)


def test_nfc_value_is_the_card_number_and_fits_apples_64_bytes(card_id: uuid.UUID) -> None:
    assert card_nfc_value(card_id) == encode_uuid(card_id)
    assert len(card_nfc_value(card_id).encode()) <= 64
