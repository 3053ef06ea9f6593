"""Rewards routes: the catalogue, member claims, gift fulfilment and stamp programmes.

Members see the active rewards (``GET /rewards``), claim one with an ``Idempotency-Key``
(``POST /me/rewards/{id}/claim``), and see their claims and stamp cards. Managers and admins
keep the catalogue (``POST /rewards``, ``GET /rewards/catalogue``, ``GET/PATCH
/rewards/{id}``), follow physical gifts (``GET /reward-claims``, ``POST
/reward-claims/{id}/fulfilment``) and define stamp programmes.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import MANAGER_ROLES, current_identity, member_required, staff_required
from app.fraud.attempts import note_attempt
from app.idempotency import HEADER, MAX_KEY_LENGTH, run_idempotent
from app.rewards import service, stamps
from app.rewards.models import Reward, StampProgramme
from app.rewards.schemas import (
    ClaimAnswerSchema,
    ClaimSchema,
    ClaimsQuerySchema,
    FulfilmentRequestSchema,
    MemberRewardSchema,
    RewardChangesSchema,
    RewardCreateSchema,
    RewardSchema,
    StaffClaimSchema,
    StampCardSchema,
    StampProgrammeChangesSchema,
    StampProgrammeRequestSchema,
    StampProgrammeSchema,
)

blp = Blueprint(
    "rewards", __name__, url_prefix="/api/v1", description="Rewards, claims and stamp cards"
)

IDEMPOTENCY_HEADER = {
    "in": "header",
    "name": HEADER,
    "required": True,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": "A new UUID per claim; a retry with the same key returns the first answer.",
}
CLAIM_REFUSALS = (
    "insufficient-points, reward-out-of-stock, reward-limit-reached, reward-not-available, conflict"
)


@blp.route("/rewards")
class Rewards(MethodView):
    @blp.response(200, MemberRewardSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """List the rewards I can claim now."""
        return service.active_rewards(current_identity().subject_id)

    @blp.arguments(RewardCreateSchema)
    @blp.response(201, RewardSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> Reward:
        """Add a reward to the catalogue."""
        return service.create_reward(body.pop("kind"), body)


@blp.route("/rewards/catalogue")
class RewardCatalogue(MethodView):
    @blp.response(200, RewardSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> list[dict[str, Any]]:
        """List every reward, active or not, with its claim count."""
        return service.catalogue()


@blp.route("/rewards/<int:reward_id>")
class RewardById(MethodView):
    @blp.response(200, RewardSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-reward")
    @staff_required(*MANAGER_ROLES)
    def get(self, reward_id: int) -> Reward:
        """Show a reward of the catalogue."""
        return service.get_reward(reward_id)

    @blp.arguments(RewardChangesSchema)
    @blp.response(200, RewardSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-reward")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def patch(self, body: dict[str, Any], reward_id: int) -> Reward:
        """Change a reward (restock, reprice, withdraw); its kind is fixed."""
        return service.update_reward(reward_id, body)


@blp.route("/me/rewards/<int:reward_id>/claim")
class ClaimReward(MethodView):
    @blp.doc(parameters=[IDEMPOTENCY_HEADER])
    @blp.response(201, ClaimAnswerSchema)
    @blp.alt_response(400, description="idempotency-key-required")
    @blp.alt_response(403, description="member-blocked, forbidden, risk-denied")
    @blp.alt_response(404, description="unknown-reward")
    @blp.alt_response(409, description=CLAIM_REFUSALS)
    @blp.alt_response(422, description="idempotency-key-reused")
    @member_required
    def post(self, reward_id: int) -> Response:
        """Claim a reward: take my points and issue its coupon (or order the gift)."""
        note_attempt("reward-claim")
        member_id = current_identity().subject_id
        return run_idempotent(
            scope=f"member:{member_id}",
            operation="reward-claim",
            payload={"reward_id": reward_id},
            action=lambda: (service.claim_reward(member_id, reward_id), 201),
        )


@blp.route("/me/rewards/claims")
class MyClaims(MethodView):
    @blp.response(200, ClaimSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """List my reward claims, newest first."""
        return service.member_claims(current_identity().subject_id)


@blp.route("/reward-claims")
class RewardClaims(MethodView):
    @blp.arguments(ClaimsQuerySchema, location="query")
    @blp.response(200, StaffClaimSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List reward claims, e.g. the gifts still to ship."""
        return service.list_claims(query.get("fulfilment_status"))


@blp.route("/reward-claims/<int:claim_id>/fulfilment")
class ClaimFulfilment(MethodView):
    @blp.arguments(FulfilmentRequestSchema)
    @blp.response(200, StaffClaimSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-reward-claim")
    @blp.alt_response(409, description="fulfilment-not-applicable, invalid-fulfilment-transition")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any], claim_id: int) -> dict[str, Any]:
        """Record a gift's step: shipped, delivered, or returned (gives the points back)."""
        staff_id = current_identity().subject_id
        return service.record_fulfilment(
            claim_id, body["status"], staff_id=staff_id, note=body["note"]
        )


@blp.route("/stamp-programmes")
class StampProgrammes(MethodView):
    @blp.response(200, StampProgrammeSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @staff_required(*MANAGER_ROLES)
    def get(self) -> Any:
        """List the stamp programmes, newest first."""
        return stamps.list_stamp_programmes()

    @blp.arguments(StampProgrammeRequestSchema)
    @blp.response(201, StampProgrammeSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(422, description="validation-error")
    @staff_required(*MANAGER_ROLES)
    def post(self, body: dict[str, Any]) -> StampProgramme:
        """Define a stamp programme ("buy 9 coffees, the 10th is free")."""
        return stamps.create_stamp_programme(**body)


@blp.route("/stamp-programmes/<int:programme_id>")
class StampProgrammeById(MethodView):
    @blp.arguments(StampProgrammeChangesSchema)
    @blp.response(200, StampProgrammeSchema)
    @blp.alt_response(403, description="forbidden")
    @blp.alt_response(404, description="unknown-stamp-programme")
    @staff_required(*MANAGER_ROLES)
    def patch(self, body: dict[str, Any], programme_id: int) -> StampProgramme:
        """Start or stop a stamp programme; cards keep their stamps."""
        return stamps.set_stamp_programme_active(programme_id, body["active"])


@blp.route("/me/stamps")
class MyStamps(MethodView):
    @blp.response(200, StampCardSchema(many=True))
    @blp.alt_response(403, description="forbidden")
    @member_required
    def get(self) -> list[dict[str, Any]]:
        """Show my stamp cards."""
        return stamps.member_stamp_cards(current_identity().subject_id)
