"""Referral routes: my code, link and QR, the members I referred, entering a code late."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.access import current_identity, member_required
from app.auth.service import device_hash
from app.referrals import service
from wallet.qr import render_qr_svg

blp = Blueprint("referrals", __name__, url_prefix="/api/v1", description="Referrals")


class ReferralSchema(Schema):
    id = fields.Integer()
    status = fields.String(metadata={"description": "pending, qualified, rewarded, rejected"})
    rejection = fields.String(allow_none=True)
    joined_at = fields.String()
    qualified_at = fields.String(allow_none=True)
    eligible_at = fields.String(allow_none=True)
    rewarded_at = fields.String(allow_none=True)


class ReferralRulesSchema(Schema):
    min_purchase_cents = fields.Integer()
    refund_window_days = fields.Integer()
    reward_kind = fields.String()
    referrer_points = fields.Integer()
    referee_points = fields.Integer()
    coupon_cents = fields.Integer()
    monthly_cap = fields.Integer()


class MyReferralsSchema(Schema):
    code = fields.String()
    link = fields.String()
    qr_svg = fields.String()
    rules = fields.Nested(ReferralRulesSchema)
    referrals = fields.List(fields.Nested(ReferralSchema))
    converted = fields.Integer()
    points_earned = fields.Integer()
    coupons_earned = fields.Integer()
    referred_by = fields.Nested(ReferralSchema, allow_none=True)


class ReferralClaimSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=4, max=32))
    device_id = fields.String(load_default=None, validate=validate.Length(min=8, max=100))


@blp.route("/me/referrals")
class MyReferrals(MethodView):
    @blp.response(200, MyReferralsSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Show my referral code and link, whom I referred, and what I earned."""
        return service.my_referrals(current_identity().subject_id)


@blp.route("/me/referrals/qr.svg")
class MyReferralQr(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    @member_required
    def get(self) -> Response:
        """Render my referral link as an SVG QR code."""
        code = service.referral_code_of(current_identity().subject_id)
        return Response(render_qr_svg(service.referral_link(code)), mimetype="image/svg+xml")


@blp.route("/me/referrals/claim")
class ClaimReferral(MethodView):
    @blp.arguments(ReferralClaimSchema)
    @blp.response(201, ReferralSchema)
    @blp.alt_response(404, description="unknown-referral-code")
    @blp.alt_response(409, description="referral-already-linked, referral-claim-closed")
    @member_required
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Enter the code of the member who recommended the shop (soon after joining)."""
        referral = service.claim_referral(
            current_identity().subject_id,
            body["code"],
            device=device_hash(body["device_id"]),
            client_address=request.remote_addr,
        )
        return service.referral_view(referral)
