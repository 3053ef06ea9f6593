"""Request and response bodies of the survey and complaint API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class SurveySchema(Schema):
    id = fields.Integer()
    question = fields.String()
    scale = fields.Dict()
    period = fields.String()
    created_at = fields.String(allow_none=True)
    answered_at = fields.String(allow_none=True)


class SurveyAnswerSchema(Schema):
    score = fields.Integer(required=True, validate=validate.Range(min=0, max=10))
    comment = fields.String(load_default=None, validate=validate.Length(max=1000))


class ComplaintRequestSchema(Schema):
    kind = fields.String(
        load_default="complaint", validate=validate.OneOf(("complaint", "service"))
    )
    category = fields.String(load_default=None, validate=validate.Length(max=60))
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    store_id = fields.Integer(load_default=None, allow_none=True)


class ComplaintResolveSchema(Schema):
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class ComplaintQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "resolved")))


class ComplaintSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    store_id = fields.Integer(allow_none=True)
    kind = fields.String()
    category = fields.String(allow_none=True)
    description = fields.String()
    status = fields.String()
    resolution = fields.String(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_at = fields.String(allow_none=True)
    resolved_at = fields.String(allow_none=True)
    resolved_by = fields.Integer(allow_none=True)


class KpiQuerySchema(Schema):
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=3650))


class FeedbackKpiSchema(Schema):
    days = fields.Integer()
    answers = fields.Integer()
    promoters = fields.Integer()
    passives = fields.Integer()
    detractors = fields.Integer()
    nps = fields.Float(allow_none=True, metadata={"description": "% promoters − % detractors"})
    open_complaints = fields.Integer()
    complaints_in_period = fields.Integer()
