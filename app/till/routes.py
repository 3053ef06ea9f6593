"""Every till route: scan, purchases, refunds, coupons, reversals, offline sync, revocations,
and the desk (the till's place and policies, member lookup, recent receipts: ``app.till.desk``).

Views are the edge: they turn the till session and the request into a ``TillContext`` and an
operation (``app.till.operations``), run it through the pipeline (``app.till.pipeline``) and
answer. Till writes need an ``Idempotency-Key`` header (a retry gets the first answer) and
every till call is on record in the attempt log, accepted or refused. A till blocked by staff
after its session was opened is refused on every route here (``till-blocked``), right after
the session's token was checked and before the body is parsed.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import current_identity, till_required
from app.auth.tokens import API_AUDIENCE, TILL_AUDIENCE, decode_access_token
from app.campaigns.schemas import (
    CouponReversalSchema,
    RedeemRequestSchema,
    RedemptionReverseRequestSchema,
    RedemptionSchema,
    SyncAnswerSchema,
    SyncRequestSchema,
    ValidateRequestSchema,
    ValidationAnswerSchema,
)
from app.cards.schemas import (
    RevocationsQuerySchema,
    RevocationsSchema,
    ScanRequestSchema,
    ScanSchema,
)
from app.cards.service import revoked_cards_since
from app.db import utcnow
from app.errors import Problem
from app.fraud.attempts import note_attempt
from app.fraud.blocks import refuse_blocked_till
from app.fraud.verdict import Approval
from app.ledger.schemas import (
    PurchaseRequestSchema,
    PurchaseSchema,
    RefundRequestSchema,
    RefundSchema,
)
from app.settings_cache import prime_versions, versions_query
from app.till import desk, operations
from app.till.pipeline import TillAnswer, TillContext, TillOperation, run_till_operation
from app.till.schemas import (
    FoundMemberSchema,
    MemberQuerySchema,
    ReceiptQuerySchema,
    ReceiptSchema,
    TillContextSchema,
)
from app.till.sync import sync_events

blp = Blueprint("till", __name__, url_prefix="/api/v1/till", description="At the till")

APPROVAL_HEADER = "X-Manager-Approval"
IDEMPOTENCY_HEADER = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": True,
            "schema": {"type": "string", "maxLength": 255},
            "description": "A new UUID per operation; a retry with the same key replays.",
        }
    ]
}
# What presenting a card may be refused with, by status.
CARD_REFUSALS_422 = "malformed-code, bad-signature, unknown-key, code-stale, invalid-scan-token"
CARD_REFUSALS_410 = "card-expired, card-revoked"


@blp.before_request
def refuse_blocked_tills() -> None:
    """Stop a till that staff blocked after its session was opened.

    The same statement reads the cashier's e-mail (for the self-dealing rule) and the versions
    of the cached settings (``app.settings_cache``): one round trip instead of three.
    """
    identity = g.get("identity")
    if identity is not None and identity.kind == "till":
        email, rows = refuse_blocked_till(
            identity.till_id, identity.store_id, identity.subject_id, also=versions_query()
        )
        g.till_staff_email = email
        prime_versions({row.name: int(row.version) for row in rows if row.name is not None})


def till_context() -> TillContext:
    """Return the current till session's till, store and cashier, and what the request shows."""
    identity = current_identity()
    assert identity.till_id is not None and identity.store_id is not None
    return TillContext(
        till_id=identity.till_id,
        store_id=identity.store_id,
        staff_id=identity.subject_id,
        role=identity.role,
        client_address=request.remote_addr or None,
        approval=_approval(),
        staff_email=g.get("till_staff_email"),
    )


def _approval() -> Approval | None:
    """Read the manager's approval token the till sent, if any (checked by the fraud verdict)."""
    token = request.headers.get(APPROVAL_HEADER, "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        return None
    for audience in (TILL_AUDIENCE, API_AUDIENCE):
        try:
            approver = decode_access_token(token, audience)
        except Problem:
            continue
        return Approval(approver.subject_id if approver.kind in ("staff", "till") else None)
    return Approval(None)


def _run(operation: TillOperation) -> Any:
    """Run a till operation; a write answers with the stored JSON (the first, on a retry)."""
    answer: TillAnswer = run_till_operation(till_context(), operation)
    return answer.body


@blp.route("/scan")
class TillScan(MethodView):
    @blp.arguments(ScanRequestSchema)
    @blp.response(200, ScanSchema)
    @blp.alt_response(404, description="unknown-card")
    @blp.alt_response(409, description="code-replayed")
    @blp.alt_response(410, description=CARD_REFUSALS_410)
    @blp.alt_response(422, description=CARD_REFUSALS_422)
    @blp.alt_response(403, description="card-blocked, member-blocked, till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, str]) -> Any:
        """Scan a member card (LW1 or LW2) and get a scan token for this visit."""
        return _run(operations.Scan(body))


@blp.route("/purchases")
class Purchases(MethodView):
    @blp.arguments(PurchaseRequestSchema)
    @blp.response(201, PurchaseSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(400, description="idempotency-key-required")
    @blp.alt_response(403, description="member-blocked, card-blocked, till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(429, description="too-many-attempts")
    @blp.alt_response(404, description="unknown-card")
    @blp.alt_response(409, description="duplicate-receipt, code-replayed")
    @blp.alt_response(410, description=CARD_REFUSALS_410)
    @blp.alt_response(
        422,
        description=CARD_REFUSALS_422
        + ", currency-not-accepted, validation-error, idempotency-key-reused",
    )
    @till_required()
    def post(self, body: dict[str, Any]) -> Any:
        """Book a purchase for the presented card and credit the points it earns."""
        return _run(operations.BookPurchase(body))


@blp.route("/refunds")
class Refunds(MethodView):
    @blp.arguments(RefundRequestSchema)
    @blp.response(201, RefundSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(400, description="idempotency-key-required")
    @blp.alt_response(404, description="unknown-receipt")
    @blp.alt_response(403, description="till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(422, description="refund-exceeds-purchase, idempotency-key-reused")
    @till_required()
    def post(self, body: dict[str, Any]) -> Any:
        """Refund (part of) a receipt of this store and take back its share of the points."""
        return _run(operations.RefundPurchase(body))


@blp.route("/coupons/validate")
class TillValidate(MethodView):
    @blp.arguments(ValidateRequestSchema)
    @blp.response(200, ValidationAnswerSchema)
    @blp.alt_response(403, description="member-blocked")
    @blp.alt_response(404, description="unknown-code, unknown-card")
    @blp.alt_response(409, description="code-replayed")
    @blp.alt_response(410, description=CARD_REFUSALS_410)
    @blp.alt_response(422, description="invalid-code, " + CARD_REFUSALS_422)
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, Any]) -> Any:
        """Check a coupon without redeeming it; a refusal is in the answer, nothing changes."""
        return _run(operations.ValidateCoupon(body))


@blp.route("/coupons/redeem")
class TillRedeem(MethodView):
    @blp.arguments(RedeemRequestSchema)
    @blp.response(200, RedemptionSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(400, description="idempotency-key-required")
    @blp.alt_response(403, description="wrong-store, wrong-member, member-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(404, description="unknown-code, unknown-card")
    @blp.alt_response(
        409, description="coupon-already-redeemed, use-limit-reached, code-replayed, conflict"
    )
    @blp.alt_response(410, description="coupon-expired, coupon-voided, " + CARD_REFUSALS_410)
    @blp.alt_response(
        422,
        description="invalid-code, coupon-not-yet-valid, basket-too-small, item-not-in-basket, "
        "member-card-required, idempotency-key-reused, " + CARD_REFUSALS_422,
    )
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, Any]) -> Any:
        """Redeem a coupon once; a retry with the same Idempotency-Key gets the first answer."""
        return _run(operations.RedeemCoupon(body))


@blp.route("/redemptions/<uuid:redemption_id>/reverse")
class TillReverse(MethodView):
    @blp.arguments(RedemptionReverseRequestSchema)
    @blp.response(200, CouponReversalSchema)
    @blp.doc(**IDEMPOTENCY_HEADER)
    @blp.alt_response(403, description="reversal-not-allowed, reversal-window-closed")
    @blp.alt_response(404, description="unknown-redemption")
    @blp.alt_response(409, description="redemption-already-reversed")
    @till_required()
    def post(self, body: dict[str, Any], redemption_id: uuid.UUID) -> Any:
        """Undo a redemption (sale cancelled): same till within the window, or a manager."""
        return _run(operations.ReverseRedemption({"redemption_id": str(redemption_id), **body}))


@blp.route("/sync")
class TillSync(MethodView):
    @blp.arguments(SyncRequestSchema)
    @blp.response(200, SyncAnswerSchema)
    @blp.alt_response(422, description="validation-error")
    @till_required()
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send what the till did offline; each event is answered and replays change nothing."""
        note_attempt("till-sync")
        return sync_events(body["events"], till=till_context())


@blp.route("/revocations")
class TillRevocations(MethodView):
    @blp.arguments(RevocationsQuerySchema, location="query")
    @blp.response(200, RevocationsSchema)
    @till_required()
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List cards revoked since a time, for tills that check codes offline."""
        as_of = utcnow()
        cards = revoked_cards_since(query["since"])
        return {
            "revoked": [
                {
                    "card_id": str(c.id),
                    "revoked_at": c.revoked_at.isoformat() if c.revoked_at else "",
                }
                for c in cards
            ],
            "as_of": as_of.isoformat(),
        }


# --- the desk: place, member lookup, receipts -------------------------------------------------


@blp.route("/context")
class TillPlaceAndPolicies(MethodView):
    @blp.response(200, TillContextSchema)
    @blp.alt_response(404, description="unknown-till")
    @till_required()
    def get(self) -> dict[str, Any]:
        """Name this till and its store; the tier names, the lookup policy, the undo window."""
        return desk.till_context(till_context())


@blp.route("/members")
class TillMembers(MethodView):
    @blp.arguments(MemberQuerySchema, location="query")
    @blp.response(200, FoundMemberSchema(many=True))
    @blp.alt_response(422, description="query-too-short")
    @till_required()
    def get(self, query: dict[str, str]) -> list[dict[str, Any]]:
        """Find a member by name, e-mail, member number or phone, for a member without their app."""
        note_attempt("member-lookup")
        return [desk.member_summary(m) for m in desk.find_members(query["q"])]


@blp.route("/members/<int:member_id>/visit")
class TillMemberVisit(MethodView):
    @blp.response(200, ScanSchema)
    @blp.alt_response(404, description="unknown-member")
    @blp.alt_response(410, description="card-revoked")
    @blp.alt_response(403, description="card-blocked, member-blocked, till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @till_required()
    def post(self, member_id: int) -> Any:
        """Open a visit for a looked-up member: a scan token with the credential ``lookup``."""
        return _run(operations.LookupVisit({"member_id": member_id}))


@blp.route("/receipts")
class TillReceipts(MethodView):
    @blp.arguments(ReceiptQuerySchema, location="query")
    @blp.response(200, ReceiptSchema(many=True))
    @till_required()
    def get(self, query: dict[str, int]) -> list[dict[str, Any]]:
        """List this till's latest receipts, newest first."""
        return desk.recent_receipts(till_context(), query["limit"])
