"""Segment routes (managers): define, preview, change, delete.

A segment's members are computed when asked, in SQL. Its member list and CSV
(``/segments/{id}/members``, ``members.csv``) are served by ``app.members.routes``, next to the
member search whose rows they share: members build on segments, not the other way round.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.segments import service
from app.segments.schemas import (
    SegmentPreviewSchema,
    SegmentRequestSchema,
    SegmentRulesSchema,
    SegmentSchema,
)

blp = Blueprint("segments", __name__, url_prefix="/api/v1/segments", description="Segments")


@blp.route("")
class Segments(MethodView):
    @blp.response(200, SegmentSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List the segments with their current sizes."""
        return [service.segment_view(segment) for segment in service.list_segments()]

    @blp.arguments(SegmentRequestSchema)
    @blp.response(201, SegmentSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(409, description="segment-name-taken")
    @blp.alt_response(422, description="invalid-segment-rules, validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Define a segment by rules over member attributes."""
        segment = service.create_segment(
            body["name"], body["rules"], body["description"], current_identity().subject_id
        )
        return service.segment_view(segment)


@blp.route("/preview")
class SegmentPreview(MethodView):
    @blp.arguments(SegmentRulesSchema)
    @blp.response(200, SegmentPreviewSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="invalid-segment-rules")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Count the members some rules would select, without saving them."""
        return {"size": service.count_matching(body["rules"])}


@blp.route("/<int:segment_id>")
class SegmentDetail(MethodView):
    @blp.response(200, SegmentSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-segment")
    @staff_required(*MANAGER_ROLES)
    def get(self, segment_id: int) -> dict[str, Any]:
        """Show a segment and how many members it selects now."""
        return service.segment_view(service.get_segment(segment_id))

    @blp.arguments(SegmentRequestSchema)
    @blp.response(200, SegmentSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-segment")
    @blp.alt_response(409, description="segment-name-taken")
    @blp.alt_response(422, description="invalid-segment-rules, validation-error")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, Any], segment_id: int) -> dict[str, Any]:
        """Replace a segment's name, description and rules."""
        segment = service.update_segment(
            segment_id, body["name"], body["rules"], body["description"]
        )
        return service.segment_view(segment)

    @blp.response(204)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-segment")
    @staff_required(*MANAGER_ROLES)
    def delete(self, segment_id: int) -> None:
        """Delete a segment (coupons already issued to it stay)."""
        service.delete_segment(segment_id)
