"""Fixtures shared by the wallet library tests: a fixed clock, a key ring, a card."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from wallet.keys import KeyRing

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
CARD_ID = uuid.UUID("0190f5e4-7c3a-7d2e-9b1f-4a6c8e0d2f13")
ONE_YEAR = timedelta(days=365)


@pytest.fixture
def now() -> datetime:
    """Return the fixed instant the tests treat as the present."""
    return NOW


@pytest.fixture
def card_id() -> uuid.UUID:
    """Return a fixed card identifier."""
    return CARD_ID


@pytest.fixture
def keyring() -> KeyRing:
    """Return a key ring with one fresh signing key created at NOW."""
    return KeyRing.generate(NOW)
