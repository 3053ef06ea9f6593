"""Ledger routes: the member's history and the manager's tools (earning is in ``app.till``).

Two blueprints, grouped by who calls them: ``me_blp`` (a member's own history and expiring
points) and ``blp`` (managers and admins: earning rules, promotions, tiers, a member's ledger
and adjustments). ``BLUEPRINTS`` lists them for the app factory.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.accounts.models import Member
from app.auth.access import (
    MANAGER_ROLES,
    current_identity,
    member_required,
    staff_required,
)
from app.ledger import earning, expiry, service, tiers
from app.ledger.models import LedgerEntry, Promotion
from app.ledger.schemas import (
    AdjustmentRequestSchema,
    EarningRulesSchema,
    ExpiringSchema,
    LedgerEntrySchema,
    MemberPointsSchema,
    PromotionQuerySchema,
    PromotionRequestSchema,
    PromotionSchema,
    ReversalRequestSchema,
    StaffLedgerEntrySchema,
    TierSettingsSchema,
)
from app.stores import scope

me_blp = Blueprint(
    "ledger_me", __name__, url_prefix="/api/v1/me", description="The member's points history"
)
blp = Blueprint(
    "ledger", __name__, url_prefix="/api/v1", description="Earning rules, tiers and the ledger"
)
BLUEPRINTS = (me_blp, blp)

CARD_REFUSALS = (
    "malformed-code, bad-signature, unknown-key, code-stale, invalid-scan-token, "
    "currency-not-accepted, validation-error"
)


@me_blp.route("/ledger")
class MyLedger(MethodView):
    @me_blp.response(200, LedgerEntrySchema(many=True))
    @me_blp.paginate()
    @me_blp.alt_response(401, description="authentication-required, invalid-token, token-expired")
    @member_required
    def get(self, pagination_parameters: Any) -> list[dict[str, Any]]:
        """List my points history, newest first, with store names and receipt amounts."""
        entries = _entry_page(current_identity().subject_id, pagination_parameters)
        return service.entries_with_receipts(entries)


@me_blp.route("/points/expiring")
class MyExpiringPoints(MethodView):
    @me_blp.response(200, ExpiringSchema)
    @me_blp.alt_response(401, description="authentication-required, invalid-token, token-expired")
    @member_required
    def get(self) -> dict[str, Any]:
        """Show which of my points expire when, if I stay inactive."""
        return expiry.expiring_points(current_identity().subject_id)


@blp.route("/members/<int:member_id>/points")
class MemberPoints(MethodView):
    @blp.response(200, MemberPointsSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*MANAGER_ROLES)
    def get(self, member_id: int) -> Member:
        """Show whose ledger it is: the member's name, balance, tier and whether blocked."""
        return service.require_member(member_id)


@blp.route("/members/<int:member_id>/ledger")
class MemberLedger(MethodView):
    @blp.response(200, StaffLedgerEntrySchema(many=True))
    @blp.paginate()
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*MANAGER_ROLES)
    def get(self, member_id: int, pagination_parameters: Any) -> list[dict[str, Any]]:
        """List a member's ledger, newest first."""
        service.require_member(member_id)
        return service.staff_entry_views(_entry_page(member_id, pagination_parameters))

    @blp.arguments(AdjustmentRequestSchema)
    @blp.response(201, StaffLedgerEntrySchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-member")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], member_id: int) -> LedgerEntry:
        """Post an adjustment (credit or debit) with its reason."""
        return service.adjust_points(
            member_id, body["points"], body["reason"], current_identity().subject_id
        )


@blp.route("/ledger-entries/<int:entry_id>/reversal")
class EntryReversal(MethodView):
    @blp.arguments(ReversalRequestSchema)
    @blp.response(201, StaffLedgerEntrySchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-entry")
    @blp.alt_response(409, description="already-reversed")
    @blp.alt_response(422, description="entry-not-reversible")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], entry_id: int) -> LedgerEntry:
        """Undo an adjustment, bonus, reward or expiry with a reversal entry."""
        return service.reverse_entry(
            entry_id, staff_id=current_identity().subject_id, reason=body["reason"]
        )


@blp.route("/earning-rules")
class EarningRules(MethodView):
    @blp.response(200, EarningRulesSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> dict[str, Any]:
        """Show the base rate, bonus rules and expiry period."""
        return earning.earning_rules_view()

    @blp.arguments(EarningRulesSchema)
    @blp.response(200, EarningRulesSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the base rate, bonus rules and expiry period."""
        return earning.replace_earning_rules(current_identity().subject_id, **body)


@blp.route("/promotions")
class Promotions(MethodView):
    @blp.arguments(PromotionQuerySchema, location="query")
    @blp.response(200, PromotionSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> Sequence[Promotion]:
        """List current and coming promotions (and past ones with include_past)."""
        return earning.list_promotions(query["include_past"])

    @blp.arguments(PromotionRequestSchema)
    @blp.response(201, PromotionSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> Promotion:
        """Schedule a points multiplier for a time box ("double points this weekend")."""
        staff_id = current_identity().subject_id
        body["store_ids"] = scope.own_stores_unless_admin(staff_id, body.get("store_ids"))
        return earning.create_promotion(staff_id, **body)


@blp.route("/promotions/<int:promotion_id>")
class PromotionById(MethodView):
    @blp.response(200, PromotionSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-promotion")
    @staff_required(*MANAGER_ROLES)
    def delete(self, promotion_id: int) -> Promotion:
        """Cancel a promotion (it stays on record)."""
        return earning.cancel_promotion(promotion_id, current_identity().subject_id)


@blp.route("/tiers")
class Tiers(MethodView):
    @blp.response(200, TierSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> dict[str, Any]:
        """Show the tier ladder, its rolling window and qualification period."""
        return tiers.tier_settings_view()

    @blp.arguments(TierSettingsSchema)
    @blp.response(200, TierSettingsSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace the tier ladder and its periods."""
        return tiers.replace_tier_ladder(
            current_identity().subject_id,
            body["tiers"],
            body["window_days"],
            body["qualification_period_months"],
        )


def _entry_page(member_id: int, pagination_parameters: Any) -> Sequence[LedgerEntry]:
    entries, total = service.member_entries(
        member_id, pagination_parameters.first_item, pagination_parameters.page_size
    )
    pagination_parameters.item_count = total
    return entries
