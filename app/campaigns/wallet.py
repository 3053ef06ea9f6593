"""The member's own coupons: listed with their codes, opened from their sealed copies."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from app.campaigns.codes import storage_keys
from app.campaigns.models import Coupon
from app.campaigns.views import coupon_view
from app.db import utcnow
from app.errors import DomainError
from app.extensions import db
from coupons.codes import format_code
from coupons.errors import SealedCodeError
from coupons.storage import (
    open_sealed_code,
)

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")


def member_coupons(member_id: int) -> list[dict[str, Any]]:
    """List a member's own coupons with their codes, newest first."""
    coupons = db.session.scalars(
        select(Coupon).where(Coupon.member_id == member_id).order_by(Coupon.id.desc())
    ).all()
    now = utcnow()
    seal_key = storage_keys().seal
    return [{**coupon_view(coupon, now), **_wallet_code(coupon, seal_key)} for coupon in coupons]


def _wallet_code(coupon: Coupon, seal_key: bytes) -> dict[str, str | None]:
    """Return the display code of a member coupon for the wallet listing."""
    code = _open_member_code(coupon, seal_key)
    return {"code": format_code(code) if code else None}


def _open_member_code(coupon: Coupon, seal_key: bytes) -> str | None:
    """Open a member coupon's sealed code; None if it has none or it does not open."""
    if coupon.sealed_code is None:
        return None
    try:
        return open_sealed_code(coupon.sealed_code, seal_key)
    except SealedCodeError:
        # A server fault (wrong key, tampering): alert, but still list the other coupons.
        log.error("sealed code of coupon %s does not open", coupon.id)
        return None


def member_coupon_code(member_id: int, coupon_id: int) -> str:
    """Return the display code of one of the member's own coupons, or refuse with 404."""
    coupon = db.session.get(Coupon, coupon_id)
    code = None
    if coupon is not None and coupon.member_id == member_id:
        code = _open_member_code(coupon, storage_keys().seal)
    if code is None:
        raise DomainError("unknown-coupon", "You have no such coupon.")
    return format_code(code)
