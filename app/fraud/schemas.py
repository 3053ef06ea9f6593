"""Request and response bodies of the fraud review API.

The rule-settings body is built from ``app.fraud.settings.RULE_DEFAULTS``: each rule accepts
exactly the keys it has, typed like its default (a whole number stays whole, a share is a
number, an operations map holds true/false), so an admin cannot set a key no rule reads.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from app.fraud.service import BLOCK_TARGETS, RESOLUTIONS
from app.fraud.settings import ACTIONS, RULE_DEFAULTS, SEVERITIES
from app.naming import NameRefSchema


def _named(what: str) -> fields.Nested:
    return fields.Nested(
        NameRefSchema, allow_none=True, metadata={"description": f"The {what}'s id and name."}
    )


class AttemptSchema(Schema):
    member = _named("member")
    staff = _named("staff account")
    store = _named("store")
    till = _named("till")
    id = fields.Integer()
    occurred_at = fields.String()
    operation = fields.String()
    outcome = fields.String()
    refusal_type = fields.String(allow_none=True)
    status_code = fields.Integer()
    till_id = fields.Integer(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    member_id = fields.Integer(allow_none=True)
    card_id = fields.String(allow_none=True)
    code_fingerprint = fields.String(
        allow_none=True, metadata={"description": "Keyed HMAC of the code; never the code."}
    )
    risk_score = fields.Integer()
    request_id = fields.String(allow_none=True)
    client_address = fields.String(allow_none=True)


class EventSchema(Schema):
    member = _named("member")
    staff = _named("staff account")
    store = _named("store")
    till = _named("till")
    resolved_by_staff = _named("resolving staff account")
    approved_by_staff = _named("approving manager")
    id = fields.Integer()
    rule = fields.String()
    severity = fields.String()
    action = fields.String(metadata={"description": "allow, flag, step-up, deny or lockout."})
    status = fields.String()
    resolution = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    detail = fields.Dict()
    subject = fields.String()
    member_id = fields.Integer(allow_none=True)
    card_id = fields.String(allow_none=True)
    till_id = fields.Integer(allow_none=True)
    store_id = fields.Integer(allow_none=True)
    staff_id = fields.Integer(allow_none=True)
    client_address = fields.String(allow_none=True)
    approved_by = fields.Integer(allow_none=True)
    created_at = fields.String()
    last_seen_at = fields.String()
    resolved_at = fields.String(allow_none=True)
    resolved_by = fields.Integer(allow_none=True)
    evidence = fields.List(fields.Nested(AttemptSchema))


class EventQuerySchema(Schema):
    status = fields.String(load_default=None, validate=validate.OneOf(["open", "resolved"]))
    severity = fields.String(load_default=None, validate=validate.OneOf(SEVERITIES))
    rule = fields.String(load_default=None, validate=validate.Length(max=40))
    store_id = fields.Integer(load_default=None)
    before_id = fields.Integer(
        load_default=None, metadata={"description": "Page on: the smallest id of the last page."}
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


class ResolveRequestSchema(Schema):
    resolution = fields.String(required=True, validate=validate.OneOf(RESOLUTIONS))
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class BlockRequestSchema(Schema):
    target_type = fields.String(required=True, validate=validate.OneOf(BLOCK_TARGETS))
    target_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class BlockSchema(Schema):
    target_type = fields.String()
    target_id = fields.String()
    blocked = fields.Boolean()
    reason = fields.String(allow_none=True)
    blocked_at = fields.String(allow_none=True)
    blocked_by = fields.Integer(allow_none=True)
    target_name = fields.String(allow_none=True, metadata={"description": "Member or till name"})
    blocked_by_staff = _named("blocking staff account")


class RuleSchema(Schema):
    rule = fields.String()
    description = fields.String()
    settings = fields.Dict()
    defaults = fields.Dict()
    actions = fields.List(fields.String())


def _setting_field(key: str, default: Any) -> fields.Field[Any]:
    if key == "action":
        return fields.String(validate=validate.OneOf(ACTIONS))
    if key == "severity":
        return fields.String(validate=validate.OneOf(SEVERITIES))
    if isinstance(default, bool):
        return fields.Boolean()
    if isinstance(default, int):
        upper = 100 if key == "score" else None
        return fields.Integer(strict=True, validate=validate.Range(min=0, max=upper))
    if isinstance(default, float):
        return fields.Float(validate=validate.Range(min=0))
    return fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=30)), values=fields.Boolean()
    )


def _rule_schema(rule: str, defaults: dict[str, Any]) -> type[Schema]:
    return Schema.from_dict(
        {key: _setting_field(key, value) for key, value in defaults.items()},
        name=f"RuleSettings_{rule.replace('-', '_')}",
    )


RuleChangesSchema = Schema.from_dict(
    {
        rule: fields.Nested(_rule_schema(rule, defaults), load_default=None)
        for rule, defaults in RULE_DEFAULTS.items()
    },
    name="RuleChanges",
)


class SummaryQuerySchema(Schema):
    start = fields.AwareDateTime(
        data_key="from",
        load_default=None,
        metadata={"description": "Start of the window (ISO 8601; default: 7 days before 'to')."},
    )
    end = fields.AwareDateTime(
        data_key="to", load_default=None, metadata={"description": "End (default: now)."}
    )


class StoreSummarySchema(Schema):
    store_id = fields.Integer(allow_none=True)
    name = fields.String(allow_none=True)
    attempts = fields.Integer()
    refused = fields.Integer()
    events = fields.Integer()


class CountsSchema(Schema):
    total = fields.Integer()
    accepted = fields.Integer()
    refused = fields.Integer()


class SummarySchema(Schema):
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    attempts = fields.Nested(CountsSchema)
    refusals_by_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    attempts_by_operation = fields.Dict(keys=fields.String(), values=fields.Integer())
    events_by_rule = fields.Dict(keys=fields.String(), values=fields.Integer())
    open_events = fields.Integer()
    per_store = fields.List(fields.Nested(StoreSummarySchema))


class AuditQuerySchema(Schema):
    staff_id = fields.Integer(load_default=None)
    before_id = fields.Integer(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


class AuditSchema(Schema):
    id = fields.Integer()
    staff_id = fields.Integer()
    staff = _named("staff account")
    target_name = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String()
    target_id = fields.String()
    detail = fields.Dict()
    at = fields.String()
