"""Routes: the public branding every app reads, and the admins' editor."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import current_identity, staff_required
from app.branding import service
from app.branding.schemas import AdminBrandingSchema, BrandingChangesSchema, BrandingSchema

blp = Blueprint("branding", __name__, url_prefix="/api/v1", description="The shop's branding")


@blp.route("/branding")
class PublicBranding(MethodView):
    @blp.response(200, BrandingSchema)
    def get(self) -> dict[str, Any]:
        """Get the shop's name, logo and colours (public: the apps show them before sign-in)."""
        return service.current_branding()


@blp.route("/branding/logo")
class BrandingLogo(MethodView):
    @blp.response(200, content_type="image/png")
    @blp.alt_response(404, description="not-found")
    def get(self) -> Response:
        """Get the shop's logo (PNG, JPEG or WebP)."""
        data, media_type = service.logo()
        response = current_app.response_class(data, mimetype=media_type)
        response.headers["Cache-Control"] = "public, max-age=300"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@blp.route("/admin/branding")
class AdminBranding(MethodView):
    @blp.response(200, AdminBrandingSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required("admin")
    def get(self) -> dict[str, Any]:
        """Show the branding and whether it was saved or comes from configuration."""
        return service.branding_for_admin()

    @blp.arguments(BrandingChangesSchema)
    @blp.response(200, AdminBrandingSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required("admin")
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change the shop's name, colours or logo (fields left out keep their values)."""
        return service.update_branding(body, staff_id=current_identity().subject_id)
