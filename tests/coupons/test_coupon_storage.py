"""What is stored and logged instead of a coupon code."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from coupons import (
    SealedCodeError,
    code_fingerprint,
    code_lookup_hash,
    derive_storage_keys,
    format_code,
    generate_code,
    open_sealed_code,
    seal_code,
)

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
CODE = "7K3M9Q2XH4TD4"


# --- lookup hash ------------------------------------------------------------------------------


def test_lookup_hash_is_hmac_sha256_of_the_canonical_code() -> None:
    expected = hmac.new(KEY, CODE.encode("ascii"), hashlib.sha256).digest()
    assert code_lookup_hash(CODE, KEY) == expected
    assert len(code_lookup_hash(CODE, KEY)) == 32


def test_lookup_hash_is_deterministic() -> None:
    assert code_lookup_hash(CODE, KEY) == code_lookup_hash(CODE, KEY)


def test_lookup_hash_depends_on_the_key() -> None:
    assert code_lookup_hash(CODE, KEY) != code_lookup_hash(CODE, OTHER_KEY)


def test_lookup_hash_differs_between_codes() -> None:
    assert len({code_lookup_hash(generate_code(), KEY) for _ in range(200)}) == 200


@pytest.mark.parametrize("text", [CODE.lower(), format_code(CODE), "7K3M9Q2XH4TD5"])
def test_lookup_hash_refuses_non_canonical_text(text: str) -> None:
    # Hashing a typed form would silently never match the stored hash.
    with pytest.raises(ValueError, match="normalise_code"):
        code_lookup_hash(text, KEY)


@pytest.mark.parametrize("key", [b"", bytes(31), bytes(33), "k" * 32])
def test_every_operation_refuses_a_key_that_is_not_32_bytes(key: object) -> None:
    sealed = seal_code(CODE, KEY)
    with pytest.raises(ValueError, match="32 bytes"):
        code_lookup_hash(CODE, key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes"):
        code_fingerprint(CODE, key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes"):
        seal_code(CODE, key)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 bytes"):
        open_sealed_code(sealed, key)  # type: ignore[arg-type]


# --- fingerprint for logs ---------------------------------------------------------------------


def test_fingerprint_is_sixteen_lowercase_hex_characters() -> None:
    fingerprint = code_fingerprint(CODE, KEY)
    assert len(fingerprint) == 16
    assert set(fingerprint) <= set("0123456789abcdef")


def test_fingerprint_is_the_same_however_the_code_was_typed() -> None:
    forms = [CODE, CODE.lower(), format_code(CODE), " 7k3m 9q2x h4td 4 "]
    assert len({code_fingerprint(form, KEY) for form in forms}) == 1


def test_fingerprint_groups_repeated_typos_without_matching_the_real_code() -> None:
    typo = "7K3M-9Q2X-H4TD-5"
    assert code_fingerprint(typo, KEY) == code_fingerprint(typo.lower(), KEY)
    assert code_fingerprint(typo, KEY) != code_fingerprint(CODE, KEY)


def test_fingerprint_depends_on_the_key() -> None:
    assert code_fingerprint(CODE, KEY) != code_fingerprint(CODE, OTHER_KEY)


def test_fingerprint_reveals_neither_code_nor_lookup_hash() -> None:
    fingerprint = code_fingerprint(CODE, KEY)
    assert CODE.lower()[:4] not in fingerprint
    # Same key, same code: still not a prefix of the lookup hash (domain separation).
    assert not code_lookup_hash(CODE, KEY).hex().startswith(fingerprint)


@pytest.mark.parametrize("text", ["", "garbage!", "LW1:XYZ", "\ud800broken", "x" * 10_000])
def test_fingerprint_accepts_any_text_so_every_attempt_can_be_logged(text: str) -> None:
    assert len(code_fingerprint(text, KEY)) == 16


# --- sealed codes -----------------------------------------------------------------------------


def test_sealed_code_opens_to_the_same_code() -> None:
    for code in [CODE, *(generate_code() for _ in range(50))]:
        assert open_sealed_code(seal_code(code, KEY), KEY) == code


def test_sealed_layout_is_nonce_then_ciphertext_and_tag() -> None:
    sealed = seal_code(CODE, KEY)
    assert len(sealed) == 12 + 13 + 16
    assert CODE.encode() not in sealed
    # Decrypts with plain AES-GCM, the published layout and associated data.
    plain = AESGCM(KEY).decrypt(sealed[:12], sealed[12:], b"coupon-code-v1")
    assert plain == CODE.encode()


def test_sealing_twice_gives_different_bytes() -> None:
    assert seal_code(CODE, KEY) != seal_code(CODE, KEY)


def test_every_tampered_byte_is_refused() -> None:
    sealed = seal_code(CODE, KEY)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(SealedCodeError):
            open_sealed_code(bytes(tampered), KEY)


def test_truncated_or_extended_sealed_bytes_are_refused() -> None:
    sealed = seal_code(CODE, KEY)
    for broken in (b"", sealed[:12], sealed[:27], sealed[:-1], sealed + b"\x00"):
        with pytest.raises(SealedCodeError):
            open_sealed_code(broken, KEY)


def test_wrong_key_is_refused() -> None:
    with pytest.raises(SealedCodeError, match="wrong key"):
        open_sealed_code(seal_code(CODE, KEY), OTHER_KEY)


def test_blob_sealed_with_other_associated_data_is_refused() -> None:
    nonce = secrets.token_bytes(12)
    foreign = nonce + AESGCM(KEY).encrypt(nonce, CODE.encode(), b"coupon-code-v2")
    with pytest.raises(SealedCodeError):
        open_sealed_code(foreign, KEY)


def test_authentic_blob_that_is_not_a_code_is_refused() -> None:
    nonce = secrets.token_bytes(12)
    foreign = nonce + AESGCM(KEY).encrypt(nonce, b"not a code", b"coupon-code-v1")
    with pytest.raises(SealedCodeError, match="not a coupon code"):
        open_sealed_code(foreign, KEY)


def test_sealed_code_from_a_database_memoryview_opens() -> None:
    sealed = seal_code(CODE, KEY)
    assert open_sealed_code(memoryview(sealed), KEY) == CODE
    assert open_sealed_code(bytearray(sealed), KEY) == CODE


def test_seal_refuses_non_canonical_text() -> None:
    with pytest.raises(ValueError):
        seal_code(format_code(CODE), KEY)


def test_sealed_code_error_is_not_a_client_error() -> None:
    from coupons import CouponError

    assert issubclass(SealedCodeError, ValueError)
    assert not issubclass(SealedCodeError, CouponError)


# --- key derivation ---------------------------------------------------------------------------


def test_derived_keys_are_independent_32_byte_keys_and_stable() -> None:
    secret = bytes(range(100, 164))
    keys = derive_storage_keys(secret)
    assert {len(keys.lookup), len(keys.fingerprint), len(keys.seal)} == {32}
    assert len({keys.lookup, keys.fingerprint, keys.seal}) == 3
    assert derive_storage_keys(secret) == keys
    assert derive_storage_keys(bytes(64)) != keys
    assert open_sealed_code(seal_code(CODE, keys.seal), keys.seal) == CODE


def test_derived_keys_do_not_show_in_their_repr() -> None:
    keys = derive_storage_keys(bytes(range(32)))
    shown = repr(keys)
    assert all(repr(key) not in shown for key in (keys.lookup, keys.fingerprint, keys.seal))


def test_derivation_refuses_a_short_secret() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        derive_storage_keys(bytes(31))
