"""The service desk's coupon check: everything staff may know about a coupon, nothing changed.

``POST /api/v1/coupons/lookup`` (managers and admins) answers a coupon's terms and state as the
till sees them, plus what a desk needs to settle a customer's question: the campaign it belongs
to, the member it is bound to, and every redemption on record with when, in which store, at
which till, by whom and on which receipt, including reversed ones. It never shows the code (the
caller typed it) and changes no coupon: no redemption, no use counted. (A well-formed code that
matches nothing still counts towards the caller's guess lockout, in ``find_coupon``.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.campaigns.models import Campaign, Coupon, Redemption
from app.campaigns.views import coupon_view
from app.db import iso_or_none
from app.extensions import db
from app.naming import NameBook


def coupon_check_view(coupon: Coupon) -> dict[str, Any]:
    """Return a coupon's terms and state with its campaign, member and redemptions, named."""
    redemptions = db.session.scalars(
        select(Redemption).where(Redemption.coupon_id == coupon.id).order_by(Redemption.use_no)
    ).all()
    names = NameBook().want("member", coupon.member_id)
    for redemption in redemptions:
        names.want("store", redemption.store_id)
        names.want("till", redemption.till_id, redemption.reversed_at_till_id)
        names.want("staff", redemption.staff_id, redemption.reversed_by_staff_id)
        names.want("member", redemption.member_id)
    names.load()
    campaign = db.session.get(Campaign, coupon.campaign_id) if coupon.campaign_id else None
    return {
        **coupon_view(coupon),
        "campaign": {"id": campaign.id, "name": campaign.name} if campaign else None,
        "member": names.ref("member", coupon.member_id),
        "use_count": coupon.use_count,
        "redemptions": [_redemption_view(redemption, names) for redemption in redemptions],
    }


def _redemption_view(redemption: Redemption, names: NameBook) -> dict[str, Any]:
    return {
        "redemption_id": str(redemption.id),
        "redeemed_at": iso_or_none(redemption.redeemed_at),
        "store": names.ref("store", redemption.store_id),
        "till": names.ref("till", redemption.till_id),
        "staff": names.ref("staff", redemption.staff_id),
        "member": names.ref("member", redemption.member_id),
        "receipt_id": redemption.receipt_id,
        "discount_cents": redemption.discount_cents,
        "bonus_points": redemption.bonus_points,
        "currency": redemption.currency,
        "offline": redemption.offline,
        "reversed_at": iso_or_none(redemption.reversed_at),
        "reversed_by": names.ref("staff", redemption.reversed_by_staff_id),
        "reversal_reason": redemption.reversal_reason,
    }
