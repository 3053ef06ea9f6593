"""Request and response bodies of the auth routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.profiles.models import CONSENT_PURPOSES


class SignupExtrasMixin(Schema):
    """What a sign-up may bring besides the account: all optional, everything else later."""

    referral_code = fields.String(
        load_default=None,
        validate=validate.Length(min=4, max=32),
        metadata={"description": "The code of the member who recommended the shop."},
    )
    device_id = fields.String(
        load_default=None,
        validate=validate.Length(min=8, max=100),
        metadata={"description": "A random id the app keeps per device (referral checks)."},
    )
    consents = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CONSENT_PURPOSES)),
        values=fields.Boolean(),
        load_default=None,
        metadata={"description": "Consents ticked at sign-up, per purpose."},
    )


class RegisterSchema(SignupExtrasMixin):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class MagicLinkRequestSchema(SignupExtrasMixin):
    email = fields.Email(required=True)
    display_name = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Used only if the e-mail has no account yet (sign-up)."},
    )


class MagicLinkRedeemSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=10, max=200))


class MagicLinkSessionSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    role = fields.String()
    created = fields.Boolean(metadata={"description": "Whether the link created the account."})


class RegisteredSchema(Schema):
    member_id = fields.Integer()
    access_token = fields.String()
    refresh_token = fields.String()


class LoginSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    account = fields.String(
        load_default=None,
        validate=validate.OneOf(["member", "staff"]),
        metadata={"description": "Which account to use when one e-mail has both."},
    )
    device_id = fields.String(load_default=None, validate=validate.Length(min=8, max=100))


class TokenPairSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    role = fields.String()


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TillSessionRequestSchema(Schema):
    till_key = fields.String(required=True, validate=validate.Length(min=1, max=200))
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TillSessionSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    till_id = fields.Integer()
    store_id = fields.Integer()
    role = fields.String()
