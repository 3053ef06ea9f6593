"""``GET /api/v1/branding``: public, so the sign-in page shows the shop before anyone signs in."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.branding.schemas import BrandingSchema
from app.branding.service import current_branding

blp = Blueprint(
    "branding", __name__, url_prefix="/api/v1/branding", description="The shop's name and colours"
)


@blp.route("")
class Branding(MethodView):
    @blp.response(200, BrandingSchema)
    def get(self) -> dict[str, Any]:
        """Show the shop's name, logo and colours (no sign-in needed)."""
        return current_branding()
