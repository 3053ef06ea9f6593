"""Time helpers shared by the wallet modules.

Every instant this package accepts or returns is a timezone-aware datetime in UTC. Naive
datetimes are refused rather than guessed at: a server whose local zone is not UTC would
otherwise shift every expiry and every TOTP step by its offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(instant: datetime, name: str = "instant") -> datetime:
    """Return ``instant`` converted to UTC, refusing naive datetimes."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got a naive one")
    return instant.astimezone(UTC)


def unix_seconds(instant: datetime, name: str = "instant") -> int:
    """Return the whole Unix seconds of ``instant``, rounding down."""
    return (as_utc(instant, name) - UNIX_EPOCH) // timedelta(seconds=1)


def from_unix_seconds(seconds: int) -> datetime:
    """Return the UTC datetime for a count of Unix seconds."""
    return UNIX_EPOCH + timedelta(seconds=seconds)
