"""Bodies of the till desk's routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class TillContextSchema(Schema):
    till = fields.Dict(metadata={"description": "{id, name}"})
    store = fields.Dict(metadata={"description": "{id, name, address}"})
    tiers = fields.Dict(
        keys=fields.String(), values=fields.String(), metadata={"description": "code → name"}
    )
    lookup_earn_only = fields.Boolean()
    reversal_window_minutes = fields.Integer()


class MemberQuerySchema(Schema):
    q = fields.String(required=True, validate=validate.Length(max=100))


class FoundMemberSchema(Schema):
    member_id = fields.Integer()
    member_number = fields.String(metadata={"description": "XXXX-XXXX-C"})
    display_name = fields.String()
    email_hint = fields.String(metadata={"description": "The e-mail, mostly hidden"})
    points_balance = fields.Integer()
    tier = fields.String()
    tier_name = fields.String()


class ReceiptQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class ReceiptSchema(Schema):
    purchase_id = fields.Integer()
    receipt_id = fields.String()
    member_name = fields.String()
    amount_cents = fields.Integer()
    currency = fields.String()
    refunded_cents = fields.Integer()
    remaining_cents = fields.Integer()
    points_earned = fields.Integer()
    points_refunded = fields.Integer()
    card_id = fields.String(allow_none=True)
    lines = fields.List(fields.Dict())
    created_at = fields.AwareDateTime()
