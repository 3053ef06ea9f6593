"""Coupon routes: campaigns and voiding (managers), the till's validate, redeem, reverse and
offline sync, the sync review queue, the coupon settings, and the member's own coupons.

Views hand the work to ``app.campaigns.service`` and ``app.campaigns.sync``. Till writes go
through ``run_idempotent`` (the ``Idempotency-Key`` header is required; a retry gets the first
answer) and every till call is on record in the attempt log, accepted or refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import (
    MANAGER_ROLES,
    current_identity,
    member_required,
    staff_required,
    till_required,
)
from app.campaigns import desk, service, sync
from app.campaigns.schemas import (
    CampaignRequestSchema,
    CampaignSchema,
    ConflictQuerySchema,
    ConflictResolveRequestSchema,
    CouponCheckSchema,
    CouponCodeSchema,
    CouponReversalSchema,
    CouponSchema,
    CouponSettingsSchema,
    CouponVoidRequestSchema,
    MyCouponSchema,
    RedeemRequestSchema,
    RedemptionReverseRequestSchema,
    RedemptionSchema,
    SyncAnswerSchema,
    SyncConflictSchema,
    SyncRequestSchema,
    ValidateRequestSchema,
    ValidationAnswerSchema,
)
from app.fraud.attempts import note_attempt
from app.idempotency import run_idempotent
from wallet.qr import render_qr_svg

blp = Blueprint(
    "campaigns", __name__, url_prefix="/api/v1", description="Coupons, campaigns and offline sync"
)

IDEMPOTENCY_HEADER = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": True,
            "schema": {"type": "string", "maxLength": 255},
            "description": "A new UUID per operation; a retry with the same key replays.",
        }
    ]
}
# What present_card may refuse a card_code with, by status.
CARD_REFUSALS_422 = "malformed-code, bad-signature, unknown-key, code-stale, invalid-scan-token"
CARD_REFUSALS_410 = "card-expired, card-revoked"


def _place() -> service.TillPlace:
    """Return the till, store and cashier of the current till session."""
    identity = current_identity()
    assert identity.till_id is not None and identity.store_id is not None
    return service.TillPlace(
        identity.till_id, identity.store_id, identity.subject_id, identity.role
    )


def _redeem(body: Mapping[str, Any]) -> Response:
    """Redeem once per Idempotency-Key of this till."""
    place = _place()
    return run_idempotent(
        scope=f"till:{place.till_id}",
        operation=sync.REDEEM_OPERATION,
        payload=body,
        action=lambda: (service.redeem_request(body, place), 200),
    )


def _reverse(redemption_id: uuid.UUID, body: Mapping[str, Any]) -> Response:
    """Reverse once per Idempotency-Key of this till."""
    place = _place()
    return run_idempotent(
        scope=f"till:{place.till_id}",
        operation="redemption-reverse",
        payload={"redemption_id": str(redemption_id), **body},
        action=lambda: (
            service.reverse_redemption(redemption_id, place=place, reason=body["reason"]),
            200,
        ),
    )


# --- campaigns (managers) ---------------------------------------------------------------------


@blp.route("/campaigns")
class Campaigns(MethodView):
    @blp.response(200, CampaignSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List campaigns, newest first."""
        return service.campaign_views(service.list_campaigns())

    @blp.arguments(CampaignRequestSchema)
    @blp.response(201, CampaignSchema)
    @blp.alt_response(403, description="forbidden (a manager naming another store)")
    @blp.alt_response(404, description="unknown-store, unknown-member")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a campaign: anonymous codes to export once, or a coupon per listed member."""
        campaign = service.create_campaign(body, staff_id=current_identity().subject_id)
        return service.campaign_view(campaign)


@blp.route("/campaigns/<int:campaign_id>")
class CampaignDetail(MethodView):
    @blp.response(200, CampaignSchema)
    @blp.alt_response(404, description="unknown-campaign")
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, campaign_id: int) -> dict[str, Any]:
        """Show a campaign with its redemption counts."""
        return service.campaign_view(service.get_campaign(campaign_id))


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
        codes = service.export_campaign_codes(
            campaign_id, staff_id=current_identity().subject_id, via="api"
        )
        return _csv(service.codes_csv(codes), service.export_filename(campaign_id))


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
        campaign = service.void_campaign(campaign_id, staff_id=current_identity().subject_id)
        return service.campaign_view(campaign)


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
        return desk.coupon_check_view(service.lookup_coupon(body["code"]))


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
        coupon = service.void_coupon(
            coupon_id, staff_id=current_identity().subject_id, reason=body["reason"]
        )
        return service.coupon_view(coupon)


@blp.route("/coupon-settings")
class CouponSettings(MethodView):
    @blp.response(200, CouponSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> dict[str, Any]:
        """Show the coupon policy: offline floor limits, offline age, reversal window."""
        return service.coupon_settings()

    @blp.arguments(CouponSettingsSchema)
    @blp.response(200, CouponSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, int]) -> dict[str, Any]:
        """Change the coupon policy (fields left out keep their values)."""
        return service.update_coupon_settings(body, staff_id=current_identity().subject_id)


# --- at the till ------------------------------------------------------------------------------


@blp.route("/till/coupons/validate")
class TillValidate(MethodView):
    @blp.arguments(ValidateRequestSchema)
    @blp.response(200, ValidationAnswerSchema)
    @blp.alt_response(403, description="member-blocked")
    @blp.alt_response(404, description="unknown-code, unknown-card")
    @blp.alt_response(409, description="code-replayed")
    @blp.alt_response(410, description=CARD_REFUSALS_410)
    @blp.alt_response(422, description="invalid-code, " + CARD_REFUSALS_422)
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check a coupon without redeeming it; a refusal is in the answer, nothing changes."""
        note_attempt("coupon-validate", code=body["code"])
        return service.validate_request(body, _place())


@blp.route("/till/coupons/redeem")
class TillRedeem(MethodView):
    @blp.arguments(RedeemRequestSchema)
    @blp.response(200, RedemptionSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(400, description="idempotency-key-required")
    @blp.alt_response(403, description="wrong-store, wrong-member, member-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(404, description="unknown-code, unknown-card")
    @blp.alt_response(
        409, description="coupon-already-redeemed, use-limit-reached, code-replayed, conflict"
    )
    @blp.alt_response(410, description="coupon-expired, coupon-voided, " + CARD_REFUSALS_410)
    @blp.alt_response(
        422,
        description="invalid-code, coupon-not-yet-valid, basket-too-small, item-not-in-basket, "
        "member-card-required, idempotency-key-reused, " + CARD_REFUSALS_422,
    )
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, Any]) -> Response:
        """Redeem a coupon once; a retry with the same Idempotency-Key gets the first answer."""
        note_attempt("coupon-redeem", code=body["code"])
        return _redeem(body)


@blp.route("/till/redemptions/<uuid:redemption_id>/reverse")
class TillReverse(MethodView):
    @blp.arguments(RedemptionReverseRequestSchema)
    @blp.response(200, CouponReversalSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(403, description="reversal-not-allowed, reversal-window-closed")
    @blp.alt_response(404, description="unknown-redemption")
    @blp.alt_response(409, description="redemption-already-reversed")
    @till_required()
    def post(self, body: dict[str, Any], redemption_id: uuid.UUID) -> Response:
        """Undo a redemption (sale cancelled): same till within the window, or a manager."""
        note_attempt("coupon-reverse")
        return _reverse(redemption_id, body)


@blp.route("/till/sync")
class TillSync(MethodView):
    @blp.arguments(SyncRequestSchema)
    @blp.response(200, SyncAnswerSchema)
    @blp.alt_response(422, description="validation-error")
    @till_required()
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send what the till did offline; each event is answered and replays change nothing."""
        note_attempt("till-sync")
        return sync.sync_events(body["events"], place=_place())


@blp.route("/till/sync/conflicts")
class SyncConflicts(MethodView):
    @blp.arguments(ConflictQuerySchema, location="query")
    @blp.response(200, SyncConflictSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List offline events waiting for review (status=open) or already resolved."""
        return [sync.conflict_view(c) for c in sync.list_conflicts(query["status"])]


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
        return sync.conflict_view(sync.resolve_conflict(conflict_id, staff_id=staff_id, **body))


# --- the member's own coupons -----------------------------------------------------------------


@blp.route("/me/coupons")
class MyCoupons(MethodView):
    @blp.response(200, MyCouponSchema(many=True))
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """List my coupons with their codes, validity and state."""
        return service.member_coupons(current_identity().subject_id)


@blp.route("/me/coupons/<int:coupon_id>/qr.svg")
class MyCouponQr(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    @blp.alt_response(404, description="unknown-coupon")
    @member_required
    def get(self, coupon_id: int) -> Response:
        """Render one of my coupon codes as an SVG QR code."""
        code = service.member_coupon_code(current_identity().subject_id, coupon_id)
        response = current_app.response_class(render_qr_svg(code), mimetype="image/svg+xml")
        response.headers["Cache-Control"] = "private, no-store"
        return response
