"""The card-signing key ring of this instance.

The ring (``wallet.keys.KeyRing``) lives in the instance's secrets file, created with one
Ed25519 key on first use. ``flask --app app keys rotate-card-key`` adds a new signing key and
retires the previous one; retired keys stay in the JWKS for as long as a card code they signed
can still be valid (the card validity period), then drop out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app

from app.db import utcnow
from wallet.keys import KeyRing

DOCUMENT = "card-signing-keys"


PARSED_RING = "lw_card_key_ring"


def card_validity() -> timedelta:
    """Return how long a card (and so a static code) stays valid."""
    return timedelta(days=int(current_app.config.get("CARD_VALIDITY_DAYS", 730)))


def card_key_ring() -> KeyRing:
    """Return the instance's card-signing key ring, creating it on first use."""
    secrets = current_app.extensions["lw_secrets"]
    stored = secrets.document(DOCUMENT)
    if stored is None:

        def create_if_missing(current: Any) -> Any:
            return current or KeyRing.generate(utcnow()).to_json()

        stored = secrets.update_document(DOCUMENT, create_if_missing)
    # Parsing the ring builds Ed25519 keys: keep the parsed ring for as long as the stored
    # document is the same object (the instance secrets re-read the file when it changes on
    # disk, after a rotation by any process, and then hand out a new object).
    cached = current_app.extensions.get(PARSED_RING)
    if cached is not None and cached[0] is stored:
        ring: KeyRing = cached[1]
        return ring
    ring = KeyRing.from_json(stored)
    current_app.extensions[PARSED_RING] = (stored, ring)
    return ring


def rotate_card_key() -> KeyRing:
    """Start signing card codes with a new key; keep the old one published while needed."""
    now = utcnow()

    def rotate(current: Any) -> Any:
        ring = KeyRing.from_json(current) if current else KeyRing.generate(now)
        return ring.rotated(now).pruned(now, card_validity()).to_json()

    return KeyRing.from_json(current_app.extensions["lw_secrets"].update_document(DOCUMENT, rotate))
