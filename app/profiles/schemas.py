"""Request and response bodies of the profile and consent routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.profiles.models import CONSENT_SOURCES


class ProfileSchema(Schema):
    member_id = fields.Integer()
    email = fields.String()
    display_name = fields.String()
    birthday = fields.String(allow_none=True, metadata={"format": "date"})
    home_store_id = fields.Integer(allow_none=True)
    preferred_language = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)


class ProfileChangeSchema(Schema):
    display_name = fields.String(validate=validate.Length(min=1, max=100))
    birthday = fields.Date(allow_none=True)
    home_store_id = fields.Integer(allow_none=True)
    preferred_language = fields.String(allow_none=True, validate=validate.Length(max=16))
    phone = fields.String(allow_none=True, validate=validate.Length(max=32))


class ConsentStateSchema(Schema):
    purpose = fields.String()
    granted = fields.Boolean()
    since = fields.String(allow_none=True)
    source = fields.String(allow_none=True)


class ConsentRecordSchema(Schema):
    purpose = fields.String()
    granted = fields.Boolean()
    source = fields.String()
    recorded_by = fields.String()
    wording_version = fields.String(allow_none=True)
    recorded_at = fields.String()


class ConsentsSchema(Schema):
    consents = fields.List(fields.Nested(ConsentStateSchema))
    history = fields.List(fields.Nested(ConsentRecordSchema))


class ConsentChangeSchema(Schema):
    granted = fields.Boolean(required=True)
    wording_version = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The version of the consent text the member was shown."},
    )


class StaffConsentChangeSchema(ConsentChangeSchema):
    source = fields.String(
        load_default="staff",
        validate=validate.OneOf([s for s in CONSENT_SOURCES if s != "app"]),
        metadata={"description": "How the member gave it: at the till, to staff, an import."},
    )
