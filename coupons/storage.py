"""Storage that survives a leak: what the database and the logs hold instead of coupon codes.

A coupon code is a bearer secret: whoever knows it can redeem it. So the plain code is never a
column anyone can search, and never a log line.

* ``code_lookup_hash`` = HMAC-SHA256(lookup key, canonical code). The coupons table is indexed
  (UNIQUE) and searched by this 32-byte value. A database dump alone is useless for redeeming:
  without the key, which lives outside the database, turning hashes back into codes means
  guessing 60-bit codes *and* the 256-bit key. A plain unkeyed hash would not do: the code
  space is small enough for an offline search against a stolen table.
* ``code_fingerprint`` = the first 16 hex characters of HMAC-SHA256(fingerprint key, a domain
  label + the text as read). The attempt log stores this, so staff can see that the same (maybe
  mistyped) code was tried five times at two tills without the log revealing the code. The text
  is cleaned with the reading rules first, so ``abcd-…`` and ``ABCD…`` give the same
  fingerprint, valid or not. The domain label keeps a fingerprint from ever being a prefix of
  the lookup hash even if an operator reuses one key for both.
* ``seal_code`` / ``open_sealed_code``: AES-256-GCM with a random 12-byte nonce stored in front
  of the ciphertext and the associated data ``b"coupon-code-v1"`` (a format version: a future
  format gets a new label, so old and new blobs can never be confused). Only coupons bound to a
  member are sealed, so the member's own app can show the code again; campaign codes handed out
  in bulk keep only the lookup hash. GCM authenticates, so a flipped bit or a wrong key is
  refused, never decrypted to garbage.

Every key is 32 bytes. Use three independent keys (lookup, fingerprint, seal), e.g. derived from
one instance secret with ``derive_storage_keys``. Rotating the lookup key means re-hashing from
sealed codes, which only member-bound coupons have; plan campaign expiry accordingly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from coupons.codes import clean_code_text, is_canonical
from coupons.errors import SealedCodeError

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
SEAL_ASSOCIATED_DATA = b"coupon-code-v1"
FINGERPRINT_HEX_CHARS = 16

_FINGERPRINT_LABEL = b"coupon-fingerprint-v1\x00"
_KDF_LABEL = b"loyalty-wallet/coupons/"


@dataclass(frozen=True)
class StorageKeys:
    """The three independent keys coupon storage needs."""

    # repr=False: a StorageKeys that ends up in a log line or traceback must not print keys.
    lookup: bytes = field(repr=False)
    fingerprint: bytes = field(repr=False)
    seal: bytes = field(repr=False)


def derive_storage_keys(secret: bytes) -> StorageKeys:
    """Derive the lookup, fingerprint and seal keys from one secret of at least 32 bytes."""
    if not isinstance(secret, bytes) or len(secret) < KEY_BYTES:
        raise ValueError(f"the storage secret must be at least {KEY_BYTES} bytes")

    def derive(purpose: bytes) -> bytes:
        # HKDF with a distinct info label per purpose: learning one key reveals nothing about
        # the others, and the derivation is stable across restarts.
        kdf = HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=_KDF_LABEL + purpose
        )
        return kdf.derive(secret)

    return StorageKeys(
        lookup=derive(b"lookup"), fingerprint=derive(b"fingerprint"), seal=derive(b"seal")
    )


def code_lookup_hash(canonical: str, key: bytes) -> bytes:
    """Return the HMAC-SHA256 of a canonical code, the value the database is searched by."""
    _require_key(key)
    _require_canonical(canonical)
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).digest()


def code_fingerprint(text: str, key: bytes) -> str:
    """Return a short keyed fingerprint of typed code text, safe to write to logs."""
    _require_key(key)
    # surrogatepass: text from a broken client can hold lone surrogates; the attempt must still
    # be logged rather than crash the logging.
    data = clean_code_text(text).encode("utf-8", "surrogatepass")
    return hmac.new(key, _FINGERPRINT_LABEL + data, hashlib.sha256).hexdigest()[
        :FINGERPRINT_HEX_CHARS
    ]


def seal_code(canonical: str, key: bytes) -> bytes:
    """Encrypt a canonical code for storage: nonce (12 bytes) followed by AES-GCM ciphertext."""
    _require_key(key)
    _require_canonical(canonical)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, canonical.encode("ascii"), SEAL_ASSOCIATED_DATA)


def open_sealed_code(sealed: bytes | bytearray | memoryview, key: bytes) -> str:
    """Decrypt a sealed code and return the canonical code, refusing anything tampered with."""
    _require_key(key)
    # Database drivers may hand back bytearray or memoryview for binary columns.
    blob = bytes(sealed)
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise SealedCodeError("sealed code is too short")
    nonce, ciphertext = blob[:NONCE_BYTES], blob[NONCE_BYTES:]
    try:
        plain = AESGCM(key).decrypt(nonce, ciphertext, SEAL_ASSOCIATED_DATA)
    except InvalidTag:
        raise SealedCodeError("sealed code does not open: tampered with or wrong key") from None
    code = plain.decode("ascii", "replace")
    if not is_canonical(code):
        # Authentic but not a code: sealed by something else under the same key and label.
        raise SealedCodeError("sealed data is not a coupon code")
    return code


def _require_key(key: bytes) -> None:
    """Refuse anything but a 32-byte key, so a short or text key fails loudly at once."""
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ValueError(f"a coupon storage key must be exactly {KEY_BYTES} bytes")


def _require_canonical(canonical: str) -> None:
    """Refuse a non-canonical code: hashing a typed form would never match the stored hash."""
    if not is_canonical(canonical):
        raise ValueError("expected a canonical coupon code; call normalise_code() first")
