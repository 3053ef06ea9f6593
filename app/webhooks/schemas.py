"""Request and response bodies of the webhook endpoints API."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

# Every event type the programme publishes (docs/webhooks.md describes each one's data);
# "*" selects them all, including types added later.
EVENT_TYPES = (
    "member.signed_up",
    "purchase.booked",
    "purchase.refunded",
    "points.changed",
    "reward.claimed",
    "coupon.issued",
    "coupon.redeemed",
    "tier.changed",
    "stage.changed",
    "fraud.event_raised",
    "survey.answered",
    "complaint.recorded",
    "automation.webhook",
)


class WebhookEndpointRequestSchema(Schema):
    url = fields.Url(
        required=True,
        schemes={"https", "http"},
        require_tld=False,
        validate=validate.Length(max=1000),
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(("*", *EVENT_TYPES))),
        required=True,
        validate=validate.Length(min=1),
    )
    description = fields.String(load_default=None, validate=validate.Length(max=200))


class WebhookEndpointChangeSchema(Schema):
    url = fields.Url(
        schemes={"https", "http"}, require_tld=False, validate=validate.Length(max=1000)
    )
    event_types = fields.List(
        fields.String(validate=validate.OneOf(("*", *EVENT_TYPES))),
        validate=validate.Length(min=1),
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=200))
    enabled = fields.Boolean()


class WebhookEndpointSchema(Schema):
    id = fields.Integer()
    url = fields.String()
    description = fields.String(allow_none=True)
    event_types = fields.List(fields.String())
    enabled = fields.Boolean()
    consecutive_failures = fields.Integer()
    disabled_at = fields.String(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    secret = fields.String(
        metadata={"description": "whsec_… signing secret; only in the answer that made it"}
    )


class WebhookAttemptSchema(Schema):
    id = fields.Integer()
    webhook_id = fields.String(allow_none=True)
    event_type = fields.String(allow_none=True)
    attempted_at = fields.String(allow_none=True)
    outcome = fields.String(metadata={"description": "delivered, retry, failed or skipped"})
    status_code = fields.Integer(allow_none=True)
    detail = fields.String(allow_none=True)
    message_status = fields.String(metadata={"description": "pending, done or failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.String(allow_none=True)


class WebhookEventTypesSchema(Schema):
    event_types = fields.List(fields.String())
