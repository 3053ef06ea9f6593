"""Coupon routes: campaigns and voiding (managers), the offline-sync review queue, the coupon
settings, and the member's own coupons. The till's coupon routes are in ``app.till``.

Views hand the work to the modules of this package: ``issuing``, ``export``, ``voiding``,
``wallet``, ``settings`` and ``conflicts``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import (
    MANAGER_ROLES,
    current_identity,
    member_required,
    staff_required,
)
from app.campaigns import conflicts, desk, export, issuing, settings, views, voiding, wallet
from app.campaigns.schemas import (
    CampaignRequestSchema,
    CampaignSchema,
    ConflictQuerySchema,
    ConflictResolveRequestSchema,
    CouponCheckSchema,
    CouponCodeSchema,
    CouponSchema,
    CouponSettingsSchema,
    CouponVoidRequestSchema,
    MyCouponSchema,
    SyncConflictSchema,
)
from app.stores import scope
from wallet.qr import render_qr_svg

blp = Blueprint(
    "campaigns", __name__, url_prefix="/api/v1", description="Coupons, campaigns and offline sync"
)


# --- campaigns (managers) ---------------------------------------------------------------------


@blp.route("/campaigns")
class Campaigns(MethodView):
    @blp.response(200, CampaignSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List campaigns, newest first."""
        return export.campaign_views(export.list_campaigns())

    @blp.arguments(CampaignRequestSchema)
    @blp.response(201, CampaignSchema)
    @blp.alt_response(403, description="forbidden (a manager naming another store)")
    @blp.alt_response(404, description="unknown-store, unknown-member")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a campaign: anonymous codes to export once, or a coupon per listed member."""
        campaign = issuing.create_campaign(body, staff_id=current_identity().subject_id)
        return export.campaign_view(campaign)


@blp.route("/campaigns/<int:campaign_id>")
class CampaignDetail(MethodView):
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, description="unknown-campaign")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, campaign_id: int) -> dict[str, Any]:
        """Show a campaign with its redemption counts."""
        campaign = export.get_campaign(campaign_id)
        scope.require_some_store(current_identity().subject_id, campaign.store_ids)
        return export.campaign_view(campaign)


@blp.route("/campaigns/<int:campaign_id>/codes.csv")
class CampaignCodes(MethodView):
    @blp.response(200, content_type="text/csv")
    @blp.alt_response(404, description="unknown-campaign")
    @blp.alt_response(409, description="codes-already-exported, campaign-has-no-export")
    @blp.alt_response(410, description="campaign-voided")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, campaign_id: int) -> Response:
        """Download the campaign's codes, once: the server keeps no copy afterwards."""
        scope.require_stores(
            current_identity().subject_id, export.get_campaign(campaign_id).store_ids
        )
        codes = export.export_campaign_codes(
            campaign_id, staff_id=current_identity().subject_id, via="api"
        )
        return _csv(export.codes_csv(codes), export.export_filename(campaign_id))


def _csv(text: str, filename: str) -> Response:
    """Return CSV text as a download that no cache keeps."""
    response = current_app.response_class(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/campaigns/<int:campaign_id>/void")
class CampaignVoid(MethodView):
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, description="unknown-campaign")
    @blp.alt_response(410, description="campaign-voided")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def post(self, campaign_id: int) -> dict[str, Any]:
        """Void every coupon of a campaign (and destroy codes not exported yet)."""
        scope.require_stores(
            current_identity().subject_id, export.get_campaign(campaign_id).store_ids
        )
        campaign = voiding.void_campaign(campaign_id, staff_id=current_identity().subject_id)
        return export.campaign_view(campaign)


# --- coupons (managers) -----------------------------------------------------------------------


@blp.route("/coupons/lookup")
class CouponLookup(MethodView):
    @blp.arguments(CouponCodeSchema)
    @blp.response(200, CouponCheckSchema)
    @blp.alt_response(404, description="unknown-code")
    @blp.alt_response(422, description="invalid-code")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Check a coupon at the service desk without redeeming it (or find it to void it).

        Answers its terms and state with its campaign, member and every redemption on record
        (when, store, till, staff, receipt), by name.
        """
        coupon = voiding.lookup_coupon(body["code"])
        scope.require_some_store(current_identity().subject_id, coupon.store_ids)
        return desk.coupon_check_view(coupon)


@blp.route("/coupons/<int:coupon_id>/void")
class CouponVoid(MethodView):
    @blp.arguments(CouponVoidRequestSchema)
    @blp.response(200, CouponSchema)
    @blp.alt_response(404, description="unknown-coupon")
    @blp.alt_response(409, description="coupon-already-voided")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], coupon_id: int) -> dict[str, Any]:
        """Void a coupon: no till accepts it any more."""
        scope.require_some_store(
            current_identity().subject_id, voiding.get_coupon(coupon_id).store_ids
        )
        coupon = voiding.void_coupon(
            coupon_id, staff_id=current_identity().subject_id, reason=body["reason"]
        )
        return views.coupon_view(coupon)


@blp.route("/coupon-settings")
class CouponSettings(MethodView):
    @blp.response(200, CouponSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> dict[str, Any]:
        """Show the coupon policy: offline floor limits, offline age, reversal window."""
        return settings.coupon_settings()

    @blp.arguments(CouponSettingsSchema)
    @blp.response(200, CouponSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, int]) -> dict[str, Any]:
        """Change the coupon policy (fields left out keep their values)."""
        return settings.update_coupon_settings(body, staff_id=current_identity().subject_id)


# --- at the till ------------------------------------------------------------------------------


@blp.route("/till/sync/conflicts")
class SyncConflicts(MethodView):
    @blp.arguments(ConflictQuerySchema, location="query")
    @blp.response(200, SyncConflictSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List offline events waiting for review (status=open) or already resolved."""
        return [conflicts.conflict_view(c) for c in conflicts.list_conflicts(query["status"])]


@blp.route("/till/sync/conflicts/<int:conflict_id>/resolve")
class SyncConflictResolve(MethodView):
    @blp.arguments(ConflictResolveRequestSchema)
    @blp.response(200, SyncConflictSchema)
    @blp.alt_response(404, description="unknown-conflict")
    @blp.alt_response(409, description="conflict-already-resolved")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, str], conflict_id: int) -> dict[str, Any]:
        """Close a reviewed conflict with a note of what was done."""
        staff_id = current_identity().subject_id
        return conflicts.conflict_view(
            conflicts.resolve_conflict(conflict_id, staff_id=staff_id, **body)
        )


# --- the member's own coupons -----------------------------------------------------------------


@blp.route("/me/coupons")
class MyCoupons(MethodView):
    @blp.response(200, MyCouponSchema(many=True))
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """List my coupons with their codes, validity and state."""
        return wallet.member_coupons(current_identity().subject_id)


@blp.route("/me/coupons/<int:coupon_id>/qr.svg")
class MyCouponQr(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    @blp.alt_response(404, description="unknown-coupon")
    @member_required
    def get(self, coupon_id: int) -> Response:
        """Render one of my coupon codes as an SVG QR code."""
        code = wallet.member_coupon_code(current_identity().subject_id, coupon_id)
        response = current_app.response_class(render_qr_svg(code), mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "private, no-store"
        return response
