"""Request and response bodies of the branding routes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

HEX_COLOR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="Use a colour like #2b2d77.")


class BrandingSchema(Schema):
    name = fields.String()
    logo_url = fields.String(allow_none=True, metadata={"description": "Same-origin URL or null"})
    primary_color = fields.String(metadata={"description": "Top bar, buttons (#rrggbb)"})
    accent_color = fields.String(metadata={"description": "Highlights, focus ring (#rrggbb)"})


class AdminBrandingSchema(BrandingSchema):
    saved = fields.Boolean(metadata={"description": "false: configuration applies"})
    updated_at = fields.String(allow_none=True)
    updated_by_staff_id = fields.Integer(allow_none=True)


class BrandingChangesSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=80))
    primary_color = fields.String(validate=HEX_COLOR)
    accent_color = fields.String(validate=HEX_COLOR)
    logo_data_url = fields.String(
        allow_none=True,
        validate=validate.Length(max=400_000),
        metadata={"description": "data:image/png;base64,... (PNG, JPEG, WebP); null removes"},
    )
