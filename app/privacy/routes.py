"""GDPR routes: a member's export and erasure, and staff running both on a member's request."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.accounts.models import Member
from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.auth.magic_links import confirm_with_magic_link
from app.auth.passwords import password_matches
from app.db import iso_or_none
from app.errors import DomainError
from app.extensions import db
from app.ledger.service import unknown_member
from app.me.routes import current_member
from app.privacy.erasure import audit_staff_action, erase_member, refuse_erased
from app.privacy.export import export_zip
from app.privacy.models import MemberErasure

blp = Blueprint("privacy", __name__, url_prefix="/api/v1", description="Your data (GDPR)")


class EraseMeSchema(Schema):
    password = fields.String(load_default=None, validate=validate.Length(min=1, max=200))
    magic_link_token = fields.String(
        load_default=None,
        validate=validate.Length(min=10, max=200),
        metadata={"description": "Instead of the password: the token of a fresh sign-in link."},
    )

    @validates_schema
    def _one_proof(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if (data.get("password") is None) == (data.get("magic_link_token") is None):
            raise ValidationError("Send either password or magic_link_token.", "password")


class StaffEraseSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=3, max=200),
        metadata={"description": "How the member asked (ticket, letter, in store)."},
    )


class ErasureSchema(Schema):
    member_id = fields.Integer()
    requested_by = fields.String()
    erased_at = fields.Function(lambda erasure: iso_or_none(erasure.erased_at))


def _zip_response(member_id: int) -> Response:
    response = Response(export_zip(member_id), mimetype="application/zip")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="loyalty-data-member-{member_id}.zip"'
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/me/export")
class MyExport(MethodView):
    @blp.response(200, content_type="application/zip")
    @member_required
    def get(self) -> Response:
        """Download all data held about me (JSON in a ZIP, with my ledger as CSV)."""
        member_id = current_member().id
        refuse_erased(member_id)
        return _zip_response(member_id)


@blp.route("/me")
class EraseMe(MethodView):
    @blp.arguments(EraseMeSchema)
    @blp.response(200, ErasureSchema)
    @blp.alt_response(401, description="invalid-credentials, invalid-magic-link")
    @blp.alt_response(410, description="member-erased")
    @member_required
    def delete(self, body: dict[str, Any]) -> MemberErasure:
        """Delete my account: my personal data is erased for good.

        Confirm with the password, or (accounts made by sign-in link) with a fresh link's token.
        """
        member = current_member()
        refuse_erased(member.id)
        if body["magic_link_token"] is not None:
            confirm_with_magic_link(member.id, body["magic_link_token"])
        elif not password_matches(member.password_hash, body["password"]):
            raise DomainError("invalid-credentials", "The password is wrong.")
        return erase_member(member.id)


@blp.route("/members/<int:member_id>/export")
class MemberExport(MethodView):
    @blp.response(200, content_type="application/zip")
    @blp.alt_response(404, description="unknown-member")
    @blp.alt_response(410, description="member-erased")
    @staff_required(*MANAGER_ROLES)
    def get(self, member_id: int) -> Response:
        """Export a member's data on their request (recorded in the staff audit)."""
        if db.session.get(Member, member_id) is None:
            raise unknown_member(member_id)
        refuse_erased(member_id)
        audit_staff_action(current_identity().subject_id, "member-export", member_id)
        return _zip_response(member_id)


@blp.route("/members/<int:member_id>")
class MemberErase(MethodView):
    @blp.arguments(StaffEraseSchema)
    @blp.response(200, ErasureSchema)
    @blp.alt_response(404, description="unknown-member")
    @blp.alt_response(410, description="member-erased")
    @staff_required(*MANAGER_ROLES)
    def delete(self, body: dict[str, Any], member_id: int) -> MemberErasure:
        """Erase a member's personal data on their request (recorded in the staff audit)."""
        return erase_member(
            member_id, staff_id=current_identity().subject_id, reason=body["reason"]
        )
