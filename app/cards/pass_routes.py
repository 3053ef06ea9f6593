"""Member routes that hand out the card for wallets and NFC tags, and the blueprints' wiring.

``/api/v1/me/card/ndef`` (bytes to write to a tag with Web NFC), ``/api/v1/me/card/pass.pkpass``
(Apple Wallet) and ``/api/v1/me/card/google-wallet`` (a save link). The card is built fresh on
every call (``app.cards.passes``), so a download always shows the current points and tier.
Passes and links carry the card's codes and pass token: they are never cached by proxies.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, Response, current_app, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields

from app.auth.access import current_identity, member_required
from app.cards import passes
from app.cards.apple_web_service import blp as apple_web_service_blp
from wallet.apple import PKPASS_MEDIA_TYPE

blp = Blueprint(
    "card_passes",
    __name__,
    url_prefix="/api/v1",
    description="The member card in Apple Wallet, Google Wallet and on NFC tags",
)

NDEF_MEDIA_TYPE = "application/octet-stream"
MEMBER_AUTH_ERRORS = "authentication-required, invalid-token, token-expired, wrong-token-kind"


class GoogleWalletLinkSchema(Schema):
    save_url = fields.String(
        metadata={"description": "https://pay.google.com/gp/v/save/<JWT signed RS256>"}
    )


@blp.route("/me/card/ndef")
class MyCardNdef(MethodView):
    @blp.response(200, content_type=NDEF_MEDIA_TYPE)
    @blp.alt_response(401, description=MEMBER_AUTH_ERRORS)
    @member_required
    def get(self) -> Response:
        """Get my card as an NDEF message (card page URI + LW1 record) for an NFC tag."""
        body = passes.card_ndef(current_identity().subject_id)
        response = current_app.response_class(body, mimetype=NDEF_MEDIA_TYPE)
        response.set_etag(hashlib.sha256(body).hexdigest()[:32])
        response.headers["Cache-Control"] = "private, no-cache"
        response.make_conditional(request)
        return response


@blp.route("/me/card/pass.pkpass")
class MyAppleWalletPass(MethodView):
    @blp.response(200, content_type=PKPASS_MEDIA_TYPE)
    @blp.alt_response(401, description=MEMBER_AUTH_ERRORS)
    @member_required
    def get(self) -> Response:
        """Download my card as an Apple Wallet pass."""
        bundle = passes.apple_pass_for_member(current_identity().subject_id)
        response = current_app.response_class(bundle, mimetype=PKPASS_MEDIA_TYPE)
        response.headers["Content-Disposition"] = 'attachment; filename="loyalty-card.pkpass"'
        response.headers["Cache-Control"] = "no-store"
        return response


@blp.route("/me/card/google-wallet")
class MyGoogleWalletLink(MethodView):
    @blp.response(200, GoogleWalletLinkSchema)
    @blp.alt_response(401, description=MEMBER_AUTH_ERRORS)
    @member_required
    def get(self) -> Any:
        """Get a "Save to Google Wallet" link for my card."""
        save_url = passes.google_save_url(current_identity().subject_id)
        return {"save_url": save_url}, 200, {"Cache-Control": "no-store"}


def _check_configuration(app: Flask) -> None:
    passes.check_wallet_configuration(app.config)


blp.record_once(lambda state: _check_configuration(state.app))


def register_pass_blueprints(api: Api) -> None:
    """Register the member pass routes and the Apple pass web service."""
    api.register_blueprint(blp)
    api.register_blueprint(apple_web_service_blp)
