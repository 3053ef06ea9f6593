"""The branding answer."""

from __future__ import annotations

from marshmallow import Schema, fields


class BrandingSchema(Schema):
    name = fields.String(metadata={"description": "The shop's name, as members see it."})
    logo_url = fields.String(allow_none=True, metadata={"description": "The logo, if any."})
    primary_color = fields.String(metadata={"description": "#rrggbb"})
    accent_color = fields.String(metadata={"description": "#rrggbb"})
