"""Request and response bodies of the automations and staff-task API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.automations.service import ACTIONS
from app.automations.triggers import TRIGGERS

HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class AutomationQuietHoursSchema(Schema):
    start = fields.String(required=True, validate=validate.Regexp(HHMM))
    end = fields.String(required=True, validate=validate.Regexp(HHMM))


class ActionSchema(Schema):
    """One action; the fields besides ``type`` and ``delay_minutes`` depend on the type."""

    class Meta:
        unknown = "include"

    type = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    delay_minutes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=60 * 24 * 90))


class AutomationRequestSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    trigger = fields.String(required=True, validate=validate.OneOf(TRIGGERS))
    trigger_params = fields.Dict(load_default=dict)
    segment_id = fields.Integer(load_default=None, allow_none=True)
    actions = fields.List(
        fields.Nested(ActionSchema), required=True, validate=validate.Length(min=1, max=10)
    )
    holdout_percent = fields.Integer(load_default=10, validate=validate.Range(min=0, max=90))
    cap_count = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=100)
    )
    cap_days = fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=365)
    )
    quiet_hours = fields.Nested(AutomationQuietHoursSchema, load_default=None, allow_none=True)
    report_window_days = fields.Integer(load_default=30, validate=validate.Range(min=1, max=365))
    enabled = fields.Boolean(load_default=True)


class AutomationChangeSchema(Schema):
    """Only the fields given change (no defaults fill in the others)."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    trigger = fields.String(validate=validate.OneOf(TRIGGERS))
    trigger_params = fields.Dict()
    segment_id = fields.Integer(allow_none=True)
    actions = fields.List(fields.Nested(ActionSchema), validate=validate.Length(min=1, max=10))
    holdout_percent = fields.Integer(validate=validate.Range(min=0, max=90))
    cap_count = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=100))
    cap_days = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=365))
    quiet_hours = fields.Nested(AutomationQuietHoursSchema, allow_none=True)
    report_window_days = fields.Integer(validate=validate.Range(min=1, max=365))
    enabled = fields.Boolean()


class AutomationSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    trigger = fields.String()
    trigger_params = fields.Dict()
    segment_id = fields.Integer(allow_none=True)
    actions = fields.List(fields.Dict())
    holdout_percent = fields.Integer()
    cap_count = fields.Integer(allow_none=True)
    cap_days = fields.Integer(allow_none=True)
    quiet_hours = fields.Dict(allow_none=True)
    report_window_days = fields.Integer()
    enabled = fields.Boolean()
    created_at = fields.String(allow_none=True)
    treated = fields.Integer()
    control = fields.Integer()


class EnrolmentSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    occurrence = fields.String()
    group = fields.String(metadata={"description": "treated or control (held back)"})
    enrolled_at = fields.String()
    steps = fields.List(fields.Dict())


class ReportQuerySchema(Schema):
    window_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=365))


class GroupFiguresSchema(Schema):
    members = fields.Integer()
    bought_again = fields.Integer()
    rate = fields.Float(allow_none=True)
    spend_cents = fields.Integer()
    spend_per_member_cents = fields.Float(allow_none=True)


class ReportSchema(Schema):
    automation_id = fields.Integer()
    window_days = fields.Integer()
    as_of = fields.String()
    holdout_percent = fields.Integer()
    treated = fields.Nested(GroupFiguresSchema)
    control = fields.Nested(GroupFiguresSchema)
    difference = fields.Dict(
        metadata={"description": "treated − control: rate, rate_ci95, spend_per_member_cents…"}
    )
    method = fields.String()


class TaskQuerySchema(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "done", "all")))


class StaffTaskSchema(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    automation_id = fields.Integer(allow_none=True)
    title = fields.String()
    status = fields.String()
    created_at = fields.String(allow_none=True)
    done_at = fields.String(allow_none=True)
    done_by = fields.Integer(allow_none=True)
