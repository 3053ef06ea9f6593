"""Till routes for the cashier's screen: context, member lookup, recent receipts.

Thin: the work is in ``app.till_desk.service``. A visit opened by lookup answers like
``POST /api/v1/till/scan`` (same schema), so the till treats it like a scanned card.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import till_required
from app.cards.presentation import issue_scan_token
from app.cards.schemas import ScanSchema
from app.fraud.attempts import note_attempt
from app.fraud.rules import assess
from app.till_desk import service
from app.till_desk.schemas import (
    FoundMemberSchema,
    MemberQuerySchema,
    ReceiptQuerySchema,
    ReceiptSchema,
    TillContextSchema,
)

blp = Blueprint(
    "till_desk", __name__, url_prefix="/api/v1/till", description="The cashier's screen"
)


@blp.route("/context")
class TillContext(MethodView):
    @blp.response(200, TillContextSchema)
    @till_required()
    def get(self) -> dict[str, Any]:
        """Name this till and its store, the tier names and the lookup policy."""
        return service.till_context()


@blp.route("/members")
class TillMembers(MethodView):
    @blp.arguments(MemberQuerySchema, location="query")
    @blp.response(200, FoundMemberSchema(many=True))
    @blp.alt_response(422, description="query-too-short")
    @till_required()
    def get(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Find a member by (part of) their name or e-mail, for a member without their phone."""
        note_attempt("member-lookup")
        return [service.member_summary(m) for m in service.find_members(query["q"])]


@blp.route("/members/<int:member_id>/visit")
class TillMemberVisit(MethodView):
    @blp.response(200, ScanSchema)
    @blp.alt_response(404, description="unknown-member, unknown-card")
    @blp.alt_response(403, description="card-blocked, member-blocked, till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @till_required()
    def post(self, member_id: int) -> dict[str, Any]:
        """Open a visit for a looked-up member: a scan token with the credential ``lookup``."""
        note_attempt("member-lookup-visit")
        member, presented = service.present_looked_up_member(member_id)
        assess("scan", presented)
        token, expires_at = issue_scan_token(presented)
        return {
            "card_id": str(presented.card_id),
            "member": service.member_summary(member),
            "credential": presented.credential,
            "scan_token": token,
            "scan_token_expires_at": expires_at.isoformat(),
        }


@blp.route("/receipts")
class TillReceipts(MethodView):
    @blp.arguments(ReceiptQuerySchema, location="query")
    @blp.response(200, ReceiptSchema(many=True))
    @till_required()
    def get(self, query: dict[str, int]) -> Sequence[dict[str, Any]]:
        """List this till's latest receipts, newest first."""
        return service.recent_receipts(query["limit"])
