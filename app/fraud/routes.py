"""Fraud review routes for managers and admins: events, blocks, rules, summary and audit."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.db import utcnow
from app.fraud import service
from app.fraud.schemas import (
    AuditQuerySchema,
    AuditSchema,
    BlockRequestSchema,
    BlockSchema,
    EventQuerySchema,
    EventSchema,
    ResolveRequestSchema,
    RuleChangesSchema,
    RuleSchema,
    SummaryQuerySchema,
    SummarySchema,
)

blp = Blueprint(
    "fraud", __name__, url_prefix="/api/v1/fraud", description="Anti-fraud review and reporting"
)

DEFAULT_SUMMARY_DAYS = 7


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(EventQuerySchema, location="query")
    @blp.response(200, EventSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List fraud events, newest first, with the attempts behind each."""
        return service.list_events(current_identity(), **query)


@blp.route("/events/<int:event_id>")
class EventById(MethodView):
    @blp.response(200, EventSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-event")
    @staff_required(*MANAGER_ROLES)
    def get(self, event_id: int) -> dict[str, Any]:
        """Show one fraud event with its evidence."""
        return service.get_event(current_identity(), event_id)


@blp.route("/events/<int:event_id>/resolve")
class ResolveEvent(MethodView):
    @blp.arguments(ResolveRequestSchema)
    @blp.response(200, EventSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-event")
    @blp.alt_response(409, description="event-already-resolved")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], event_id: int) -> dict[str, Any]:
        """Resolve an open event as legitimate or fraud, with a note."""
        return service.resolve_event(current_identity(), event_id, body["resolution"], body["note"])


@blp.route("/blocks")
class Blocks(MethodView):
    @blp.response(200, BlockSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List blocked members, cards and tills."""
        return service.list_blocks(current_identity())

    @blp.arguments(BlockRequestSchema)
    @blp.response(200, BlockSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-target")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Block a member, card or till: every till refuses it until it is unblocked."""
        return service.set_block(
            current_identity(),
            body["target_type"],
            body["target_id"],
            blocked=True,
            reason=body["reason"],
        )


@blp.route("/blocks/<any(member, card, till):target_type>/<target_id>")
class BlockByTarget(MethodView):
    @blp.response(200, BlockSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-target")
    @staff_required(*MANAGER_ROLES)
    def delete(self, target_type: str, target_id: str) -> dict[str, Any]:
        """Lift the block of a member, card or till."""
        return service.set_block(
            current_identity(), target_type, target_id, blocked=False, reason=None
        )


@blp.route("/rules")
class Rules(MethodView):
    @blp.response(200, RuleSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List the risk rules with their thresholds and actions."""
        return service.rules_view()

    @blp.arguments(RuleChangesSchema)
    @blp.response(200, RuleSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required("admin")
    def put(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Change rule thresholds and actions (only the keys sent change)."""
        changes = {rule: settings for rule, settings in body.items() if settings}
        return service.change_rules(current_identity(), changes)


@blp.route("/summary")
class Summary(MethodView):
    @blp.arguments(SummaryQuerySchema, location="query")
    @blp.response(200, SummarySchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Count attempts, refusals by type and events by rule, overall and per store."""
        end = query["end"] or utcnow()
        start = query["start"] or end - timedelta(days=DEFAULT_SUMMARY_DAYS)
        return service.summary(current_identity(), start, end)


@blp.route("/audit")
class Audit(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required("admin")
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List what staff did in the fraud review, newest first."""
        return service.list_audit(**query)
