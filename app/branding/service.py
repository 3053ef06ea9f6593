"""Reading and changing the shop's branding.

``current_branding()`` answers the saved row if an admin saved one, else the configuration
(``BRANDING_NAME``, ``BRANDING_PRIMARY_COLOR``, ``BRANDING_ACCENT_COLOR``, ``BRANDING_LOGO_URL``),
else the built-in defaults. The primary colour is the background of the apps' top bar under
white text, so a change is refused unless white on it reaches the WCAG AA contrast of 4.5:1:
no admin can make the member app unreadable by picking a pale colour.

A logo arrives as a ``data:`` URL (PNG, JPEG or WebP, checked by its first bytes, not by the
declared type) and is served at ``/api/v1/branding/logo``; ``logo_url`` carries the content
hash as a query, so a new logo is never hidden by a cached old one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy.exc import IntegrityError

from app.branding.models import BRANDING_ROW_ID, Branding
from app.db import iso_or_none, utcnow
from app.errors import Problem
from app.extensions import db

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_BRANDING = {
    "name": "Loyalty Wallet",
    "primary_color": "#2b2d77",
    "accent_color": "#f4b400",
    "logo_url": None,
}
MAX_LOGO_BYTES = 256 * 1024
MIN_CONTRAST_ON_WHITE = 4.5
LOGO_PATH = "/api/v1/branding/logo"
_LOGO_SIGNATURES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),
}


def _colour(value: object, default: str) -> str:
    """Return a #rrggbb colour, or the default when the configured one is not one."""
    text = str(value or "")
    return text.lower() if HEX_COLOUR.match(text) else default


def _configured() -> dict[str, Any]:
    config = current_app.config
    return {
        "name": str(config.get("BRANDING_NAME") or DEFAULT_BRANDING["name"]),
        "primary_color": _colour(
            config.get("BRANDING_PRIMARY_COLOR"), str(DEFAULT_BRANDING["primary_color"])
        ),
        "accent_color": _colour(
            config.get("BRANDING_ACCENT_COLOR"), str(DEFAULT_BRANDING["accent_color"])
        ),
        "logo_url": config.get("BRANDING_LOGO_URL") or None,
    }


def current_branding() -> dict[str, Any]:
    """Return the public branding: ``{"name", "logo_url", "primary_color", "accent_color"}``."""
    row = db.session.get(Branding, BRANDING_ROW_ID)
    if row is None:
        return _configured()
    return _public_view(row)


def _public_view(row: Branding) -> dict[str, Any]:
    return {
        "name": row.name,
        "logo_url": f"{LOGO_PATH}?v={row.logo_sha256[:12]}" if row.logo_sha256 else None,
        "primary_color": row.primary_color,
        "accent_color": row.accent_color,
    }


def branding_for_admin() -> dict[str, Any]:
    """Return the branding with who saved it when (``saved``: false while configuration rules)."""
    row = db.session.get(Branding, BRANDING_ROW_ID)
    if row is None:
        return {**_configured(), "saved": False, "updated_at": None, "updated_by_staff_id": None}
    return {
        **_public_view(row),
        "saved": True,
        "updated_at": iso_or_none(row.updated_at),
        "updated_by_staff_id": row.updated_by_staff_id,
    }


def logo() -> tuple[bytes, str]:
    """Return the saved logo and its media type, or refuse with ``not-found``."""
    row = db.session.get(Branding, BRANDING_ROW_ID)
    if row is None or row.logo is None or row.logo_type is None:
        # Problem, not DomainError: werkzeug answers "not-found" titled "Not Found".
        raise Problem("not-found", 404, "Not found", "No logo has been uploaded.")
    return row.logo, row.logo_type


def _relative_luminance(hex_color: str) -> float:
    channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_with_white(hex_color: str) -> float:
    """Return the WCAG contrast ratio of white text on the colour."""
    return 1.05 / (_relative_luminance(hex_color) + 0.05)


def _invalid(field: str, message: str) -> Problem:
    # Problem, not DomainError: "validation-error" is answered with several titles today.
    return Problem(
        "validation-error",
        422,
        "Invalid request",
        message,
        errors={"json": {field: [message]}},
    )


def _decode_logo(data_url: str) -> tuple[bytes, str]:
    header, _, payload = data_url.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise _invalid("logo_data_url", "The logo must be a base64 data: URL.")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid("logo_data_url", "The logo is not valid base64.") from None
    if len(data) > MAX_LOGO_BYTES:
        raise _invalid("logo_data_url", f"The logo may be at most {MAX_LOGO_BYTES // 1024} KB.")
    for media_type, signatures in _LOGO_SIGNATURES.items():
        if any(data.startswith(signature) for signature in signatures):
            if media_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return data, media_type
    raise _invalid("logo_data_url", "The logo must be a PNG, JPEG or WebP image.")


def update_branding(changes: Mapping[str, Any], *, staff_id: int) -> dict[str, Any]:
    """Save some of the branding; what is not sent keeps its current value."""
    primary = changes.get("primary_color")
    if primary is not None and contrast_with_white(primary) < MIN_CONTRAST_ON_WHITE:
        raise _invalid(
            "primary_color",
            f"White text on {primary} has a contrast of {contrast_with_white(primary):.1f}:1; "
            f"it needs at least {MIN_CONTRAST_ON_WHITE}:1 to be readable. Pick a darker colour.",
        )
    row = _locked_row()
    for name in ("name", "primary_color", "accent_color"):
        if changes.get(name) is not None:
            setattr(row, name, changes[name].strip() if name == "name" else changes[name].lower())
    if "logo_data_url" in changes:
        if changes["logo_data_url"] is None:
            row.logo, row.logo_type, row.logo_sha256 = None, None, None
        else:
            data, media_type = _decode_logo(changes["logo_data_url"])
            row.logo, row.logo_type = data, media_type
            row.logo_sha256 = hashlib.sha256(data).hexdigest()
    row.updated_at = utcnow()
    row.updated_by_staff_id = staff_id
    db.session.flush()
    return branding_for_admin()


def _locked_row() -> Branding:
    """Return the branding row locked for change, creating it from the configuration."""
    row = db.session.get(Branding, BRANDING_ROW_ID, with_for_update=True)
    if row is not None:
        return row
    configured = _configured()
    try:
        with db.session.begin_nested():
            db.session.add(
                Branding(
                    id=BRANDING_ROW_ID,
                    name=configured["name"],
                    primary_color=configured["primary_color"],
                    accent_color=configured["accent_color"],
                    updated_at=utcnow(),
                )
            )
    except IntegrityError:
        pass  # a concurrent first save made the row; lock and change that one
    row = db.session.get(Branding, BRANDING_ROW_ID, with_for_update=True, populate_existing=True)
    assert row is not None
    return row
