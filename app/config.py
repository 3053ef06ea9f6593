"""Configuration read from the environment, with defaults that run on one machine.

Every setting has an environment variable of the same name (prefixed ``LW_`` where the name
alone would be ambiguous). The README's configuration table lists them; this module is the
single place that reads them. ``create_app(config)`` may override any key, which is how the
tests point the app at a throwaway database and instance folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE_PATH = Path(__file__).resolve().parent.parent / "instance"


def _int(name: str, default: int) -> int:
    """Read an integer environment variable, falling back to a default."""
    raw = os.environ.get(name)
    return int(raw) if raw else default


# Feature settings documented with their feature in docs/ (fraud thresholds, Apple and Google
# wallet credentials, APNs, card validity, push contact, branding defaults, mail sender,
# retention periods, referral and membership rules) are taken over as they are given.
FEATURE_SETTING_PREFIXES = (
    "FRAUD_",
    "APPLE_",
    "APNS_",
    "GOOGLE_",
    "CARD_",
    "PUSH_",
    "OUTBOX_",
    "WEBHOOK_",
    "AUTOMATIONS_",
    "SURVEY_",
    "BRANDING_",
    "MAIL_",
    "MAGIC_LINK_",
    "PRIVACY_",
    "REFERRAL_",
    "MEMBERSHIP_",
    "OUTBOUND_",
    "LIFECYCLE_",
    "KPI_",
    "IMPORT_",
)


def settings_from_environment() -> dict[str, Any]:
    """Collect the app's settings from environment variables."""
    instance_path = Path(os.environ.get("LW_INSTANCE_PATH", DEFAULT_INSTANCE_PATH))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'loyalty.db'}"
    feature_settings = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(FEATURE_SETTING_PREFIXES) and value != ""
    }
    return {
        **feature_settings,
        "INSTANCE_PATH": str(instance_path),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        # A pooled database connection idle this long is pinged before use (app.db).
        "DB_PING_IDLE_SECONDS": float(os.environ.get("LW_DB_PING_IDLE_SECONDS") or 10),
        "PUBLIC_BASE_URL": os.environ.get("LW_PUBLIC_BASE_URL", "http://127.0.0.1:8000"),
        "ISSUER_DOMAIN": os.environ.get("LW_ISSUER_DOMAIN", "loyalty.example"),
        "TOKEN_ISSUER": os.environ.get("LW_TOKEN_ISSUER", "loyalty-wallet"),
        "ACCESS_TOKEN_SECONDS": min(_int("LW_ACCESS_TOKEN_SECONDS", 900), 900),
        "REFRESH_TOKEN_DAYS": _int("LW_REFRESH_TOKEN_DAYS", 30),
        "LOGIN_RATE_LIMIT": os.environ.get("LW_LOGIN_RATE_LIMIT", "10 per minute"),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
        # May a member found by name at the till (no card shown) only earn, never spend?
        "TILL_LOOKUP_EARN_ONLY": os.environ.get("LW_TILL_LOOKUP_EARN_ONLY", "1") != "0",
        # Request limits (app.request_limits, docs/security.md).
        "MAX_CONTENT_LENGTH": _int("MAX_CONTENT_LENGTH", 256 * 1024),
        "MAX_JSON_DEPTH": _int("MAX_JSON_DEPTH", 20),
        "MAX_JSON_ARRAY_ITEMS": _int("MAX_JSON_ARRAY_ITEMS", 10_000),
    }


def normalise_database_url(url: str) -> str:
    """Pick the psycopg 3 driver for plain ``postgres://`` and ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
