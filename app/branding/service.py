"""Branding: what the apps show as the shop's name, logo and colours.

Until the back office stores branding in the database (issue 14), it comes from configuration:
``BRANDING_NAME``, ``BRANDING_LOGO_URL``, ``BRANDING_PRIMARY_COLOR``, ``BRANDING_ACCENT_COLOR``
(environment variables of the same names). The answer's shape,
``{name, logo_url, primary_color, accent_color}``, is what the PWA reads; a stored branding
only has to fill the same fields.
"""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_BRANDING = {
    "name": "Loyalty Wallet",
    "primary_color": "#2b2d77",
    "accent_color": "#f4b400",
    "logo_url": None,
}


def _colour(value: object, default: str) -> str:
    """Return a #rrggbb colour, or the default when the configured one is not one."""
    text = str(value or "")
    return text.lower() if HEX_COLOUR.match(text) else default


def current_branding() -> dict[str, Any]:
    """Return the public branding: ``{"name", "logo_url", "primary_color", "accent_color"}``."""
    config = current_app.config
    return {
        "name": str(config.get("BRANDING_NAME") or DEFAULT_BRANDING["name"]),
        "logo_url": config.get("BRANDING_LOGO_URL") or None,
        "primary_color": _colour(
            config.get("BRANDING_PRIMARY_COLOR"), str(DEFAULT_BRANDING["primary_color"])
        ),
        "accent_color": _colour(
            config.get("BRANDING_ACCENT_COLOR"), str(DEFAULT_BRANDING["accent_color"])
        ),
    }
