"""Request and response bodies of the card routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class TotpSchema(Schema):
    secret = fields.String(metadata={"description": "RFC 4648 Base32 TOTP secret"})
    algorithm = fields.String()
    digits = fields.Integer()
    period = fields.Integer()


class CardSchema(Schema):
    card_id = fields.String()
    static_code = fields.String(metadata={"description": "LW1: code (see docs/card-codes.md)"})
    not_after = fields.String()
    totp = fields.Nested(TotpSchema)
    rotating_prefix = fields.String()


class ScanRequestSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=400))


class ScannedMemberSchema(Schema):
    member_number = fields.String(metadata={"description": "XXXX-XXXX-C"})
    display_name = fields.String()
    points_balance = fields.Integer()
    tier = fields.String()


class ScanSchema(Schema):
    card_id = fields.String()
    member = fields.Nested(ScannedMemberSchema)
    credential = fields.String(metadata={"description": "static | rotating"})
    scan_token = fields.String()
    scan_token_expires_at = fields.String()


class RevocationsQuerySchema(Schema):
    since = fields.AwareDateTime(load_default=None, default_timezone=None)


class RevokedCardSchema(Schema):
    card_id = fields.String()
    revoked_at = fields.String()


class RevocationsSchema(Schema):
    revoked = fields.List(fields.Nested(RevokedCardSchema))
    as_of = fields.String()
