"""``/api/v1/me``: what a member sees of their own account, and nothing of anyone else's."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from app.accounts.models import Member
from app.auth.access import current_identity, member_required
from app.errors import DomainError
from app.extensions import db
from app.ledger.tiers import tier_progress as ledger_tier_progress
from app.member_numbers import format_member_number

blp = Blueprint("me", __name__, url_prefix="/api/v1/me", description="The member's own account")


class MeSchema(Schema):
    member_id = fields.Integer(attribute="id")
    member_number = fields.Function(
        lambda member: format_member_number(member.id),
        metadata={"description": "Printed on the card, read out at the till: XXXX-XXXX-C"},
    )
    email = fields.String()
    display_name = fields.String()
    points_balance = fields.Integer()
    # Before ``tier``: computing the progress first applies a pending tier review.
    tier_progress = fields.Function(lambda member: ledger_tier_progress(member.id))
    tier = fields.String()


def current_member() -> Member:
    """Return the member the request is authenticated as."""
    member = db.session.get(Member, current_identity().subject_id)
    if member is None:
        raise DomainError("invalid-token", "This account no longer exists.")
    return member


@blp.route("")
class Me(MethodView):
    @blp.response(200, MeSchema)
    @blp.alt_response(401, description="authentication-required, invalid-token, token-expired")
    @member_required
    def get(self) -> Any:
        """Show my account, points and tier."""
        return current_member()
