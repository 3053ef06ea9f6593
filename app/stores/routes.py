"""Admin and manager routes: stores, tills and staff accounts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.models import StaffAccount
from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.stores import service
from app.stores.models import Store, Till
from app.stores.schemas import (
    StaffChangesSchema,
    StaffRequestSchema,
    StaffSchema,
    StoreDirectoryEntrySchema,
    StoreSchema,
    TillCreatedSchema,
    TillRequestSchema,
    TillSchema,
)

blp = Blueprint("stores", __name__, url_prefix="/api/v1", description="Stores, tills and staff")


@blp.route("/stores")
class Stores(MethodView):
    @blp.response(200, StoreSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> Sequence[Store]:
        """List stores."""
        return service.list_stores(current_identity())

    @blp.arguments(StoreSchema)
    @blp.response(201, StoreSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> Store:
        """Add a store; a manager who adds one works in it from then on."""
        return service.create_store(
            current_identity(), body["name"], body["address"], body["latitude"], body["longitude"]
        )


@blp.route("/me/stores")
class StoreDirectory(MethodView):
    @blp.response(200, StoreDirectoryEntrySchema(many=True))
    @member_required
    def get(self) -> Sequence[Store]:
        """List the stores by name (id, name, address), for choosing my home store."""
        return service.store_directory()


@blp.route("/tills")
class Tills(MethodView):
    @blp.response(200, TillSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> Sequence[Till]:
        """List tills (admins: all; managers: those of their stores); keys are never shown."""
        return service.list_tills(current_identity())

    @blp.arguments(TillRequestSchema)
    @blp.response(201, TillCreatedSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-store")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a till; the answer holds its key, shown only this once."""
        till, till_key = service.register_till(current_identity(), body["store_id"], body["name"])
        return {
            "till_id": till.id,
            "till_key": till_key,
            "store_id": till.store_id,
            "name": till.name,
        }


@blp.route("/staff")
class Staff(MethodView):
    @blp.response(200, StaffSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> Sequence[StaffAccount]:
        """List staff accounts (admins: all; managers: those working in one of their stores)."""
        return service.list_staff(current_identity())

    @blp.arguments(StaffRequestSchema)
    @blp.response(201, StaffSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(409, description="email-taken")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> StaffAccount:
        """Create a staff account (admins: any role; managers: cashiers of their stores)."""
        return service.create_staff(
            current_identity(),
            body["email"],
            body["password"],
            body["display_name"],
            body["role"],
            body["store_ids"],
        )


@blp.route("/staff/<int:staff_id>")
class StaffById(MethodView):
    @blp.arguments(StaffChangesSchema)
    @blp.response(200, StaffSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-staff, unknown-store")
    @blp.alt_response(422, description="validation-error")
    @staff_required("admin")
    def patch(self, body: dict[str, Any], staff_id: int) -> StaffAccount:
        """Change a staff account's name, role, stores or whether it is active (admins)."""
        return service.change_staff(current_identity(), staff_id, body)
