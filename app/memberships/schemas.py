"""Request and response bodies of the membership routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class PlanSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    sku = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The SKU the till sells the plan under."},
    )
    price_cents = fields.Integer(required=True, validate=validate.Range(min=0))
    currency = fields.String(load_default="EUR", validate=validate.Length(equal=3))
    duration_months = fields.Integer(required=True, validate=validate.Range(min=1, max=60))
    tier = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    points_multiplier_percent = fields.Integer(
        load_default=100,
        validate=validate.Range(min=100, max=1000),
        metadata={"description": "150 = one and a half times the points."},
    )
    monthly_coupon = fields.Dict(
        load_default=None,
        allow_none=True,
        metadata={"description": "A coupon benefit, e.g. {kind: amount_off, amount_cents: 300}."},
    )
    free_items = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=20),
    )
    refund_days = fields.Integer(load_default=14, validate=validate.Range(min=0, max=365))
    active = fields.Boolean(load_default=True)


class PlanChangeSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    sku = fields.String(validate=validate.Length(min=1, max=64))
    price_cents = fields.Integer(validate=validate.Range(min=0))
    duration_months = fields.Integer(validate=validate.Range(min=1, max=60))
    tier = fields.String(allow_none=True, validate=validate.Length(max=40))
    points_multiplier_percent = fields.Integer(validate=validate.Range(min=100, max=1000))
    monthly_coupon = fields.Dict(allow_none=True)
    free_items = fields.List(fields.String(validate=validate.Length(min=1, max=64)))
    refund_days = fields.Integer(validate=validate.Range(min=0, max=365))
    active = fields.Boolean()


class MembershipSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    plan = fields.String()
    status = fields.String(metadata={"description": "active, ended, refunded, cancelled"})
    source = fields.String()
    price_cents = fields.Integer()
    currency = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    ended_at = fields.String(allow_none=True)
    end_reason = fields.String(allow_none=True)
    purchase_id = fields.Integer(allow_none=True)


class BenefitsSchema(Schema):
    tier = fields.String(allow_none=True)
    points_multiplier_percent = fields.Integer()
    monthly_coupon = fields.Dict(allow_none=True)
    free_items = fields.List(fields.String())


class MyMembershipSchema(Schema):
    active = fields.Nested(MembershipSchema, allow_none=True)
    benefits = fields.Nested(BenefitsSchema, allow_none=True)
    history = fields.List(fields.Nested(MembershipSchema))


class SaleRequestSchema(Schema):
    plan_id = fields.Integer(required=True)
    price_cents = fields.Integer(
        load_default=None,
        validate=validate.Range(min=0),
        metadata={"description": "The price paid; the plan's price when left out."},
    )
    store_id = fields.Integer(load_default=None)


class EndRequestSchema(Schema):
    status = fields.String(
        load_default="cancelled", validate=validate.OneOf(["cancelled", "refunded"])
    )
    reason = fields.String(required=True, validate=validate.Length(min=3, max=200))


class KpiQuerySchema(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)


class PlanRevenueSchema(Schema):
    plan_id = fields.Integer()
    plan = fields.String()
    sold = fields.Integer()
    gross_cents = fields.Integer()
    refunded_cents = fields.Integer()
    net_cents = fields.Integer()


class KpiSchema(Schema):
    start = fields.String()
    end = fields.String()
    paying_members_now = fields.Integer()
    paying_members_at_end = fields.Integer()
    plans = fields.List(fields.Nested(PlanRevenueSchema))
    net_cents = fields.Integer()
    purchases_with_plans = fields.Integer()
