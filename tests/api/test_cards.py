"""Member cards: the member's view, the till scan and every card refusal."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import timedelta

import base45
import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask
from PIL import Image
from sqlalchemy import select, update

from app.db import utcnow
from app.extensions import db
from app.fraud.models import Attempt, FraudEvent
from app.idempotency import IdempotencyKey
from app.till.operations import DOUBLE_SCAN_OPERATION, DOUBLE_SCAN_SECONDS
from tests.conftest import Shop, bearer
from wallet.card_codes import encode_rotating_code, encode_static_code
from wallet.crockford import encode_uuid
from wallet.keys import generate_signing_key


def scan(shop: Shop, code: str, till_token: str | None = None):  # type: ignore[no-untyped-def]
    return shop.client.post(
        "/api/v1/till/scan", json={"code": code}, headers=bearer(till_token or shop.open_till())
    )


def my_card(shop: Shop, index: int = 0) -> dict:
    response = shop.client.get("/api/v1/me/card", headers=bearer(shop.login_member(index)))
    assert response.status_code == 200
    return response.get_json()


def test_member_card_shows_codes_that_a_till_accepts(shop: Shop) -> None:
    card = my_card(shop)
    assert card["static_code"].startswith("LW1:")
    assert card["rotating_prefix"] == f"LW2:{encode_uuid(uuid.UUID(card['card_id']))}:"
    assert card["totp"] == {
        "secret": card["totp"]["secret"],
        "algorithm": "SHA1",
        "digits": 8,
        "period": 30,
    }
    response = scan(shop, card["static_code"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["card_id"] == card["card_id"]
    assert body["credential"] == "static"
    assert body["member"]["display_name"] == "Ada Lovelace"
    assert body["scan_token"].startswith("lws.")


def test_static_code_verifies_with_the_published_jwks_key_alone(shop: Shop) -> None:
    code = my_card(shop)["static_code"]
    jwks = shop.client.get("/.well-known/jwks.json").get_json()
    payload = base45.b45decode(code[4:])
    kid = payload[1:5].hex()
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    public.verify(payload[25:], payload[:25])  # raises if the signature is wrong


def test_qr_image_decodes_to_exactly_the_static_code(shop: Shop) -> None:
    token = shop.login_member()
    code = shop.client.get("/api/v1/me/card", headers=bearer(token)).get_json()["static_code"]
    png = shop.client.get("/api/v1/me/card/qr.png", headers=bearer(token))
    assert png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert [d.text for d in decoded] == [code]
    svg = shop.client.get("/api/v1/me/card/qr.svg", headers=bearer(token))
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    again = shop.client.get(
        "/api/v1/me/card/qr.svg", headers={**bearer(token), "If-None-Match": svg.headers["ETag"]}
    )
    assert again.status_code == 304


def _replay_events(shop: Shop) -> int:
    with shop.app.app_context():
        return len(
            db.session.scalars(select(FraudEvent).where(FraudEvent.rule == "replayed-code")).all()
        )


def test_a_double_scan_at_the_same_till_is_the_same_visit_not_a_replay(shop: Shop) -> None:
    code = shop.rotating_code()
    till = shop.open_till()
    first = scan(shop, code, till)
    assert first.status_code == 200
    assert first.get_json()["credential"] == "rotating"
    again = scan(shop, code, till)
    assert again.status_code == 200
    assert again.get_json() == first.get_json()  # the same visit, scan token included
    assert _replay_events(shop) == 0


def test_a_rotating_code_scanned_at_another_till_is_a_replay(shop: Shop) -> None:
    code = shop.rotating_code()
    assert scan(shop, code, shop.open_till(0)).status_code == 200
    replay = scan(shop, code, shop.open_till(1))
    assert replay.status_code == 409
    assert replay.get_json()["type"] == "code-replayed"
    assert _replay_events(shop) == 1


def test_a_double_scan_after_the_window_is_a_replay(shop: Shop) -> None:
    code = shop.rotating_code()
    till = shop.open_till()
    assert scan(shop, code, till).status_code == 200
    with shop.app.app_context():
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.operation == DOUBLE_SCAN_OPERATION)
            .values(created_at=utcnow() - timedelta(seconds=DOUBLE_SCAN_SECONDS + 1))
        )
        db.session.commit()
    replay = scan(shop, code, till)
    assert replay.status_code == 409
    assert replay.get_json()["type"] == "code-replayed"
    assert _replay_events(shop) == 1


def test_a_scanned_rotating_code_cannot_book_a_purchase_itself(shop: Shop) -> None:
    code = shop.rotating_code()
    till = shop.open_till()
    assert scan(shop, code, till).status_code == 200
    purchase = shop.client.post(
        "/api/v1/till/purchases",
        json={"code": code, "receipt_id": "R-double", "amount_cents": 500, "currency": "EUR"},
        headers={**bearer(till), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert purchase.status_code == 409
    assert purchase.get_json()["type"] == "code-replayed"


def test_previous_step_screenshot_is_refused_after_the_live_code_was_used(shop: Shop) -> None:
    now = utcnow()
    assert scan(shop, shop.rotating_code(at=now)).status_code == 200
    old = scan(shop, shop.rotating_code(at=now - timedelta(seconds=30)))
    assert old.get_json()["type"] == "code-replayed"


def test_rotating_code_outside_the_window_is_stale(shop: Shop) -> None:
    stale = scan(shop, shop.rotating_code(at=utcnow() - timedelta(minutes=3)))
    assert stale.status_code == 422
    assert stale.get_json()["type"] == "code-stale"


def test_codes_are_read_with_whitespace_and_lower_case(shop: Shop) -> None:
    assert scan(shop, f"  {shop.static_code()}\n").status_code == 200
    assert scan(shop, "  " + shop.rotating_code().lower() + " ").status_code == 200


def test_reissue_revokes_the_old_card(shop: Shop) -> None:
    token = shop.login_member()
    old = shop.client.get("/api/v1/me/card", headers=bearer(token)).get_json()
    new = shop.client.post("/api/v1/me/card/reissue", headers=bearer(token))
    assert new.status_code == 201
    assert new.get_json()["card_id"] != old["card_id"]
    refused = scan(shop, old["static_code"])
    assert refused.status_code == 410
    assert refused.get_json()["type"] == "card-revoked"
    assert scan(shop, new.get_json()["static_code"]).status_code == 200
    revocations = shop.client.get(
        "/api/v1/till/revocations", headers=bearer(shop.open_till())
    ).get_json()
    assert old["card_id"] in [r["card_id"] for r in revocations["revoked"]]


def test_scan_token_works_only_on_its_till(shop: Shop) -> None:
    token = scan(shop, shop.static_code(), shop.open_till(0)).get_json()["scan_token"]
    assert scan(shop, token, shop.open_till(0)).status_code == 200
    other = scan(shop, token, shop.open_till(1))
    assert other.status_code == 422
    assert other.get_json()["type"] == "invalid-scan-token"


@pytest.mark.parametrize(
    ("make_code", "status", "type_"),
    [
        (lambda app, card_id: "LW1:NOT-BASE45!", 422, "malformed-code"),
        (lambda app, card_id: "hello", 422, "malformed-code"),
        (
            lambda app, card_id: encode_static_code(
                card_id, utcnow() + timedelta(days=1), generate_signing_key(utcnow())
            ),
            422,
            "unknown-key",
        ),
        (
            lambda app, card_id: encode_static_code(
                uuid.uuid4(), utcnow() + timedelta(days=1), _newest(app)
            ),
            404,
            "unknown-card",
        ),
        (
            lambda app, card_id: encode_static_code(
                card_id, utcnow() - timedelta(seconds=5), _newest(app)
            ),
            410,
            "card-expired",
        ),
        (
            lambda app, card_id: encode_rotating_code(uuid.uuid4(), b"x" * 20, utcnow()),
            404,
            "unknown-card",
        ),
    ],
)
def test_bad_card_codes_are_refused_with_their_reason_on_record(
    app: Flask,
    shop: Shop,
    make_code,
    status: int,
    type_: str,  # type: ignore[no-untyped-def]
) -> None:
    card_id = uuid.UUID(my_card(shop)["card_id"])
    with app.app_context():
        code = make_code(app, card_id)
    response = scan(shop, code)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == type_
    with app.app_context():
        attempt = db.session.query(Attempt).order_by(Attempt.id.desc()).first()
        assert attempt is not None
        assert (attempt.operation, attempt.outcome, attempt.refusal_type) == (
            "scan",
            "refused",
            type_,
        )
        assert attempt.till_id == shop.tills[0]["till_id"]
        assert attempt.staff_id == shop.logins["cashier"]["staff_id"]
        assert code.strip() not in (attempt.code_fingerprint or "")


def _newest(app: Flask):  # type: ignore[no-untyped-def]
    from app.cards.keys import card_key_ring

    return card_key_ring().newest()


def test_forged_signature_is_refused(shop: Shop) -> None:
    code = shop.static_code()
    payload = bytearray(base45.b45decode(code[4:]))
    payload[-1] ^= 0x01
    response = scan(shop, "LW1:" + base45.b45encode(bytes(payload)).decode())
    assert response.get_json()["type"] == "bad-signature"


def test_rotated_card_key_keeps_old_codes_valid_and_publishes_both(app: Flask, shop: Shop) -> None:
    old_code = shop.static_code()
    assert app.test_cli_runner().invoke(args=["keys", "rotate-card-key"]).exit_code == 0
    new_code = shop.static_code()
    assert new_code != old_code
    assert scan(shop, old_code).status_code == 200
    assert scan(shop, new_code).status_code == 200
    assert len(shop.client.get("/.well-known/jwks.json").get_json()["keys"]) >= 2


def test_a_card_code_is_signed_once_per_key_and_verifies_each_time(
    app: Flask, shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The member's code is remembered per process, by card, expiry and key."""
    from app.cards import service

    signed: list[bytes] = []

    def counting_encode(card_id: uuid.UUID, not_after, key):  # type: ignore[no-untyped-def]
        signed.append(key.kid)
        return encode_static_code(card_id, not_after, key)

    monkeypatch.setattr(service, "encode_static_code", counting_encode)
    first, again = my_card(shop)["static_code"], my_card(shop)["static_code"]
    assert again == first
    assert len(signed) == 1
    assert app.test_cli_runner().invoke(args=["keys", "rotate-card-key"]).exit_code == 0
    rotated = my_card(shop)["static_code"]
    assert len(signed) == 2 and signed[1] != signed[0]
    jwks = {k["kid"]: k for k in shop.client.get("/.well-known/jwks.json").get_json()["keys"]}
    for code, kid in ((first, signed[0]), (rotated, signed[1])):
        payload = base45.b45decode(code[4:])
        assert payload[1:5] == kid
        x = jwks[kid.hex()]["x"]
        public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(x + "=="))
        public.verify(payload[25:], payload[:25])  # raises if the signature is wrong


def test_members_cannot_scan_and_tills_cannot_read_member_cards(shop: Shop) -> None:
    member = shop.client.post(
        "/api/v1/till/scan", json={"code": shop.static_code()}, headers=bearer(shop.login_member())
    )
    assert member.status_code == 401
    till = shop.client.get("/api/v1/me/card", headers=bearer(shop.open_till()))
    assert till.status_code == 401


def test_a_code_verified_before_is_refused_once_it_has_expired(shop: Shop) -> None:
    """Verified codes are remembered per process; the expiry is still checked on every use."""
    from app.cards.presentation import CardRefused, present_card
    from wallet.card_codes import parse_static_code

    code = shop.static_code()
    with shop.app.test_request_context():
        accepted = present_card(code, till_id=1)
        assert accepted.credential == "static"
        after_expiry = parse_static_code(code).not_after + timedelta(seconds=1)
        with pytest.raises(CardRefused) as refused:
            present_card(code, till_id=1, now=after_expiry)
    assert refused.value.type == "card-expired"


def test_a_code_verified_before_is_refused_once_its_key_left_the_ring(shop: Shop) -> None:
    from app.cards.keys import DOCUMENT
    from wallet.keys import KeyRing

    code = shop.static_code()
    assert scan(shop, code).status_code == 200
    with shop.app.app_context():  # a new ring without the key that signed the code
        shop.app.extensions["lw_secrets"].update_document(
            DOCUMENT, lambda _current: KeyRing.generate(utcnow()).to_json()
        )
    refused = scan(shop, code)
    assert refused.status_code == 422
    assert refused.get_json()["type"] == "unknown-key"
