"""Query and answer bodies of the member search and detail."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.lifecycle.models import STAGES


class MemberQuerySchema(Schema):
    q = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "Member number, member id, or part of the e-mail or name"},
    )
    stage = fields.String(load_default=None, validate=validate.OneOf(STAGES))
    segment_id = fields.Integer(load_default=None)
    min_health = fields.Integer(load_default=None, validate=validate.Range(0, 100))
    max_health = fields.Integer(load_default=None, validate=validate.Range(0, 100))


class MemberRowSchema(Schema):
    member_id = fields.Integer()
    member_number = fields.String(metadata={"description": "XXXX-XXXX-C"})
    email = fields.String()
    display_name = fields.String()
    tier = fields.String()
    points_balance = fields.Integer()
    blocked = fields.Boolean()
    created_at = fields.String()
    stage = fields.String(allow_none=True)
    health_score = fields.Integer(allow_none=True)
    p_active = fields.Float(allow_none=True)
    days_since_last_purchase = fields.Integer(allow_none=True)


class MemberDetailSchema(MemberRowSchema):
    card = fields.Dict()
    lifecycle = fields.Dict(
        allow_none=True,
        metadata={"description": "Stage, health score with its factors, RFM and the model"},
    )
    recent_purchases = fields.List(fields.Dict())
    coupons = fields.List(fields.Dict())
