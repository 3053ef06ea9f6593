"""Managers withdraw coupons: one coupon, or a whole campaign; and look a coupon up by code."""

from __future__ import annotations

import logging

from sqlalchemy import update

from app.campaigns.codes import find_coupon, read_code
from app.campaigns.export import get_campaign
from app.campaigns.models import Campaign, Coupon
from app.db import iso_or_none, utcnow
from app.errors import DomainError
from app.extensions import db

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")


def get_coupon(coupon_id: int) -> Coupon:
    """Return a coupon by id, or refuse with ``unknown-coupon``."""
    coupon = db.session.get(Coupon, coupon_id)
    if coupon is None:
        raise DomainError("unknown-coupon", f"There is no coupon {coupon_id}.")
    return coupon


def void_coupon(coupon_id: int, *, staff_id: int, reason: str | None) -> Coupon:
    """Withdraw a coupon so no till accepts it any more."""
    result = db.session.execute(
        update(Coupon)
        .where(Coupon.id == coupon_id, Coupon.voided_at.is_(None))
        .values(voided_at=utcnow(), voided_by_staff_id=staff_id, void_reason=reason)
        .execution_options(synchronize_session=False)
    )
    coupon = db.session.get(Coupon, coupon_id, populate_existing=True)
    if coupon is None:
        raise DomainError("unknown-coupon", f"There is no coupon {coupon_id}.")
    if getattr(result, "rowcount", 0) != 1:
        raise DomainError(
            "coupon-already-voided",
            "This coupon was voided before.",
            voided_at=iso_or_none(coupon.voided_at),
        )
    return coupon


def void_campaign(campaign_id: int, *, staff_id: int) -> Campaign:
    """Void every coupon of a campaign and destroy its unexported codes."""
    campaign = get_campaign(campaign_id, lock=True)
    if campaign.voided_at is not None:
        raise DomainError(
            "campaign-voided",
            "This campaign was voided before.",
            voided_at=iso_or_none(campaign.voided_at),
        )
    now = utcnow()
    db.session.execute(
        update(Coupon)
        .where(Coupon.campaign_id == campaign.id, Coupon.voided_at.is_(None))
        .values(voided_at=now, voided_by_staff_id=staff_id, void_reason="campaign voided")
        .execution_options(synchronize_session=False)
    )
    campaign.voided_at = now
    campaign.voided_by_staff_id = staff_id
    campaign.export_sealed = None
    db.session.flush()
    return campaign


def lookup_coupon(code_text: str) -> Coupon:
    """Find a coupon by its code for staff (to void it, say)."""
    return find_coupon(read_code(code_text))
