"""The one export of a campaign's anonymous codes, and the campaign views.

The sealed batch is opened once, written out as CSV, and set to NULL in the same transaction,
so a database dump taken after the export holds no way back to the codes; one taken before
holds ciphertext that needs the instance folder.
"""

from __future__ import annotations

import logging
import secrets
import zlib
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from app.accounts.models import StaffAccount
from app.campaigns.codes import export_key
from app.campaigns.models import Campaign, Coupon
from app.db import iso_or_none, utcnow
from app.errors import DomainError
from app.extensions import db
from app.naming import NameBook
from coupons.codes import CANONICAL_LENGTH
from coupons.errors import SealedCodeError

log = logging.getLogger("app.campaigns")

log = logging.getLogger("app.campaigns")

EXPORT_ASSOCIATED_DATA = b"campaign-export-v1:"
EXPORT_NONCE_BYTES = 12


def seal_export(campaign_id: int, codes: list[str]) -> bytes:
    """Seal a campaign's codes (compressed, concatenated canonical codes) under the export key."""
    nonce = secrets.token_bytes(EXPORT_NONCE_BYTES)
    plain = zlib.compress("".join(codes).encode("ascii"))
    associated = EXPORT_ASSOCIATED_DATA + str(campaign_id).encode()
    return nonce + export_key().encrypt(nonce, plain, associated)


def _open_export(campaign_id: int, sealed: bytes) -> list[str]:
    """Open a campaign's sealed batch and return its canonical codes."""
    blob = bytes(sealed)
    associated = EXPORT_ASSOCIATED_DATA + str(campaign_id).encode()
    try:
        plain = export_key().decrypt(
            blob[:EXPORT_NONCE_BYTES], blob[EXPORT_NONCE_BYTES:], associated
        )
    except InvalidTag:
        raise SealedCodeError("the campaign's sealed codes do not open") from None
    text = zlib.decompress(plain).decode("ascii")
    return [text[i : i + CANONICAL_LENGTH] for i in range(0, len(text), CANONICAL_LENGTH)]


def get_campaign(campaign_id: int, *, lock: bool = False) -> Campaign:
    """Return a campaign, or refuse with ``unknown-campaign``."""
    query = select(Campaign).where(Campaign.id == campaign_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    campaign = db.session.scalar(query)
    if campaign is None:
        raise DomainError("unknown-campaign", f"There is no campaign {campaign_id}.")
    return campaign


def export_campaign_codes(campaign_id: int, *, staff_id: int | None, via: str) -> list[str]:
    """Hand out a campaign's anonymous codes once, destroying the sealed copy; refuse a repeat."""
    campaign = db.session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id)
        .options(undefer(Campaign.export_sealed))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if campaign is None:
        raise DomainError("unknown-campaign", f"There is no campaign {campaign_id}.")
    if campaign.audience != "anonymous":
        raise DomainError(
            "campaign-has-no-export",
            "Member campaigns put each code in the member's wallet; there is no code list.",
        )
    if campaign.exported_at is not None:
        raise DomainError(
            "codes-already-exported",
            "This campaign's codes were handed out once and are not kept; void the campaign and "
            "create a new one if the export was lost.",
            exported_at=campaign.exported_at.isoformat(),
            exported_by=_staff_summary(campaign.exported_by_staff_id),
            exported_via=campaign.exported_via,
        )
    if campaign.voided_at is not None or campaign.export_sealed is None:
        raise DomainError(
            "campaign-voided", "This campaign was voided; its codes were destroyed unexported."
        )
    codes = _open_export(campaign.id, campaign.export_sealed)
    campaign.export_sealed = None
    campaign.exported_at = utcnow()
    campaign.exported_by_staff_id = staff_id
    campaign.exported_via = via
    db.session.flush()
    return codes


def codes_csv(codes: Sequence[str]) -> str:
    """Return canonical codes as CSV: one display-form code per row, CRLF line ends (RFC 4180)."""
    # The grouping of coupons.codes.format_code (a test pins the equality) without its per-code
    # check-symbol validation: these codes come from our own generator.
    return "".join(f"{c[0:4]}-{c[4:8]}-{c[8:12]}-{c[12:]}\r\n" for c in codes)


def _staff_summary(staff_id: int | None) -> dict[str, Any] | None:
    """Return who a staff account is, for answers that name one."""
    if staff_id is None:
        return None
    staff = db.session.get(StaffAccount, staff_id)
    return {"staff_id": staff_id, "display_name": staff.display_name if staff else None}


def mark_exported(campaign: Campaign, *, staff_id: int | None, via: str) -> None:
    """Record that a campaign's codes were handed out outside the API (by the CLI)."""
    campaign.export_sealed = None
    campaign.exported_at = utcnow()
    campaign.exported_by_staff_id = staff_id
    campaign.exported_via = via
    db.session.flush()


def list_campaigns() -> Sequence[Campaign]:
    """List campaigns, newest first."""
    return db.session.scalars(select(Campaign).order_by(Campaign.id.desc())).all()


def campaign_views(campaigns: Sequence[Campaign]) -> list[dict[str, Any]]:
    """Return campaigns with their redeemed and voided counts (one grouped query), JSON-ready."""
    counts: dict[int, tuple[int, int]] = {}
    if campaigns:
        rows = db.session.execute(
            select(Coupon.campaign_id, func.count(Coupon.redeemed_at), func.count(Coupon.voided_at))
            .where(Coupon.campaign_id.in_([campaign.id for campaign in campaigns]))
            .group_by(Coupon.campaign_id)
        )
        counts = {int(row[0]): (int(row[1]), int(row[2])) for row in rows}
    names = NameBook()
    for campaign in campaigns:
        names.want("staff", campaign.created_by_staff_id, campaign.exported_by_staff_id)
    names.load()
    return [
        {
            **_campaign_view(campaign, *counts.get(campaign.id, (0, 0))),
            "created_by_staff": names.ref("staff", campaign.created_by_staff_id),
            "exported_by_staff": names.ref("staff", campaign.exported_by_staff_id),
        }
        for campaign in campaigns
    ]


def campaign_view(campaign: Campaign) -> dict[str, Any]:
    """Return one campaign with its redeemed and voided counts, JSON-ready."""
    return campaign_views([campaign])[0]


def _campaign_view(campaign: Campaign, redeemed: int, voided: int) -> dict[str, Any]:
    """Return a campaign and its counts as JSON-ready data."""
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "audience": campaign.audience,
        "benefit": campaign.benefit,
        "valid_from": iso_or_none(campaign.valid_from),
        "valid_until": iso_or_none(campaign.valid_until),
        "store_ids": campaign.store_ids,
        "min_basket_cents": campaign.min_basket_cents,
        "max_uses_per_member": campaign.max_uses_per_member,
        "code_count": campaign.code_count,
        "redeemed_count": redeemed,
        "voided_count": voided,
        "created_at": iso_or_none(campaign.created_at),
        "created_by_staff_id": campaign.created_by_staff_id,
        "exported_at": iso_or_none(campaign.exported_at),
        "exported_by_staff_id": campaign.exported_by_staff_id,
        "voided_at": iso_or_none(campaign.voided_at),
    }


def export_filename(campaign_id: int) -> str:
    """Return the download name of a campaign's code list."""
    return f"campaign-{campaign_id}-codes.csv"
