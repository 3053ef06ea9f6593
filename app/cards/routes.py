"""Card routes: the member's card and its QR, the till scan, revocations and the JWKS."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import current_identity, member_required, till_required
from app.cards import service
from app.cards.keys import card_key_ring, card_validity
from app.cards.presentation import issue_scan_token, present_card
from app.cards.schemas import (
    CardSchema,
    RevocationsQuerySchema,
    RevocationsSchema,
    ScanRequestSchema,
    ScanSchema,
)
from app.db import utcnow
from app.fraud.attempts import note_attempt
from app.fraud.rules import assess
from wallet.qr import render_qr_png, render_qr_svg

blp = Blueprint("cards", __name__, url_prefix="/api/v1", description="Member cards")
well_known = FlaskBlueprint("well_known", __name__)

CARD_REFUSALS = (
    "malformed-code, bad-signature, unknown-key, card-expired, card-revoked, unknown-card, "
    "code-stale, code-replayed, invalid-scan-token"
)


@well_known.get("/.well-known/jwks.json")
def jwks() -> Response:
    """Publish the public keys that verify LW1 card codes."""
    response = jsonify(card_key_ring().to_jwks(utcnow(), card_validity()))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blp.route("/me/card")
class MyCard(MethodView):
    @blp.response(200, CardSchema)
    @member_required
    def get(self) -> dict[str, Any]:
        """Show my card: static code, and the TOTP parameters for the live code."""
        return service.card_view(service.active_card(current_identity().subject_id)).to_dict()


@blp.route("/me/card/reissue")
class ReissueMyCard(MethodView):
    @blp.response(201, CardSchema)
    @member_required
    def post(self) -> dict[str, Any]:
        """Replace my card (lost phone): the old card's codes are refused from now on."""
        return service.card_view(service.reissue_card(current_identity().subject_id)).to_dict()


def _image(body: bytes, mimetype: str) -> Response:
    response = current_app.response_class(body, mimetype=mimetype)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.make_conditional(request)
    return response


@blp.route("/me/card/qr.svg")
class MyCardQrSvg(MethodView):
    @blp.response(200, content_type="image/svg+xml")
    @member_required
    def get(self) -> Response:
        """Render my static card code as an SVG QR code."""
        code = service.static_code_of(service.active_card(current_identity().subject_id))
        return _image(render_qr_svg(code), "image/svg+xml")


@blp.route("/me/card/qr.png")
class MyCardQrPng(MethodView):
    @blp.response(200, content_type="image/png")
    @member_required
    def get(self) -> Response:
        """Render my static card code as a PNG QR code."""
        code = service.static_code_of(service.active_card(current_identity().subject_id))
        return _image(render_qr_png(code), "image/png")


@blp.route("/till/scan")
class TillScan(MethodView):
    @blp.arguments(ScanRequestSchema)
    @blp.response(200, ScanSchema)
    @blp.alt_response(404, description="unknown-card")
    @blp.alt_response(409, description="code-replayed")
    @blp.alt_response(410, description="card-expired, card-revoked")
    @blp.alt_response(422, description=CARD_REFUSALS)
    @blp.alt_response(403, description="card-blocked, member-blocked, till-blocked, risk-denied")
    @blp.alt_response(428, description="step-up-required")
    @blp.alt_response(429, description="too-many-attempts")
    @till_required()
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Scan a member card (LW1 or LW2) and get a scan token for this visit."""
        note_attempt("scan", code=body["code"])
        presented = present_card(body["code"])
        assess("scan", presented)
        member = service.require_member(presented.member_id)
        token, expires_at = issue_scan_token(presented)
        return {
            "card_id": str(presented.card_id),
            "member": {
                "display_name": member.display_name,
                "points_balance": member.points_balance,
                "tier": member.tier,
            },
            "credential": presented.credential,
            "scan_token": token,
            "scan_token_expires_at": expires_at.isoformat(),
        }


@blp.route("/till/revocations")
class TillRevocations(MethodView):
    @blp.arguments(RevocationsQuerySchema, location="query")
    @blp.response(200, RevocationsSchema)
    @till_required()
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """List cards revoked since a time, for tills that check codes offline."""
        as_of = utcnow()
        cards = service.revoked_cards_since(query["since"])
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
