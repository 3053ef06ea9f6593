"""Branding: what the apps show as the shop's name, logo and colours.

Until the back office stores branding in the database, it comes from configuration
(``LW_SHOP_NAME``, ``LW_SHOP_LOGO_URL``, ``LW_BRAND_COLOR``, ``LW_ACCENT_COLOR``). The answer's
shape, ``{name, logo_url, primary_color, accent_color}``, is what the PWA reads; a stored
branding only has to fill the same fields.
"""

from __future__ import annotations

import re

from flask import current_app

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_PRIMARY = "#2b2d77"
DEFAULT_ACCENT = "#e4572e"


def _colour(value: object, default: str) -> str:
    """Return a #rrggbb colour, or the default when the configured one is not one."""
    text = str(value or "")
    return text.lower() if HEX_COLOUR.match(text) else default


def current_branding() -> dict[str, str]:
    """Return the shop's branding as configured."""
    config = current_app.config
    return {
        "name": str(config.get("SHOP_NAME") or "Loyalty Wallet"),
        "logo_url": str(config.get("SHOP_LOGO_URL") or ""),
        "primary_color": _colour(config.get("BRAND_COLOR"), DEFAULT_PRIMARY),
        "accent_color": _colour(config.get("ACCENT_COLOR"), DEFAULT_ACCENT),
    }
