"""How a coupon looks in API answers: its state and its JSON-ready view."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from app.campaigns.models import CouponRecord
from app.db import iso_or_none, utcnow

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")


def coupon_state(coupon: CouponRecord, now: datetime) -> str:
    """Name a coupon's state: voided, redeemed, not-yet-valid, expired or active."""
    if coupon.voided_at is not None:
        return "voided"
    if coupon.redeemed_at is not None:
        return "redeemed"
    if coupon.valid_from is not None and now < coupon.valid_from:
        return "not-yet-valid"
    if coupon.valid_until is not None and now >= coupon.valid_until:
        return "expired"
    return "active"


def coupon_view(coupon: CouponRecord, now: datetime | None = None) -> dict[str, Any]:
    """Return what a till or manager may see of a coupon: its terms and state, never its code."""
    return {
        "coupon_id": coupon.id,
        "campaign_id": coupon.campaign_id,
        "source": coupon.source,
        "benefit": coupon.benefit,
        "valid_from": iso_or_none(coupon.valid_from),
        "valid_until": iso_or_none(coupon.valid_until),
        "store_ids": coupon.store_ids,
        "min_basket_cents": coupon.min_basket_cents,
        "max_uses_per_member": coupon.max_uses_per_member,
        "member_bound": coupon.member_id is not None,
        "state": coupon_state(coupon, now or utcnow()),
        "redeemed_at": iso_or_none(coupon.redeemed_at),
        "voided_at": iso_or_none(coupon.voided_at),
    }
