"""Request and response bodies of the coupon, campaign, till and sync routes.

Money is integer cents (the currency is the shop's, named in answers); points are integers;
times are ISO 8601 with a UTC offset. A benefit is one of ``amount_off`` (``amount_cents``),
``percent_off`` (``percent``, optional ``cap_cents``), ``free_item`` (``sku``) or
``bonus_points`` (``points``), as ``coupons.rules.Benefit`` defines them.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.naming import NameRefSchema
from app.request_limits import TrimmedString
from coupons.rules import Benefit, BenefitKind

MAX_CAMPAIGN_CODES = 100_000
MAX_MEMBERS_PER_CAMPAIGN = 10_000
MAX_SYNC_EVENTS = 500
MAX_CODE_TEXT = 64
MAX_BASKET_LINES = 500


class CouponBenefitSchema(Schema):
    kind = fields.String(
        required=True, validate=validate.OneOf([kind.value for kind in BenefitKind])
    )
    amount_cents = fields.Integer(validate=validate.Range(min=1))
    percent = fields.Integer(validate=validate.Range(min=1, max=100))
    cap_cents = fields.Integer(validate=validate.Range(min=1))
    sku = fields.String(validate=validate.Length(min=1, max=64))
    points = fields.Integer(validate=validate.Range(min=1))

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Refuse fields that do not make a benefit of the kind named."""
        try:
            Benefit.from_dict(data)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class CampaignRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    benefit = fields.Nested(CouponBenefitSchema, required=True)
    audience = fields.String(
        load_default="anonymous",
        validate=validate.OneOf(["anonymous", "members"]),
        metadata={"description": "anonymous: N unique codes to export; members: one each"},
    )
    code_count = fields.Integer(
        load_default=None, validate=validate.Range(min=1, max=MAX_CAMPAIGN_CODES)
    )
    member_ids = fields.List(
        fields.Integer(), load_default=None, validate=validate.Length(max=MAX_MEMBERS_PER_CAMPAIGN)
    )
    segment_id = fields.Integer(
        load_default=None, metadata={"description": "members: everyone in this segment now"}
    )
    valid_from = fields.AwareDateTime(load_default=None)
    valid_until = fields.AwareDateTime(load_default=None)
    store_ids = fields.List(
        fields.Integer(),
        load_default=None,
        validate=validate.Length(min=1),
        metadata={"description": "Stores the coupons work in; omitted: all (admins) or yours"},
    )
    min_basket_cents = fields.Integer(load_default=0, validate=validate.Range(min=0))
    max_uses_per_member = fields.Integer(load_default=None, validate=validate.Range(min=1))

    @validates_schema
    def _audience_fields(self, data: dict[str, Any], **_kwargs: Any) -> None:
        """Require the fields of the chosen audience and refuse the other's."""
        if data["audience"] == "anonymous":
            if data["code_count"] is None:
                raise ValidationError("An anonymous campaign needs code_count.", "code_count")
            if data["member_ids"] is not None or data["segment_id"] is not None:
                raise ValidationError("Only member campaigns take member_ids.", "member_ids")
        else:
            if data["member_ids"] and data["segment_id"] is not None:
                raise ValidationError("Name member_ids or a segment_id, not both.", "segment_id")
            if not data["member_ids"] and data["segment_id"] is None:
                raise ValidationError("A member campaign needs member_ids.", "member_ids")
            if data["code_count"] is not None:
                raise ValidationError("A member campaign makes one code per member.", "code_count")
            if data["max_uses_per_member"] is not None:
                raise ValidationError(
                    "Each member gets one coupon; a per-member limit does not apply.",
                    "max_uses_per_member",
                )


class CampaignSchema(Schema):
    campaign_id = fields.Integer()
    name = fields.String()
    audience = fields.String()
    benefit = fields.Dict()
    valid_from = fields.String(allow_none=True)
    valid_until = fields.String(allow_none=True)
    store_ids = fields.List(fields.Integer(), allow_none=True)
    min_basket_cents = fields.Integer()
    max_uses_per_member = fields.Integer(allow_none=True)
    code_count = fields.Integer()
    redeemed_count = fields.Integer()
    voided_count = fields.Integer()
    created_at = fields.String()
    created_by_staff_id = fields.Integer(allow_none=True)
    exported_at = fields.String(allow_none=True)
    exported_by_staff_id = fields.Integer(allow_none=True)
    voided_at = fields.String(allow_none=True)
    created_by_staff = fields.Nested(NameRefSchema, allow_none=True)
    exported_by_staff = fields.Nested(NameRefSchema, allow_none=True)


class CouponSchema(Schema):
    coupon_id = fields.Integer()
    campaign_id = fields.Integer(allow_none=True)
    source = fields.String()
    benefit = fields.Dict()
    valid_from = fields.String(allow_none=True)
    valid_until = fields.String(allow_none=True)
    store_ids = fields.List(fields.Integer(), allow_none=True)
    min_basket_cents = fields.Integer()
    max_uses_per_member = fields.Integer(allow_none=True)
    member_bound = fields.Boolean()
    state = fields.String(
        metadata={"description": "active, redeemed, voided, expired or not-yet-valid"}
    )
    redeemed_at = fields.String(allow_none=True)
    voided_at = fields.String(allow_none=True)


class DeskRedemptionSchema(Schema):
    redemption_id = fields.String()
    redeemed_at = fields.String()
    store = fields.Nested(NameRefSchema, allow_none=True)
    till = fields.Nested(NameRefSchema, allow_none=True)
    staff = fields.Nested(NameRefSchema, allow_none=True)
    member = fields.Nested(NameRefSchema, allow_none=True)
    receipt_id = fields.String()
    discount_cents = fields.Integer()
    bonus_points = fields.Integer()
    currency = fields.String()
    offline = fields.Boolean()
    reversed_at = fields.String(allow_none=True)
    reversed_by = fields.Nested(NameRefSchema, allow_none=True)
    reversal_reason = fields.String(allow_none=True)


class CouponCheckSchema(CouponSchema):
    campaign = fields.Nested(NameRefSchema, allow_none=True)
    member = fields.Nested(NameRefSchema, allow_none=True)
    use_count = fields.Integer()
    redemptions = fields.List(
        fields.Nested(DeskRedemptionSchema),
        metadata={"description": "Every redemption on record, reversed ones included"},
    )


class MyCouponSchema(CouponSchema):
    code = fields.String(
        allow_none=True, metadata={"description": "The code to show, as XXXX-XXXX-XXXX-C"}
    )


class CouponCodeSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CODE_TEXT))


class CouponVoidRequestSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class CouponBasketLineSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, validate=validate.Length(max=64))
    amount_cents = fields.Integer(required=True, validate=validate.Range(min=0))
    quantity = fields.Integer(load_default=1, validate=validate.Range(min=1))


class ValidateRequestSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CODE_TEXT))
    basket_cents = fields.Integer(required=True, validate=validate.Range(min=0))
    card_code = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "The visit's scan_token, or an LW1/LW2 card code"},
    )
    lines = fields.List(
        fields.Nested(CouponBasketLineSchema),
        load_default=list,
        validate=validate.Length(max=MAX_BASKET_LINES),
    )


class RedeemRequestSchema(ValidateRequestSchema):
    receipt_id = TrimmedString(required=True, validate=validate.Length(min=1, max=64))


class OfflineRedeemPayloadSchema(RedeemRequestSchema):
    discount_cents = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0),
        metadata={"description": "What the offline till gave (kept for review)"},
    )


class ValidationAnswerSchema(Schema):
    valid = fields.Boolean()
    benefit = fields.Dict()
    coupon = fields.Nested(CouponSchema)
    discount_cents = fields.Integer()
    bonus_points = fields.Integer()
    free_sku = fields.String(allow_none=True)
    currency = fields.String()
    refusal = fields.Dict(metadata={"description": "The problem a redemption would get"})


class RedemptionSchema(Schema):
    redemption_id = fields.String()
    benefit = fields.Dict()
    discount_cents = fields.Integer()
    currency = fields.String()
    bonus_points = fields.Integer()
    free_sku = fields.String(allow_none=True)
    member_id = fields.Integer(allow_none=True)
    receipt_id = fields.String()
    redeemed_at = fields.String()
    offline = fields.Boolean()
    flag = fields.String(allow_none=True)
    coupon = fields.Nested(CouponSchema)


class RedemptionReverseRequestSchema(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class CouponReversalSchema(Schema):
    redemption_id = fields.String()
    reversed_at = fields.String()
    reversed_by_staff_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    coupon = fields.Nested(CouponSchema)


class CouponSettingsSchema(Schema):
    offline_floor_limit_cents = fields.Integer(validate=validate.Range(min=0, max=10_000_000))
    offline_floor_limit_points = fields.Integer(validate=validate.Range(min=0, max=10_000_000))
    offline_max_age_hours = fields.Integer(validate=validate.Range(min=1, max=24 * 30))
    reversal_window_minutes = fields.Integer(validate=validate.Range(min=0, max=60 * 24 * 30))
    updated_at = fields.String(dump_only=True, allow_none=True)
    updated_by_staff_id = fields.Integer(dump_only=True, allow_none=True)


class SyncEventSchema(Schema):
    event_id = fields.UUID(required=True, metadata={"description": "Client UUID, lower case"})
    type = fields.String(required=True, validate=validate.OneOf(["purchase", "redemption"]))
    sequence = fields.Integer(required=True, validate=validate.Range(min=0))
    local_time = fields.AwareDateTime(required=True)
    payload = fields.Dict(required=True)


class SyncRequestSchema(Schema):
    events = fields.List(
        fields.Nested(SyncEventSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_SYNC_EVENTS),
    )


class SyncEventResultSchema(Schema):
    event_id = fields.String()
    sequence = fields.Integer()
    type = fields.String()
    status = fields.String(metadata={"description": "accepted, conflict or rejected"})
    status_code = fields.Integer()
    replayed = fields.Boolean()
    result = fields.Dict(
        metadata={"description": "The redemption, or the problem (with conflict_id)"}
    )


class OfflinePolicySchema(Schema):
    offline_floor_limit_cents = fields.Integer()
    offline_floor_limit_points = fields.Integer()
    offline_max_age_hours = fields.Integer()


class SyncAnswerSchema(Schema):
    results = fields.List(fields.Nested(SyncEventResultSchema))
    policy = fields.Nested(OfflinePolicySchema)


class ConflictQuerySchema(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "resolved"]))


class ConflictResolveRequestSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SyncConflictSchema(Schema):
    conflict_id = fields.Integer()
    event_id = fields.String()
    event_type = fields.String()
    sequence = fields.Integer()
    local_time = fields.String(allow_none=True)
    till_id = fields.Integer()
    store_id = fields.Integer()
    staff_id = fields.Integer(allow_none=True)
    reason = fields.String()
    detail = fields.String()
    coupon_id = fields.Integer(allow_none=True)
    code_fingerprint = fields.String(allow_none=True)
    receipt_id = fields.String(allow_none=True)
    claimed_discount_cents = fields.Integer(allow_none=True)
    winning_redemption_id = fields.String(allow_none=True)
    redemption_id = fields.String(allow_none=True)
    status = fields.String()
    created_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    resolved_by_staff_id = fields.Integer(allow_none=True)
    resolution_note = fields.String(allow_none=True)
