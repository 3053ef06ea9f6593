"""Ed25519 keys that sign static card codes, and the key ring that rotates and publishes them.

Design:

* Each key has a random 4-byte ``kid`` that travels inside every code it signs, so a verifier
  knows which public key to use without trying them all. Published ``kid`` values are the
  4 bytes as lowercase hex.
* Signing always uses the ring's newest key that still has its private half and is not retired
  (:meth:`KeyRing.newest`). Rotation (:meth:`KeyRing.rotated`) adds a fresh key and retires the
  previous signing key at that instant; a retired key never signs again.
* A retired key's public half stays published (JWKS at ``/.well-known/jwks.json``) for
  ``max_code_lifetime`` after its retirement: a code it signed just before retiring may be
  valid for that long, and no longer. After that it drops out of :meth:`KeyRing.published`.
* The server keeps the ring in a JSON file in its instance folder (:meth:`KeyRing.to_json`).
  That file holds raw private keys: the app must write it with 0600 permissions and never
  commit it. Tills and other verifiers only ever see the JWKS, which holds public keys only.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from wallet._time import as_utc

KID_BYTES = 4
KEY_FILE_FORMAT = "loyalty-wallet/card-signing-keys"
KEY_FILE_VERSION = 1

_BASE64URL_32_BYTES = re.compile(r"[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class CardSigningKey:
    """One Ed25519 key pair (or public key alone) that signs or verifies static card codes."""

    kid: bytes
    private_key: Ed25519PrivateKey | None
    public_key: Ed25519PublicKey
    created_at: datetime
    retired_at: datetime | None = None

    def __post_init__(self) -> None:
        if len(self.kid) != KID_BYTES:
            raise ValueError(f"a kid is exactly {KID_BYTES} bytes, got {len(self.kid)}")
        # The dataclass is frozen; normalising the instants once here keeps every comparison
        # below in UTC without repeating the conversion.
        object.__setattr__(self, "created_at", as_utc(self.created_at, "created_at"))
        if self.retired_at is not None:
            object.__setattr__(self, "retired_at", as_utc(self.retired_at, "retired_at"))
        if self.private_key is not None and (
            self.private_key.public_key().public_bytes_raw() != self.public_key.public_bytes_raw()
        ):
            raise ValueError(f"key {self.kid_hex}: the public key does not match the private key")

    @property
    def kid_hex(self) -> str:
        """Return the kid as lowercase hex, the form published in the JWKS."""
        return self.kid.hex()

    @property
    def can_sign(self) -> bool:
        """Tell whether this key may sign new codes (has a private key and is not retired)."""
        return self.private_key is not None and self.retired_at is None

    def retired(self, at: datetime) -> CardSigningKey:
        """Return a copy of this key retired at ``at``."""
        return replace(self, retired_at=as_utc(at, "at"))

    def public_only(self) -> CardSigningKey:
        """Return a copy of this key without its private half."""
        return replace(self, private_key=None)

    def to_jwk(self) -> dict[str, str]:
        """Return the public key as a JSON Web Key (RFC 8037 OKP, Ed25519)."""
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "kid": self.kid_hex,
            "x": _base64url(self.public_key.public_bytes_raw()),
            "use": "sig",
            "alg": "EdDSA",
        }


def generate_signing_key(now: datetime) -> CardSigningKey:
    """Create a fresh Ed25519 signing key with a random kid, created at ``now``."""
    private_key = Ed25519PrivateKey.generate()
    return CardSigningKey(
        kid=secrets.token_bytes(KID_BYTES),
        private_key=private_key,
        public_key=private_key.public_key(),
        created_at=now,
    )


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """Rebuild an Ed25519 public key from a JWK, refusing anything else with ValueError."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("the JWK is not an Ed25519 key (kty OKP, crv Ed25519)")
    # "Ed25519" is the fully specified name from RFC 9864; "EdDSA" is what we publish.
    if "alg" in jwk and jwk["alg"] not in ("EdDSA", "Ed25519"):
        raise ValueError(f"the JWK's alg {jwk['alg']!r} is not EdDSA")
    if "use" in jwk and jwk["use"] != "sig":
        raise ValueError("the JWK is not meant for signatures")
    x = jwk.get("x")
    if not isinstance(x, str) or not _BASE64URL_32_BYTES.fullmatch(x):
        raise ValueError("the JWK's x must be 32 bytes in unpadded base64url (43 characters)")
    raw = base64.urlsafe_b64decode(x + "=")
    # 43 characters carry 258 bits; the last two must be zero or the text is not canonical.
    if _base64url(raw) != x:
        raise ValueError("the JWK's x is not canonical base64url")
    return Ed25519PublicKey.from_public_bytes(raw)


class KeyRing:
    """The set of card-signing keys the server holds: one signs, the others verify."""

    def __init__(self, keys: Iterable[CardSigningKey]) -> None:
        # Sorted oldest first; sort is stable, so keys created at the same instant keep the
        # order they were given in and "newest" stays deterministic.
        self._keys = tuple(sorted(keys, key=lambda key: key.created_at))
        kids = [key.kid for key in self._keys]
        if len(set(kids)) != len(kids):
            raise ValueError("two keys in a key ring share a kid")

    @classmethod
    def generate(cls, now: datetime) -> KeyRing:
        """Create a key ring holding one fresh signing key."""
        return cls([generate_signing_key(now)])

    @property
    def keys(self) -> tuple[CardSigningKey, ...]:
        """Return all keys, oldest first."""
        return self._keys

    def __iter__(self) -> Iterator[CardSigningKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def newest(self) -> CardSigningKey:
        """Return the key that signs new codes: the newest one that can sign."""
        for key in reversed(self._keys):
            if key.can_sign:
                return key
        raise LookupError("the key ring has no key that can sign (all retired or public only)")

    def find(self, kid: bytes) -> CardSigningKey | None:
        """Return the key with this kid, or None."""
        for key in self._keys:
            if key.kid == kid:
                return key
        return None

    def published(self, now: datetime, max_code_lifetime: timedelta) -> list[CardSigningKey]:
        """Return the keys verifiers still need: all but those retired too long ago to matter."""
        now = as_utc(now, "now")
        if max_code_lifetime <= timedelta(0):
            raise ValueError("max_code_lifetime must be positive")
        # A code signed at the instant of retirement expires at retired_at + lifetime at the
        # latest, and a code is valid only while not_after > now; from then on nothing this
        # key signed can pass.
        return [
            key
            for key in self._keys
            if key.retired_at is None or now < key.retired_at + max_code_lifetime
        ]

    def pruned(self, now: datetime, max_code_lifetime: timedelta) -> KeyRing:
        """Return a ring without the keys that are no longer published."""
        return KeyRing(self.published(now, max_code_lifetime))

    def public_only(self) -> KeyRing:
        """Return the same ring without any private keys, for verifiers."""
        return KeyRing(key.public_only() for key in self._keys)

    def to_jwks(self, now: datetime, max_code_lifetime: timedelta) -> dict[str, Any]:
        """Return the JWKS document for ``/.well-known/jwks.json``."""
        return {"keys": [key.to_jwk() for key in self.published(now, max_code_lifetime)]}

    def rotated(self, now: datetime) -> KeyRing:
        """Return a ring with a fresh signing key and the previous signing key retired at now."""
        now = as_utc(now, "now")
        keys = list(self._keys)
        try:
            current = self.newest()
        except LookupError:
            current = None
        if current is not None:
            if now < current.created_at:
                raise ValueError("cannot rotate to a key older than the current signing key")
            keys[keys.index(current)] = current.retired(now)
        fresh = generate_signing_key(now)
        while self.find(fresh.kid) is not None:
            fresh = generate_signing_key(now)
        keys.append(fresh)
        return KeyRing(keys)

    def to_json(self) -> str:
        """Serialise the ring, private keys included, for the server's key file."""
        document = {
            "format": KEY_FILE_FORMAT,
            "version": KEY_FILE_VERSION,
            "keys": [
                {
                    "kid": key.kid_hex,
                    "created_at": key.created_at.isoformat(),
                    "retired_at": None if key.retired_at is None else key.retired_at.isoformat(),
                    "public_key": base64.b64encode(key.public_key.public_bytes_raw()).decode(),
                    "private_key": (
                        None
                        if key.private_key is None
                        else base64.b64encode(key.private_key.private_bytes_raw()).decode()
                    ),
                }
                for key in self._keys
            ],
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        """Load a ring written by :meth:`to_json`, or raise ValueError."""
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"the key file is not JSON: {exc}") from exc
        if (
            not isinstance(document, dict)
            or document.get("format") != KEY_FILE_FORMAT
            or document.get("version") != KEY_FILE_VERSION
            or not isinstance(document.get("keys"), list)
        ):
            raise ValueError(f"not a {KEY_FILE_FORMAT} version {KEY_FILE_VERSION} document")
        return cls(_key_from_document(entry) for entry in document["keys"])


def _key_from_document(entry: object) -> CardSigningKey:
    if not isinstance(entry, dict):
        raise ValueError("each key entry must be a JSON object")
    try:
        kid = bytes.fromhex(entry["kid"])
        public_key = Ed25519PublicKey.from_public_bytes(_base64_32(entry["public_key"]))
        private_text = entry["private_key"]
        private_key = (
            None
            if private_text is None
            else Ed25519PrivateKey.from_private_bytes(_base64_32(private_text))
        )
        created_at = datetime.fromisoformat(entry["created_at"])
        retired_text = entry["retired_at"]
        retired_at = None if retired_text is None else datetime.fromisoformat(retired_text)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed key entry: {exc!r}") from exc
    return CardSigningKey(
        kid=kid,
        private_key=private_key,
        public_key=public_key,
        created_at=created_at,
        retired_at=retired_at,
    )


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _base64_32(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError("expected a base64 string")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from exc
    if len(raw) != 32:
        raise ValueError(f"expected 32 raw key bytes, got {len(raw)}")
    return raw
