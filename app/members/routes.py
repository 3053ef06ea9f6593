"""``/api/v1/members``: staff find a member (search, stage, segment, health) and see the detail.

Also a segment's member list and CSV (``/api/v1/segments/{id}/members``, managers): the same
rows as the search, filtered by the segment's SQL condition.

Every staff role may search: cashiers look members up at the till and the service desk. The
list and the detail show what staff need to help the member, never a password or card secret.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.models import StaffRole
from app.auth.access import MANAGER_ROLES, staff_required
from app.members import privacy as _privacy  # noqa: F401  (registers export and erasure)
from app.members import service
from app.members.schemas import MemberDetailSchema, MemberQuerySchema, MemberRowSchema
from app.segments.service import get_segment

blp = Blueprint(
    "members", __name__, url_prefix="/api/v1/members", description="Finding members (staff)"
)
segment_members_blp = Blueprint(
    "segment_members", __name__, url_prefix="/api/v1/segments", description="Segments"
)
STAFF_ROLES = (StaffRole.CASHIER.value, StaffRole.MANAGER.value, StaffRole.ADMIN.value)
CSV_COLUMNS = (
    "member_id",
    "member_number",
    "email",
    "display_name",
    "tier",
    "points_balance",
    "stage",
    "health_score",
    "p_active",
    "days_since_last_purchase",
    "created_at",
)


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


@segment_members_blp.route("/<int:segment_id>/members")
class SegmentMembers(MethodView):
    @segment_members_blp.response(200, MemberRowSchema(many=True))
    @segment_members_blp.paginate()
    @segment_members_blp.alt_response(403, description="forbidden")
    @segment_members_blp.alt_response(404, description="unknown-segment")
    @staff_required(*MANAGER_ROLES)
    def get(self, segment_id: int, pagination_parameters: Any) -> list[dict[str, Any]]:
        """List a segment's members, newest first."""
        rows, total = service.search_members(
            service.MemberSearch(segment_id=segment_id),
            pagination_parameters.first_item,
            pagination_parameters.page_size,
        )
        pagination_parameters.item_count = total
        return rows


@segment_members_blp.route("/<int:segment_id>/members.csv")
class SegmentMembersCsv(MethodView):
    @segment_members_blp.response(200, content_type="text/csv")
    @segment_members_blp.alt_response(403, description="forbidden")
    @segment_members_blp.alt_response(404, description="unknown-segment")
    @staff_required(*MANAGER_ROLES)
    def get(self, segment_id: int) -> Response:
        """Download every member of a segment as CSV."""
        segment = get_segment(segment_id)
        search = service.MemberSearch(segment_id=segment.id)

        def lines() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, CSV_COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in service.iterate_members(search):
                writer.writerow(row)
                if buffer.tell() > 64_000:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return Response(
            stream_with_context(lines()),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="segment-{segment.id}.csv"'},
        )
