"""Card routes: the member's card and its QR, and the JWKS (the till's are in ``app.till``)."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint

from app.auth.access import current_identity, member_required
from app.cards import service
from app.cards.keys import card_key_ring, card_validity
from app.cards.schemas import (
    CardSchema,
)
from app.db import utcnow
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
