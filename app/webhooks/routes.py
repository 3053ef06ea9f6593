"""Webhook routes: admins register and change endpoints; managers see delivery attempts."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, staff_required
from app.webhooks import service
from app.webhooks.schemas import (
    EVENT_TYPES,
    WebhookAttemptSchema,
    WebhookEndpointChangeSchema,
    WebhookEndpointRequestSchema,
    WebhookEndpointSchema,
    WebhookEventTypesSchema,
)

blp = Blueprint(
    "webhooks", __name__, url_prefix="/api/v1/webhooks", description="Webhook endpoints"
)


@blp.route("/event-types")
class EventTypes(MethodView):
    @blp.response(200, WebhookEventTypesSchema)
    @staff_required(*MANAGER_ROLES)
    def get(self) -> dict[str, Any]:
        """List the event types an endpoint can choose."""
        return {"event_types": list(EVENT_TYPES)}


@blp.route("/endpoints")
class Endpoints(MethodView):
    @blp.response(200, WebhookEndpointSchema(many=True))
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List webhook endpoints (secrets are not shown)."""
        return service.list_endpoints()

    @blp.arguments(WebhookEndpointRequestSchema)
    @blp.response(201, WebhookEndpointSchema)
    @blp.alt_response(422, description="endpoint-not-allowed, validation-error")
    @staff_required("admin")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register an endpoint; the answer holds its signing secret, shown only this once."""
        endpoint = service.create_endpoint(
            body["url"], body["event_types"], body["description"], current_identity().subject_id
        )
        return service.endpoint_view(endpoint, with_secret=True)


@blp.route("/endpoints/<int:endpoint_id>")
class EndpointById(MethodView):
    @blp.response(200, WebhookEndpointSchema)
    @blp.alt_response(404, description="unknown-webhook-endpoint")
    @staff_required(*MANAGER_ROLES)
    def get(self, endpoint_id: int) -> dict[str, Any]:
        """Show one endpoint."""
        return service.endpoint_view(service.get_endpoint(endpoint_id))

    @blp.arguments(WebhookEndpointChangeSchema)
    @blp.response(200, WebhookEndpointSchema)
    @blp.alt_response(404, description="unknown-webhook-endpoint")
    @staff_required("admin")
    def patch(self, body: dict[str, Any], endpoint_id: int) -> dict[str, Any]:
        """Change an endpoint; ``enabled: true`` re-enables a disabled one."""
        return service.endpoint_view(service.update_endpoint(endpoint_id, body))

    @blp.response(204)
    @blp.alt_response(404, description="unknown-webhook-endpoint")
    @staff_required("admin")
    def delete(self, endpoint_id: int) -> None:
        """Remove an endpoint; deliveries still queued for it are skipped."""
        service.delete_endpoint(endpoint_id)


@blp.route("/endpoints/<int:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.response(200, WebhookEndpointSchema)
    @blp.alt_response(404, description="unknown-webhook-endpoint")
    @staff_required("admin")
    def post(self, endpoint_id: int) -> dict[str, Any]:
        """Give the endpoint a new secret; the answer shows it this once."""
        return service.endpoint_view(service.rotate_secret(endpoint_id), with_secret=True)


@blp.route("/endpoints/<int:endpoint_id>/attempts")
class Attempts(MethodView):
    @blp.response(200, WebhookAttemptSchema(many=True))
    @blp.alt_response(404, description="unknown-webhook-endpoint")
    @staff_required(*MANAGER_ROLES)
    def get(self, endpoint_id: int) -> list[dict[str, Any]]:
        """List the endpoint's delivery attempts, newest first (the last 100)."""
        return service.list_attempts(endpoint_id)
