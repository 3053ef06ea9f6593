"""The coupon policy: offline floor limits, the offline age limit, the reversal window.

Read on every offline sync and reversal, so it is cached per process
(``app.settings_cache``) and a change applies everywhere from the next request on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.campaigns.models import CouponSettings
from app.db import iso_or_none, utcnow
from app.extensions import db
from app.settings_cache import bump_version, cached_setting

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")

DEFAULT_SETTINGS: dict[str, int] = {
    "offline_floor_limit_cents": 2_500,
    "offline_floor_limit_points": 500,
    "offline_max_age_hours": 72,
    "reversal_window_minutes": 30,
}
SETTINGS_ROW_ID = 1
SETTINGS_NAME = "coupon-settings"


def coupon_settings() -> dict[str, Any]:
    """Return the coupon policy (saved values, or the defaults), cached per process."""
    return dict(cached_setting(SETTINGS_NAME, load_coupon_settings))


def load_coupon_settings() -> dict[str, Any]:
    """Read the coupon policy from the database."""
    row = db.session.get(CouponSettings, SETTINGS_ROW_ID)
    if row is None:
        return {**DEFAULT_SETTINGS, "updated_at": None, "updated_by_staff_id": None}
    return _settings_view(row)


def _settings_view(row: CouponSettings) -> dict[str, Any]:
    """Return the saved coupon settings as JSON-ready data."""
    return {
        **{name: getattr(row, name) for name in DEFAULT_SETTINGS},
        "updated_at": iso_or_none(row.updated_at),
        "updated_by_staff_id": row.updated_by_staff_id,
    }


def update_coupon_settings(changes: Mapping[str, int], *, staff_id: int) -> dict[str, Any]:
    """Change some of the coupon policy's values; the others keep theirs."""
    row = db.session.get(CouponSettings, SETTINGS_ROW_ID, with_for_update=True)
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(
                    CouponSettings(id=SETTINGS_ROW_ID, updated_at=utcnow(), **DEFAULT_SETTINGS)
                )
        except IntegrityError:
            pass  # a concurrent first save made the row; lock and change that one
        row = db.session.get(
            CouponSettings, SETTINGS_ROW_ID, with_for_update=True, populate_existing=True
        )
        assert row is not None
    for name, value in changes.items():
        if name in DEFAULT_SETTINGS:
            setattr(row, name, int(value))
    row.updated_at = utcnow()
    row.updated_by_staff_id = staff_id
    db.session.flush()
    bump_version(SETTINGS_NAME)
    return _settings_view(row)
