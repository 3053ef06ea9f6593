"""Card-signing keys: generation, rotation, publication as JWKS and the server's key file."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from wallet.keys import (
    CardSigningKey,
    KeyRing,
    generate_signing_key,
    public_key_from_jwk,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
LIFETIME = timedelta(days=30)


def public_bytes(key: CardSigningKey) -> bytes:
    return key.public_key.public_bytes_raw()


def test_generated_key_has_a_four_byte_kid_shown_as_lowercase_hex() -> None:
    key = generate_signing_key(NOW)
    assert len(key.kid) == 4
    assert key.kid_hex == key.kid.hex()
    assert key.kid_hex == key.kid_hex.lower()
    assert len(key.kid_hex) == 8
    assert key.can_sign
    assert key.created_at == NOW


def test_kid_of_any_other_length_is_refused() -> None:
    private_key = Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="4 bytes"):
        CardSigningKey(b"\x01\x02\x03", private_key, private_key.public_key(), NOW)


def test_public_key_that_does_not_belong_to_the_private_key_is_refused() -> None:
    private_key = Ed25519PrivateKey.generate()
    stranger = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(ValueError, match="does not match"):
        CardSigningKey(b"\x01\x02\x03\x04", private_key, stranger, NOW)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_signing_key(datetime(2026, 3, 1, 12, 0))


def test_rotation_makes_a_new_key_the_signer_and_retires_the_old_one_at_that_instant(
    keyring: KeyRing,
) -> None:
    old = keyring.newest()
    later = NOW + timedelta(days=90)
    rotated = keyring.rotated(later)
    new = rotated.newest()
    assert new.kid != old.kid
    assert new.created_at == later
    assert new.can_sign
    retired = rotated.find(old.kid)
    assert retired is not None
    assert retired.retired_at == later
    assert not retired.can_sign
    assert len(rotated) == 2
    # The original ring is untouched: rotation returns a new ring.
    assert keyring.newest().kid == old.kid


def test_newest_skips_retired_and_public_only_keys() -> None:
    signing = generate_signing_key(NOW)
    newer_public_only = generate_signing_key(NOW + timedelta(days=1)).public_only()
    newest_retired = generate_signing_key(NOW + timedelta(days=2)).retired(NOW)
    ring = KeyRing([newest_retired, newer_public_only, signing])
    assert ring.newest().kid == signing.kid


def test_ring_without_a_signing_key_says_so() -> None:
    ring = KeyRing.generate(NOW).public_only()
    with pytest.raises(LookupError):
        ring.newest()


def test_rotating_an_empty_ring_just_adds_a_signing_key() -> None:
    ring = KeyRing([]).rotated(NOW)
    assert len(ring) == 1
    assert ring.newest().can_sign


def test_rotating_to_an_instant_before_the_current_key_is_refused(keyring: KeyRing) -> None:
    with pytest.raises(ValueError):
        keyring.rotated(NOW - timedelta(seconds=1))


def test_two_keys_with_the_same_kid_cannot_share_a_ring() -> None:
    key = generate_signing_key(NOW)
    twin = generate_signing_key(NOW)
    twin = CardSigningKey(key.kid, twin.private_key, twin.public_key, NOW)
    with pytest.raises(ValueError, match="share a kid"):
        KeyRing([key, twin])


def test_find_returns_the_key_with_that_kid_or_none(keyring: KeyRing) -> None:
    key = keyring.newest()
    assert keyring.find(key.kid) is key
    assert keyring.find(bytes(4) if key.kid != bytes(4) else b"\xff" * 4) is None


def test_retired_key_stays_published_exactly_until_its_codes_can_no_longer_be_valid(
    keyring: KeyRing,
) -> None:
    old = keyring.newest()
    rotated_at = NOW + timedelta(days=10)
    ring = keyring.rotated(rotated_at)
    new = ring.newest()

    def published_kids(at: datetime) -> set[bytes]:
        return {key.kid for key in ring.published(at, LIFETIME)}

    assert published_kids(rotated_at) == {old.kid, new.kid}
    assert published_kids(rotated_at + LIFETIME - timedelta(seconds=1)) == {old.kid, new.kid}
    assert published_kids(rotated_at + LIFETIME) == {new.kid}
    assert published_kids(rotated_at + 10 * LIFETIME) == {new.kid}
    assert {key.kid for key in ring.pruned(rotated_at + LIFETIME, LIFETIME)} == {new.kid}


def test_published_requires_a_positive_code_lifetime(keyring: KeyRing) -> None:
    with pytest.raises(ValueError):
        keyring.published(NOW, timedelta(0))


def test_jwks_lists_each_published_key_as_an_ed25519_okp_jwk(keyring: KeyRing) -> None:
    ring = keyring.rotated(NOW + timedelta(days=1))
    jwks = ring.to_jwks(NOW + timedelta(days=2), LIFETIME)
    assert set(jwks) == {"keys"}
    assert len(jwks["keys"]) == 2
    for jwk, key in zip(jwks["keys"], ring.keys, strict=True):
        assert jwk == {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": key.kid_hex,
            "x": base64.urlsafe_b64encode(public_bytes(key)).decode().rstrip("="),
            "use": "sig",
            "alg": "EdDSA",
        }
        assert "=" not in jwk["x"]
        assert "d" not in jwk
    # The document is plain JSON.
    assert json.loads(json.dumps(jwks)) == jwks


def test_public_key_rebuilt_from_its_jwk_is_the_same_key(keyring: KeyRing) -> None:
    key = keyring.newest()
    rebuilt = public_key_from_jwk(key.to_jwk())
    assert rebuilt.public_bytes_raw() == public_bytes(key)


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "EC"},
        {"crv": "Ed448"},
        {"alg": "ES256"},
        {"use": "enc"},
        {"x": "AAAA"},
        {"x": "A" * 42 + "B"},  # 43 characters whose unused low bits are not zero
        {"x": "A" * 43 + "="},
        {"x": "+" * 43},
        {"x": None},
    ],
)
def test_jwk_that_is_not_a_canonical_ed25519_signing_key_is_refused(
    keyring: KeyRing, change: dict[str, object]
) -> None:
    jwk: dict[str, object] = {**keyring.newest().to_jwk(), **change}
    with pytest.raises(ValueError):
        public_key_from_jwk(jwk)


def test_key_file_round_trips_private_keys_and_retirement(keyring: KeyRing) -> None:
    ring = keyring.rotated(NOW + timedelta(days=1))
    ring = KeyRing([*ring.keys, generate_signing_key(NOW).public_only()])
    loaded = KeyRing.from_json(ring.to_json())
    assert len(loaded) == len(ring)
    for original, copy in zip(ring.keys, loaded.keys, strict=True):
        assert copy.kid == original.kid
        assert copy.created_at == original.created_at
        assert copy.retired_at == original.retired_at
        assert public_bytes(copy) == public_bytes(original)
        if original.private_key is None:
            assert copy.private_key is None
        else:
            assert copy.private_key is not None
            assert copy.private_key.private_bytes_raw() == original.private_key.private_bytes_raw()
    assert loaded.newest().kid == ring.newest().kid


def test_key_file_stores_private_keys_as_base64_of_the_raw_32_bytes(keyring: KeyRing) -> None:
    document = json.loads(keyring.to_json())
    entry = document["keys"][0]
    private_key = keyring.newest().private_key
    assert private_key is not None
    assert base64.b64decode(entry["private_key"]) == private_key.private_bytes_raw()
    assert entry["kid"] == keyring.newest().kid_hex


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"format": "something-else", "version": 1, "keys": []}',
        '{"format": "loyalty-wallet/card-signing-keys", "version": 2, "keys": []}',
        '{"format": "loyalty-wallet/card-signing-keys", "version": 1, "keys": [{}]}',
        '{"format": "loyalty-wallet/card-signing-keys", "version": 1, "keys": [1]}',
    ],
)
def test_key_file_that_is_not_ours_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        KeyRing.from_json(text)


def test_key_file_whose_private_and_public_keys_disagree_is_refused(keyring: KeyRing) -> None:
    document = json.loads(keyring.to_json())
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    document["keys"][0]["public_key"] = base64.b64encode(stranger).decode()
    with pytest.raises(ValueError, match="does not match"):
        KeyRing.from_json(json.dumps(document))


def test_key_file_with_a_truncated_private_key_is_refused(keyring: KeyRing) -> None:
    document = json.loads(keyring.to_json())
    document["keys"][0]["private_key"] = base64.b64encode(bytes(31)).decode()
    with pytest.raises(ValueError):
        KeyRing.from_json(json.dumps(document))
