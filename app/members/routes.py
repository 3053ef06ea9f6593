"""``/api/v1/members``: staff find a member (search, stage, segment, health) and see the detail.

Every staff role may search: cashiers look members up at the till and the service desk. The
list and the detail show what staff need to help the member, never a password or card secret.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.models import StaffRole
from app.auth.access import staff_required
from app.members import service
from app.members.schemas import MemberDetailSchema, MemberQuerySchema, MemberRowSchema

blp = Blueprint(
    "members", __name__, url_prefix="/api/v1/members", description="Finding members (staff)"
)
STAFF_ROLES = (StaffRole.CASHIER.value, StaffRole.MANAGER.value, StaffRole.ADMIN.value)


@blp.route("")
class Members(MethodView):
    @blp.arguments(MemberQuerySchema, location="query")
    @blp.response(200, MemberRowSchema(many=True))
    @blp.paginate()
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-segment")
    @staff_required(*STAFF_ROLES)
    def get(self, query: dict[str, Any], pagination_parameters: Any) -> list[dict[str, Any]]:
        """Find members by number, e-mail or name, stage, segment and health score."""
        rows, total = service.search_members(
            service.MemberSearch(**query),
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return rows


@blp.route("/<int:member_id>")
class MemberDetail(MethodView):
    @blp.response(200, MemberDetailSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*STAFF_ROLES)
    def get(self, member_id: int) -> dict[str, Any]:
        """Show a member: profile, card, points, tier, stage, health with its factors."""
        return service.member_detail(member_id)
