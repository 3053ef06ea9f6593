"""Google Wallet loyalty class/object and the signed "Save to Google Wallet" JWT."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from wallet.card_codes import card_nfc_value, encode_rotating_code, generate_totp_secret
from wallet.google import (
    GoogleServiceAccount,
    loyalty_class,
    loyalty_object,
    make_development_service_account,
    save_jwt,
    save_url,
)

ISSUER = "3388000000012345678"
STATIC_CODE = "LW1:EXAMPLE"


@pytest.fixture(scope="module")
def account() -> GoogleServiceAccount:
    """Return a development service account; one RSA key for the whole module."""
    return make_development_service_account()


def program() -> dict[str, Any]:
    return loyalty_class(
        ISSUER,
        "coffee-club",
        "Example Coffee",
        "Coffee Club",
        "https://wallet.example/static/logo.png",
        redemption_issuers=[ISSUER],
    )


def member_object(card_id: uuid.UUID, secret: bytes) -> dict[str, Any]:
    return loyalty_object(
        ISSUER,
        f"card-{card_id}",
        f"{ISSUER}.coffee-club",
        "M-000042",
        "Ada Lovelace",
        1250,
        "Gold",
        STATIC_CODE,
        card_id,
        secret,
        card_nfc_value(card_id),
    )


def decode(token: str, account: GoogleServiceAccount) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        token, account.private_key.public_key(), algorithms=["RS256"], audience="google"
    )
    return claims


def test_loyalty_class_enables_smart_tap_only_with_redemption_issuers() -> None:
    with_smart_tap = program()
    assert with_smart_tap["id"] == f"{ISSUER}.coffee-club"
    assert with_smart_tap["issuerName"] == "Example Coffee"
    assert with_smart_tap["programName"] == "Coffee Club"
    assert with_smart_tap["programLogo"]["sourceUri"]["uri"].endswith("/logo.png")
    assert with_smart_tap["reviewStatus"] == "UNDER_REVIEW"
    assert with_smart_tap["enableSmartTap"] is True
    assert with_smart_tap["redemptionIssuers"] == [ISSUER]
    plain = loyalty_class(ISSUER, "coffee-club", "Example Coffee", "Coffee Club", "https://x", None)
    assert "enableSmartTap" not in plain
    assert "redemptionIssuers" not in plain


@pytest.mark.parametrize(
    ("issuer_id", "suffix"),
    [(ISSUER, "coffee club"), (ISSUER, "café"), (ISSUER, "a/b"), (ISSUER, ""), ("33x", "ok")],
)
def test_ids_with_characters_google_refuses_are_refused(issuer_id: str, suffix: str) -> None:
    with pytest.raises(ValueError):
        loyalty_class(issuer_id, suffix, "Example Coffee", "Coffee Club", "https://x", None)


def test_loyalty_object_shows_points_static_barcode_and_smart_tap_value(
    card_id: uuid.UUID,
) -> None:
    member = member_object(card_id, generate_totp_secret())
    assert member["id"] == f"{ISSUER}.card-{card_id}"
    assert member["classId"] == f"{ISSUER}.coffee-club"
    assert member["state"] == "ACTIVE"
    assert member["accountId"] == "M-000042"
    assert member["accountName"] == "Ada Lovelace"
    assert member["loyaltyPoints"] == {"label": "Points", "balance": {"int": 1250}}
    assert member["barcode"]["type"] == "QR_CODE"
    assert member["barcode"]["value"] == STATIC_CODE
    assert member["smartTapRedemptionValue"] == card_nfc_value(card_id)
    assert {"id": "tier", "header": "Tier", "body": "Gold"} in member["textModulesData"]


def test_rotating_barcode_describes_a_30_second_8_digit_sha1_totp(card_id: uuid.UUID) -> None:
    secret = generate_totp_secret()
    rotating = member_object(card_id, secret)["rotatingBarcode"]
    assert rotating["type"] == "QR_CODE"
    assert rotating["totpDetails"]["periodMillis"] == "30000"
    assert rotating["totpDetails"]["algorithm"] == "TOTP_SHA1"
    (parameters,) = rotating["totpDetails"]["parameters"]
    assert parameters["valueLength"] == 8
    assert bytes.fromhex(parameters["key"]) == secret
    assert parameters["key"] == parameters["key"].upper()


def test_wallets_rotating_barcode_shows_exactly_our_lw2_code(
    card_id: uuid.UUID, now: datetime
) -> None:
    # Play Google Wallet: take only the object's JSON and compute the barcode with pyotp.
    secret = generate_totp_secret()
    rotating = json.loads(json.dumps(member_object(card_id, secret)))["rotatingBarcode"]
    (parameters,) = rotating["totpDetails"]["parameters"]
    key_base32 = base64.b32encode(bytes.fromhex(parameters["key"])).decode()
    period = int(rotating["totpDetails"]["periodMillis"]) // 1000
    wallet_totp = pyotp.TOTP(key_base32, digits=parameters["valueLength"], interval=period)
    for seconds in (0, 29, 30, 95, 3600):
        at = now + timedelta(seconds=seconds)
        shown = rotating["valuePattern"].replace("{totp_value_0}", wallet_totp.at(at))
        assert shown == encode_rotating_code(card_id, secret, at)


def test_object_with_a_malformed_class_id_or_fractional_points_is_refused(
    card_id: uuid.UUID,
) -> None:
    secret = generate_totp_secret()
    with pytest.raises(ValueError):
        loyalty_object(
            ISSUER, "card-1", "coffee-club", "M-1", "Ada", 1, "Gold", STATIC_CODE, card_id, secret
        )
    fractional: Any = 1.5
    with pytest.raises(TypeError):
        loyalty_object(
            ISSUER,
            "card-1",
            f"{ISSUER}.c",
            "M-1",
            "Ada",
            fractional,
            "Gold",
            STATIC_CODE,
            card_id,
            secret,
        )


def test_save_jwt_verifies_with_the_public_key_and_carries_googles_claims(
    account: GoogleServiceAccount, card_id: uuid.UUID, now: datetime
) -> None:
    member = member_object(card_id, generate_totp_secret())
    token = save_jwt(account, ["https://wallet.example"], [program()], [member], now)
    claims = decode(token, account)
    assert claims["iss"] == account.client_email
    assert claims["aud"] == "google"
    assert claims["typ"] == "savetowallet"
    assert claims["iat"] == int(now.timestamp())
    assert claims["origins"] == ["https://wallet.example"]
    assert claims["payload"] == {"loyaltyClasses": [program()], "loyaltyObjects": [member]}


def test_save_jwt_header_is_rs256_with_the_key_id_and_typ_stays_a_claim(
    account: GoogleServiceAccount, now: datetime
) -> None:
    header = jwt.get_unverified_header(save_jwt(account, [], [], [], now))
    assert header["alg"] == "RS256"
    assert header["kid"] == account.key_id
    assert header.get("typ") != "savetowallet"


def test_save_jwt_does_not_verify_with_another_key(
    account: GoogleServiceAccount, now: datetime
) -> None:
    token = save_jwt(account, [], [], [], now)
    stranger = make_development_service_account()
    with pytest.raises(jwt.InvalidSignatureError):
        decode(token, stranger)


def test_save_url_is_googles_save_endpoint_followed_by_the_token(
    account: GoogleServiceAccount, now: datetime
) -> None:
    token = save_jwt(account, ["https://wallet.example"], [program()], [], now)
    assert save_url(token) == f"https://pay.google.com/gp/v/save/{token}"


def test_service_account_loads_from_googles_key_file_format(
    account: GoogleServiceAccount, now: datetime
) -> None:
    key_file = json.dumps(
        {
            "type": "service_account",
            "project_id": "loyalty-wallet-test",
            "private_key_id": "0123abcd",
            "private_key": account.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
            "client_email": "wallet@loyalty-wallet-test.iam.gserviceaccount.com",
            "client_id": "1234567890",
        }
    )
    loaded = GoogleServiceAccount.from_json(key_file)
    assert loaded.client_email == "wallet@loyalty-wallet-test.iam.gserviceaccount.com"
    assert loaded.key_id == "0123abcd"
    assert decode(save_jwt(loaded, [], [], [], now), account)["iss"] == loaded.client_email


def test_service_account_file_without_an_rsa_key_is_refused() -> None:
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    for text in [
        "not json",
        json.dumps({"client_email": "x@example.com"}),
        json.dumps({"client_email": "x@example.com", "private_key": ec_pem}),
    ]:
        with pytest.raises(ValueError):
            GoogleServiceAccount.from_json(text)
