"""Coupon codes in storage: the keys derived from the instance secret, and the lookup by hash.

A code is looked up by HMAC-SHA256 under a key derived from the instance secret
``coupon-storage`` (``coupons.storage.derive_storage_keys``). Reading a typed or scanned code
refuses a typo (``invalid-code``) before any database access, so a typo never counts as a
guess; a well-formed code that matches no coupon is ``unknown-code``, which the till pipeline
counts towards the guess lockout.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from sqlalchemy import bindparam, select

from app.campaigns.models import Coupon
from app.errors import DomainError, Problem
from app.extensions import db
from coupons.codes import normalise_code as _normalise_code
from coupons.errors import InvalidCode
from coupons.storage import (
    StorageKeys,
    code_lookup_hash,
    derive_storage_keys,
)

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")

STORAGE_SECRET_NAME = "coupon-storage"
EXPORT_KEY_INFO = b"loyalty-wallet/campaigns/export-v1"


def storage_keys() -> StorageKeys:
    """Return the lookup, fingerprint and seal keys derived from the instance secret."""
    secret: bytes = current_app.extensions["lw_secrets"].named_key(STORAGE_SECRET_NAME)
    return derive_storage_keys(secret)


def export_key() -> AESGCM:
    """Return the AES-GCM key that seals campaign code batches for their one export."""
    secret: bytes = current_app.extensions["lw_secrets"].named_key(STORAGE_SECRET_NAME)
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=EXPORT_KEY_INFO)
    return AESGCM(kdf.derive(secret))


def read_code(text: str) -> str:
    """Return the canonical form of a typed or scanned code, or refuse it as ``invalid-code``."""
    try:
        return _normalise_code(text)
    except InvalidCode as exc:
        # Problem, not DomainError: the coupons library's error gives status and title.
        raise Problem(InvalidCode.type, InvalidCode.status, InvalidCode.title, str(exc)) from None


_COUPON_BY_HASH = (
    select(Coupon)
    .where(Coupon.code_hash == bindparam("code_hash"))
    .execution_options(populate_existing=True)
)


def lookup_hash_of(canonical: str) -> bytes:
    """Return the hash a coupon with this canonical code is stored and found under."""
    return code_lookup_hash(canonical, storage_keys().lookup)


def find_coupon(canonical: str) -> Coupon:
    """Return the coupon with this canonical code, or refuse with ``unknown-code``."""
    coupon = db.session.scalar(_COUPON_BY_HASH, {"code_hash": lookup_hash_of(canonical)})
    if coupon is None:
        raise DomainError("unknown-code", "No coupon has this code; check it again.")
    return coupon
