"""Request and answer bodies of the segment routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class SegmentRulesSchema(Schema):
    rules = fields.Dict(
        required=True,
        metadata={"description": "all / any / not / {field, op, value[, window_days]}"},
    )


class SegmentRequestSchema(SegmentRulesSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    description = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )


class SegmentSchema(Schema):
    segment_id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    rules = fields.Dict()
    size = fields.Integer(metadata={"description": "Members matching now"})
    created_at = fields.String()
    updated_at = fields.String()
    created_by_staff_id = fields.Integer(allow_none=True)


class SegmentPreviewSchema(Schema):
    size = fields.Integer(metadata={"description": "Members the rules select now"})
