"""Request and response bodies of the auth routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class RegisterSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=8, max=200))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=100))


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
