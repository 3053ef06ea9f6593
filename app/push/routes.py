"""Push routes: the VAPID public key, and a member's own subscriptions."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import Response, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from app.auth.access import current_identity, member_required
from app.push import service
from app.push.delivery import KINDS, preference_view, queue_push, set_preferences

blp = Blueprint("push", __name__, url_prefix="/api/v1", description="Web Push notifications")


class KeysSchema(Schema):
    p256dh = fields.String(
        required=True,
        validate=validate.Length(min=20, max=200),
        metadata={"description": "the browser's P-256 public key, base64url (65-byte point)"},
    )
    auth = fields.String(
        required=True,
        validate=validate.Length(min=8, max=100),
        metadata={"description": "the browser's 16-byte auth secret, base64url"},
    )


class SubscriptionSchema(Schema):
    endpoint = fields.Url(
        required=True,
        schemes={"https", "http"},
        require_tld=False,
        validate=validate.Length(max=1000),
        metadata={"description": "https, public address only (else 422 endpoint-not-allowed)"},
    )
    keys = fields.Nested(KeysSchema, required=True)


class EndpointSchema(Schema):
    endpoint = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class VapidKeySchema(Schema):
    public_key = fields.String(metadata={"description": "applicationServerKey, base64url"})


class QueuedSchema(Schema):
    queued = fields.Integer(metadata={"description": "messages queued, one per device"})


TIMEZONES = sorted(available_timezones() | {"UTC"})
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"


class QuietHoursSchema(Schema):
    start = fields.String(required=True, validate=validate.Regexp(HHMM))
    end = fields.String(required=True, validate=validate.Regexp(HHMM))


class PushPreferencesSchema(Schema):
    kinds = fields.Dict(
        keys=fields.String(
            validate=validate.OneOf([kind for kind, policy in KINDS.items() if policy.mutable])
        ),
        values=fields.Boolean(),
        required=True,
        metadata={"description": "kind of message → wanted (points, offers, reminders, surveys)"},
    )
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True, load_default=None)
    timezone = fields.String(load_default="UTC", validate=validate.OneOf(TIMEZONES))


@blp.route("/push/vapid-public-key")
class VapidPublicKey(MethodView):
    @blp.response(200, VapidKeySchema)
    def get(self) -> dict[str, str]:
        """Get the VAPID public key to subscribe a browser with."""
        return {"public_key": service.vapid_public_key_b64url()}


@blp.route("/me/push-subscriptions")
class MyPushSubscriptions(MethodView):
    @blp.arguments(SubscriptionSchema)
    @blp.response(201)
    @member_required
    def post(self, body: dict[str, Any]) -> Response:
        """Register this browser for push (re-send on every launch; 200 if already known)."""
        _, created = service.subscribe(
            current_identity().subject_id,
            body["endpoint"],
            body["keys"]["p256dh"],
            body["keys"]["auth"],
        )
        response = jsonify({"endpoint": body["endpoint"]})
        response.status_code = 201 if created else 200
        return response

    @blp.arguments(EndpointSchema)
    @blp.response(204)
    @member_required
    def delete(self, body: dict[str, str]) -> None:
        """Stop push to this browser."""
        service.unsubscribe(current_identity().subject_id, body["endpoint"])


@blp.route("/me/push-subscriptions/test")
class MyPushTest(MethodView):
    @blp.response(202, QueuedSchema)
    @member_required
    def post(self) -> dict[str, int]:
        """Queue a test notification to all my devices (the worker sends it)."""
        message = {"title": "Loyalty Wallet", "body": "Notifications are on.", "url": "/#/card"}
        return {"queued": queue_push(current_identity().subject_id, "service", message)}


@blp.route("/me/push-preferences")
class MyPushPreferences(MethodView):
    @blp.response(200, PushPreferencesSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Which kinds of message I get, and my quiet hours."""
        return preference_view(current_identity().subject_id)

    @blp.arguments(PushPreferencesSchema)
    @blp.response(200, PushPreferencesSchema)
    @member_required
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Choose the kinds of message I get and my quiet hours (local time)."""
        return set_preferences(
            current_identity().subject_id,
            kinds=body["kinds"],
            quiet_hours=body.get("quiet_hours"),
            timezone=body["timezone"],
        )
