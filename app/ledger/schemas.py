"""Request and response bodies of the ledger, till, tier and earning-rule routes."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.ledger.tiers import PERIOD_MONTHS
from app.naming import NameRefSchema
from app.request_limits import TrimmedString

MAX_AMOUNT_CENTS = 100_000_000  # one million in major units: anything above is a typo
MAX_MULTIPLIER_PERCENT = 1_000


class PurchaseLineSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    amount_cents = fields.Integer(
        required=True,
        validate=validate.Range(0, MAX_AMOUNT_CENTS),
        metadata={"description": "The line total (all units), in minor units."},
    )
    quantity = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))


class PurchaseRequestSchema(Schema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "The scan token of this visit, or an LW1:/fresh LW2: code."},
    )
    receipt_id = TrimmedString(required=True, validate=validate.Length(min=1, max=64))
    amount_cents = fields.Integer(
        required=True,
        validate=validate.Range(1, MAX_AMOUNT_CENTS),
        metadata={"description": "What the customer paid, in minor units."},
    )
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$"))
    lines = fields.List(
        fields.Nested(PurchaseLineSchema), load_default=list, validate=validate.Length(max=500)
    )


class PurchaseSchema(Schema):
    purchase_id = fields.Integer()
    entry_id = fields.Integer()
    points_earned = fields.Integer()
    points_balance = fields.Integer()
    tier = fields.String()
    promotion = fields.String(allow_none=True)
    stamps = fields.List(
        fields.Dict(), metadata={"description": "Stamp cards this purchase moved."}
    )


class RefundRequestSchema(Schema):
    receipt_id = TrimmedString(required=True, validate=validate.Length(min=1, max=64))
    amount_cents = fields.Integer(required=True, validate=validate.Range(1, MAX_AMOUNT_CENTS))
    lines = fields.List(
        fields.Nested(PurchaseLineSchema),
        load_default=None,
        validate=validate.Length(max=500),
        metadata={"description": "The returned lines, to take back their stamps (optional)."},
    )


class RefundSchema(Schema):
    refund_id = fields.Integer()
    entry_id = fields.Integer()
    points_refunded = fields.Integer()
    points_balance = fields.Integer()
    tier = fields.String()
    refunded_cents = fields.Integer(metadata={"description": "Refunded so far, in all."})
    remaining_cents = fields.Integer()
    stamps = fields.List(fields.Dict())


class LedgerEntrySchema(Schema):
    entry_id = fields.Integer(attribute="id")
    kind = fields.String()
    points = fields.Integer()
    balance_after = fields.Integer()
    reference_type = fields.String(allow_none=True)
    reference_id = fields.String(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    reverses_id = fields.Integer(allow_none=True)
    created_at = fields.AwareDateTime()
    store_name = fields.String(allow_none=True, dump_only=True)
    amount_cents = fields.Integer(
        allow_none=True, dump_only=True, metadata={"description": "The receipt's amount."}
    )
    currency = fields.String(allow_none=True, dump_only=True)


class StaffLedgerEntrySchema(LedgerEntrySchema):
    member_id = fields.Integer()
    till_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    staff = fields.Nested(NameRefSchema, allow_none=True)
    store = fields.Nested(NameRefSchema, allow_none=True)
    till = fields.Nested(NameRefSchema, allow_none=True)


class MemberPointsSchema(Schema):
    member_id = fields.Integer(attribute="id")
    name = fields.String(attribute="display_name")
    points_balance = fields.Integer()
    tier = fields.String()
    blocked = fields.Boolean()


class AdjustmentRequestSchema(Schema):
    points = fields.Integer(
        required=True,
        validate=[validate.Range(-1_000_000, 1_000_000), validate.NoneOf([0])],
        metadata={"description": "Signed: positive credits, negative debits."},
    )
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class ReversalRequestSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class ExpiringPointsSchema(Schema):
    points = fields.Integer()
    expires_at = fields.AwareDateTime()


class ExpiringSchema(Schema):
    expire_after_inactive_days = fields.Integer(allow_none=True)
    last_activity_at = fields.AwareDateTime()
    expiring = fields.List(fields.Nested(ExpiringPointsSchema))


class BonusRuleSchema(Schema):
    match = fields.String(required=True, validate=validate.OneOf(["sku", "category"]))
    value = fields.String(required=True, validate=validate.Length(min=1, max=64))
    multiplier_percent = fields.Integer(
        required=True,
        validate=validate.Range(0, MAX_MULTIPLIER_PERCENT),
        metadata={"description": "200 = double points on these lines, 0 = none."},
    )


class EarningRulesSchema(Schema):
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    base_points = fields.Integer(required=True, validate=validate.Range(0, 10_000))
    per_amount_cents = fields.Integer(
        required=True,
        validate=validate.Range(1, 1_000_000),
        metadata={"description": "base_points are earned per this many minor units."},
    )
    expire_after_inactive_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(1, 36_500)
    )
    bonus_rules = fields.List(
        fields.Nested(BonusRuleSchema), load_default=list, validate=validate.Length(max=1_000)
    )


class TierLevelSchema(Schema):
    code = fields.String(
        required=True, validate=[validate.Length(min=1, max=40), validate.Regexp(r"^[a-z0-9_-]+$")]
    )
    name = fields.String(required=True, validate=validate.Length(min=1, max=80))
    threshold_points = fields.Integer(required=True, validate=validate.Range(0, 100_000_000))
    multiplier_percent = fields.Integer(
        load_default=100, validate=validate.Range(100, MAX_MULTIPLIER_PERCENT)
    )
    benefits = fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        load_default=list,
        validate=validate.Length(max=50),
    )


class TierSettingsSchema(Schema):
    window_days = fields.Integer(required=True, validate=validate.Range(1, 3_650))
    qualification_period_months = fields.Integer(
        required=True, validate=validate.OneOf(PERIOD_MONTHS)
    )
    tiers = fields.List(
        fields.Nested(TierLevelSchema), required=True, validate=validate.Length(min=1, max=20)
    )

    @validates_schema
    def _one_ladder(self, data: dict[str, Any], **_kwargs: Any) -> None:
        tiers = data.get("tiers") or []
        codes = [tier["code"] for tier in tiers]
        thresholds = [tier["threshold_points"] for tier in tiers]
        if len(set(codes)) != len(codes):
            raise ValidationError("Tier codes must be unique.", "tiers")
        if len(set(thresholds)) != len(thresholds):
            raise ValidationError("Tier thresholds must be unique.", "tiers")
        if 0 not in thresholds:
            raise ValidationError("The lowest tier must have threshold_points 0.", "tiers")


class PromotionRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    multiplier_percent = fields.Integer(
        required=True,
        validate=validate.Range(101, MAX_MULTIPLIER_PERCENT),
        metadata={"description": "200 = double points."},
    )
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True, metadata={"description": "Exclusive."})
    store_ids = fields.List(fields.Integer(), load_default=None, allow_none=True)

    @validates_schema
    def _ends_after_start(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("A promotion must end after it starts.", "ends_at")


class PromotionSchema(Schema):
    promotion_id = fields.Integer(attribute="id")
    name = fields.String()
    multiplier_percent = fields.Integer()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()
    store_ids = fields.List(fields.Integer(), allow_none=True)
    cancelled_at = fields.AwareDateTime(allow_none=True)


class PromotionQuerySchema(Schema):
    include_past = fields.Boolean(load_default=False)
