"""Membership routes: plans (managers), selling and ending (managers), mine (members), KPIs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.memberships import service
from app.memberships.models import Membership, MembershipPlan
from app.memberships.schemas import (
    EndRequestSchema,
    KpiQuerySchema,
    KpiSchema,
    MembershipSchema,
    MyMembershipSchema,
    PlanChangeSchema,
    PlanSchema,
    SaleRequestSchema,
)

blp = Blueprint("memberships", __name__, url_prefix="/api/v1", description="Paid membership")


@blp.route("/membership-plans")
class Plans(MethodView):
    @blp.response(200, PlanSchema(many=True))
    @staff_required(*MANAGER_ROLES)
    def get(self) -> Sequence[MembershipPlan]:
        """List every plan, on sale or not."""
        return service.list_plans(only_active=False)

    @blp.arguments(PlanSchema)
    @blp.response(201, PlanSchema)
    @blp.alt_response(409, description="sku-taken")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> MembershipPlan:
        """Add a membership plan."""
        return service.create_plan(body)


@blp.route("/membership-plans/<int:plan_id>")
class Plan(MethodView):
    @blp.arguments(PlanChangeSchema)
    @blp.response(200, PlanSchema)
    @blp.alt_response(404, description="unknown-membership-plan")
    @blp.alt_response(409, description="sku-taken")
    @staff_required(*MANAGER_ROLES)
    def patch(self, body: dict[str, Any], plan_id: int) -> MembershipPlan:
        """Change a plan (memberships already sold keep their price and period)."""
        return service.update_plan(plan_id, body)


@blp.route("/me/membership-plans")
class PlansOnSale(MethodView):
    @blp.response(200, PlanSchema(many=True))
    @member_required
    def get(self) -> Sequence[MembershipPlan]:
        """List the plans on sale."""
        return service.list_plans(only_active=True)


@blp.route("/me/membership")
class MyMembership(MethodView):
    @blp.response(200, MyMembershipSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Show my membership, its benefits and my past memberships."""
        return service.my_membership(current_identity().subject_id)


@blp.route("/members/<int:member_id>/memberships")
class MemberMemberships(MethodView):
    @blp.response(200, MyMembershipSchema)
    @staff_required(*MANAGER_ROLES)
    def get(self, member_id: int) -> dict[str, Any]:
        """Show a member's membership and history."""
        return service.my_membership(member_id)

    @blp.arguments(SaleRequestSchema)
    @blp.response(201, MembershipSchema)
    @blp.alt_response(404, description="unknown-member, unknown-membership-plan")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], member_id: int) -> dict[str, Any]:
        """Sell a membership to a member (outside the till); its benefits start at once."""
        plan = service.get_plan(body["plan_id"])
        membership = service.sell_membership(
            member_id,
            plan,
            source="manager",
            price_cents=plan.price_cents if body["price_cents"] is None else body["price_cents"],
            store_id=body["store_id"],
            staff_id=current_identity().subject_id,
        )
        return service.membership_view(membership)


@blp.route("/memberships/<int:membership_id>/end")
class EndMembership(MethodView):
    @blp.arguments(EndRequestSchema)
    @blp.response(200, MembershipSchema)
    @blp.alt_response(404, description="unknown-membership")
    @blp.alt_response(409, description="membership-not-active")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], membership_id: int) -> dict[str, Any]:
        """End a membership's benefits now (cancelled, or refunded outside the till)."""
        membership: Membership = service.end_membership_by_id(
            membership_id, body["status"], body["reason"]
        )
        return service.membership_view(membership)


@blp.route("/memberships/kpis")
class MembershipKpis(MethodView):
    @blp.arguments(KpiQuerySchema, location="query")
    @blp.response(200, KpiSchema)
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Paying members and plan revenue in a period."""
        return service.membership_kpis(query["start"], query["end"])
