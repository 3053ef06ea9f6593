"""Profile and consent routes: the member's own, and staff recording consent for a member."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.profiles import service
from app.profiles.schemas import (
    ConsentChangeSchema,
    ConsentsSchema,
    ConsentStateSchema,
    ProfileChangeSchema,
    ProfileSchema,
    StaffConsentChangeSchema,
)

blp = Blueprint(
    "profiles", __name__, url_prefix="/api/v1", description="Member profile and consents"
)


@blp.route("/me/profile")
class MyProfile(MethodView):
    @blp.response(200, ProfileSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Show my profile."""
        return service.profile_view(current_identity().subject_id)

    @blp.arguments(ProfileChangeSchema)
    @blp.response(200, ProfileSchema)
    @blp.alt_response(404, description="unknown-store")
    @blp.alt_response(422, description="validation-error")
    @member_required
    def patch(self, body: dict[str, Any]) -> dict[str, Any]:
        """Change my profile; send only the fields to change (null clears one)."""
        return service.update_profile(current_identity().subject_id, body)


@blp.route("/me/consents")
class MyConsents(MethodView):
    @blp.response(200, ConsentsSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Show what I agreed to, per purpose, and every change."""
        return service.consents_view(current_identity().subject_id)


@blp.route("/me/consents/<string:purpose>")
class MyConsent(MethodView):
    @blp.arguments(ConsentChangeSchema)
    @blp.response(200, ConsentStateSchema)
    @blp.alt_response(404, description="unknown-consent-purpose")
    @member_required
    def put(self, body: dict[str, Any], purpose: str) -> dict[str, Any]:
        """Give or withdraw my consent to one purpose."""
        return service.set_consent(
            current_identity().subject_id,
            purpose,
            body["granted"],
            source="app",
            wording_version=body["wording_version"] or service.CURRENT_WORDING,
        )


@blp.route("/members/<int:member_id>/consents")
class MemberConsents(MethodView):
    @blp.response(200, ConsentsSchema)
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*MANAGER_ROLES)
    def get(self, member_id: int) -> dict[str, Any]:
        """Show a member's consents and their history."""
        return service.consents_view(member_id)


@blp.route("/members/<int:member_id>/consents/<string:purpose>")
class MemberConsent(MethodView):
    @blp.arguments(StaffConsentChangeSchema)
    @blp.response(200, ConsentStateSchema)
    @blp.alt_response(404, description="unknown-member, unknown-consent-purpose")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, Any], member_id: int, purpose: str) -> dict[str, Any]:
        """Record a consent a member gave or withdrew at the till, to staff or by import."""
        return service.set_consent(
            member_id,
            purpose,
            body["granted"],
            source=body["source"],
            staff_id=current_identity().subject_id,
            wording_version=body["wording_version"] or service.CURRENT_WORDING,
        )
