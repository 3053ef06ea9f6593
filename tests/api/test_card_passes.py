"""The member card for NFC tags, Apple Wallet and Google Wallet, checked with independent tools.

NDEF bytes are parsed by ndeflib, the ``.pkpass`` signature is verified by OpenSSL's CMS code,
the Google JWT by PyJWT with the public key taken from the instance's development service
account (never from the signer), and the rotating barcode by a hand-written HOTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import logging
import shutil
import struct
import subprocess
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import jwt
import ndef
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from app import create_app
from app.accounts.models import Member
from app.cards.passes import (
    APPLE_DEVELOPMENT_SIGNER_DOCUMENT,
    GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT,
    WalletConfigurationError,
)
from app.extensions import db
from tests.conftest import Shop, base_config, bearer
from wallet.apple import make_development_signer
from wallet.crockford import encode_uuid
from wallet.google import SAVE_URL_PREFIX

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not on PATH")


def member_get(shop: Shop, path: str, index: int = 0) -> Any:
    response = shop.client.get(path, headers=bearer(shop.login_member(index)))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def my_card(shop: Shop) -> dict[str, Any]:
    result: dict[str, Any] = member_get(shop, "/api/v1/me/card").get_json()
    return result


def set_points_and_tier(shop: Shop, points: int, tier: str, index: int = 0) -> None:
    with shop.app.app_context():
        member = db.session.get(Member, shop.member_id(index))
        assert member is not None
        member.points_balance = points
        member.tier = tier
        db.session.commit()


def unzip(bundle: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def download_pass(shop: Shop, index: int = 0) -> dict[str, bytes]:
    response = member_get(shop, "/api/v1/me/card/pass.pkpass", index)
    assert response.mimetype == "application/vnd.apple.pkpass"
    return unzip(response.data)


def openssl_verify(
    tmp_path: Path, files: dict[str, bytes], ca_pem: bytes
) -> subprocess.CompletedProcess[bytes]:
    """Verify the detached signature over manifest.json with OpenSSL against a CA file."""
    (tmp_path / "signature").write_bytes(files["signature"])
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    (tmp_path / "wwdr.pem").write_bytes(ca_pem)
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature"),
            "-content",
            str(tmp_path / "manifest.json"),
            "-CAfile",
            str(tmp_path / "wwdr.pem"),
            "-purpose",
            "any",
            "-signer",
            str(tmp_path / "signer.pem"),
            "-out",
            str(tmp_path / "verified"),
        ],
        capture_output=True,
        check=False,
    )


def hotp(key: bytes, counter: int, digits: int) -> str:
    """RFC 4226 HOTP with SHA-1, written out here so the test does not trust the app's."""
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 10**digits
    return str(value).zfill(digits)


def development_google_public_key(app: Flask) -> rsa.RSAPublicKey:
    document = json.loads(
        app.extensions["lw_secrets"].document(GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT)
    )
    private_key = serialization.load_pem_private_key(document["private_key"].encode(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return private_key.public_key()


def google_claims(shop: Shop, public_key: Any) -> dict[str, Any]:
    body = member_get(shop, "/api/v1/me/card/google-wallet").get_json()
    assert body["save_url"].startswith(SAVE_URL_PREFIX)
    token = body["save_url"][len(SAVE_URL_PREFIX) :]
    claims: dict[str, Any] = jwt.decode(token, public_key, algorithms=["RS256"], audience="google")
    return claims


# --- NDEF -------------------------------------------------------------------------------------


def test_ndef_message_parses_into_the_card_page_uri_and_the_lw1_card_record(
    app: Flask, shop: Shop
) -> None:
    static_code = my_card(shop)["static_code"]
    response = member_get(shop, "/api/v1/me/card/ndef")
    assert response.mimetype == "application/octet-stream"
    uri_record, card_record = list(ndef.message_decoder(response.data))
    assert isinstance(uri_record, ndef.UriRecord)
    assert uri_record.iri == "https://wallet.test/#/card"
    assert card_record.type == "urn:nfc:ext:wallet.test:card"
    assert bytes(card_record.data) == static_code.encode("ascii")

    app.config["CARD_PAGE_URL"] = "https://shop.example/wallet/card"
    uri_record, _ = ndef.message_decoder(member_get(shop, "/api/v1/me/card/ndef").data)
    assert uri_record.iri == "https://shop.example/wallet/card"


def test_card_wallet_routes_are_for_members_only(shop: Shop) -> None:
    cashier, till = shop.login_staff("cashier"), shop.open_till()
    for path in ("ndef", "pass.pkpass", "google-wallet"):
        url = f"/api/v1/me/card/{path}"
        anonymous = shop.client.get(url)
        assert anonymous.status_code == 401
        assert anonymous.mimetype == "application/problem+json"
        staff = shop.client.get(url, headers=bearer(cashier))
        assert (staff.status_code, staff.get_json()["type"]) == (403, "forbidden")
        on_till = shop.client.get(url, headers=bearer(till))
        assert (on_till.status_code, on_till.get_json()["type"]) == (401, "wrong-token-kind")


# --- Apple Wallet -----------------------------------------------------------------------------


@needs_openssl
def test_pkpass_hashes_match_and_its_signature_verifies_with_openssl(
    app: Flask, shop: Shop, tmp_path: Path
) -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("app.cards.passes")
    logger.addHandler(handler)
    try:
        files = download_pass(shop)
        download_pass(shop)
    finally:
        logger.removeHandler(handler)

    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    assert {"pass.json", "icon.png"} <= set(manifest)
    for name, sha1 in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == sha1, name

    # In development the "WWDR" is the instance's own CA, kept in its secrets.
    signer = app.extensions["lw_secrets"].document(APPLE_DEVELOPMENT_SIGNER_DOCUMENT)
    result = openssl_verify(tmp_path, files, signer["wwdr_certificate"].encode())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "verified").read_bytes() == files["manifest.json"]
    signed_by = x509.load_pem_x509_certificate((tmp_path / "signer.pem").read_bytes())
    assert signed_by == x509.load_pem_x509_certificate(signer["certificate"].encode())
    printed = subprocess.run(
        [
            "openssl",
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "sha256" in printed
    assert printed.count("cert_info:") == 2  # the leaf and the WWDR stand-in travel along

    tampered = dict(files)
    tampered["manifest.json"] = files["manifest.json"].replace(
        b'"pass.json": "', b'"pass.json": "0'
    )
    tampered_dir = tmp_path / "tampered"
    tampered_dir.mkdir()
    assert (
        openssl_verify(tampered_dir, tampered, signer["wwdr_certificate"].encode()).returncode != 0
    )

    # The development signature is announced in the pass and, once per process, in the log.
    assert "development signature" in json.loads(files["pass.json"])["description"]
    warnings = [r.getMessage() for r in records if "DEVELOPMENT certificate" in r.getMessage()]
    assert len(warnings) == 1


def test_pass_shows_points_tier_lw1_qr_and_the_card_number_over_nfc(app: Flask, shop: Shop) -> None:
    set_points_and_tier(shop, 1234, "gold")
    card = my_card(shop)
    pass_json = json.loads(download_pass(shop)["pass.json"])
    number = encode_uuid(uuid.UUID(card["card_id"]))
    assert pass_json["passTypeIdentifier"] == "pass.example.loyalty"
    assert pass_json["serialNumber"] == number
    fields = pass_json["storeCard"]
    assert fields["primaryFields"][0]["key"] == "points"
    assert fields["primaryFields"][0]["value"] == 1234
    assert {f["key"]: f["value"] for f in fields["secondaryFields"]}["tier"] == "gold"
    assert pass_json["barcodes"] == [
        {
            "format": "PKBarcodeFormatQR",
            "message": card["static_code"],
            "messageEncoding": "iso-8859-1",
            "altText": number,
        }
    ]
    assert pass_json["nfc"] == {"message": number}
    assert len(pass_json["nfc"]["message"].encode()) <= 64
    assert pass_json["webServiceURL"] == "https://wallet.test/passkit"
    assert len(pass_json["authenticationToken"]) >= 16
    assert pass_json["expirationDate"] == card["not_after"]
    assert "voided" not in pass_json

    reader_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    encoded = base64.b64encode(
        reader_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    app.config["APPLE_NFC_PUBLIC_KEY"] = encoded
    nfc = json.loads(download_pass(shop)["pass.json"])["nfc"]
    assert nfc == {"message": number, "encryptionPublicKey": encoded}


@needs_openssl
def test_configured_pass_certificate_signs_the_pass_without_a_development_note(
    app: Flask, shop: Shop, tmp_path: Path
) -> None:
    production = make_development_signer("pass.shop.example", "ABCDE12345")
    pem = serialization.Encoding.PEM
    (tmp_path / "pass.pem").write_bytes(production.certificate.public_bytes(pem))
    (tmp_path / "pass.key").write_bytes(
        production.private_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (tmp_path / "wwdr-g4.pem").write_bytes(production.wwdr_certificate.public_bytes(pem))
    app.config.update(
        APPLE_PASS_TYPE_ID="pass.shop.example",
        APPLE_PASS_CERT=str(tmp_path / "pass.pem"),
        APPLE_PASS_KEY=str(tmp_path / "pass.key"),
        APPLE_WWDR_CERT=str(tmp_path / "wwdr-g4.pem"),
    )
    files = download_pass(shop)
    pass_json = json.loads(files["pass.json"])
    assert pass_json["passTypeIdentifier"] == "pass.shop.example"
    assert pass_json["teamIdentifier"] == "ABCDE12345"  # read from the certificate's OU
    assert "development" not in pass_json["description"]
    verify_dir = tmp_path / "verify"
    verify_dir.mkdir()
    result = openssl_verify(verify_dir, files, production.wwdr_certificate.public_bytes(pem))
    assert result.returncode == 0, result.stderr
    signed_by = x509.load_pem_x509_certificate((verify_dir / "signer.pem").read_bytes())
    assert signed_by == production.certificate


def test_incomplete_apple_signer_settings_stop_the_app_at_start(
    tmp_path: Path, instance_path: Path
) -> None:
    config = base_config(instance_path, f"sqlite:///{tmp_path / 'x.db'}")
    config["APPLE_PASS_CERT"] = str(tmp_path / "pass.pem")
    with pytest.raises(WalletConfigurationError, match="go together"):
        create_app(config)


# --- Google Wallet ----------------------------------------------------------------------------


def test_google_save_link_verifies_with_the_development_key_and_rotates_like_the_api(
    app: Flask, shop: Shop
) -> None:
    set_points_and_tier(shop, 777, "silver")
    member_get(shop, "/api/v1/me/card/google-wallet")  # makes the development account
    claims = google_claims(shop, development_google_public_key(app))
    assert claims["typ"] == "savetowallet"
    assert claims["iss"].endswith(".invalid")
    assert claims["origins"] == ["https://wallet.test"]
    assert abs(claims["iat"] - time.time()) < 60
    (program,) = claims["payload"]["loyaltyClasses"]
    (member_object,) = claims["payload"]["loyaltyObjects"]
    assert member_object["classId"] == program["id"]
    assert member_object["loyaltyPoints"]["balance"] == {"int": 777}
    assert member_object["textModulesData"][0]["body"] == "silver"
    card = my_card(shop)
    assert member_object["barcode"]["value"] == card["static_code"]
    card_number = encode_uuid(uuid.UUID(card["card_id"]))
    assert member_object["smartTapRedemptionValue"] == card_number
    assert program["enableSmartTap"] is True

    # The rotating barcode reproduces, at the same instant, the LW2 code of the API's secret.
    rotating = member_object["rotatingBarcode"]
    details = rotating["totpDetails"]
    assert details["algorithm"] == "TOTP_SHA1"
    assert details["periodMillis"] == "30000"
    (parameters,) = details["parameters"]
    assert parameters["valueLength"] == 8
    assert rotating["valuePattern"] == card["rotating_prefix"] + "{totp_value_0}"

    now = int(time.time())
    google_code = rotating["valuePattern"].replace(
        "{totp_value_0}",
        hotp(bytes.fromhex(parameters["key"]), now * 1000 // int(details["periodMillis"]), 8),
    )
    api_code = card["rotating_prefix"] + hotp(
        base64.b32decode(card["totp"]["secret"]),
        now // card["totp"]["period"],
        card["totp"]["digits"],
    )
    assert google_code == api_code
    # And the till takes what Google Wallet would show.
    scan = shop.client.post(
        "/api/v1/till/scan", json={"code": google_code}, headers=bearer(shop.open_till())
    )
    assert scan.status_code == 200, scan.get_json()
    assert scan.get_json()["credential"] == "rotating"


def test_configured_google_service_account_signs_the_save_link(
    app: Flask, shop: Shop, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "service-account.json"
    key_file.write_text(
        json.dumps(
            {
                "type": "service_account",
                "client_email": "wallet@shop-project.iam.gserviceaccount.com",
                "private_key_id": "abc123",
                "private_key": key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ).decode(),
            }
        )
    )
    app.config.update(
        GOOGLE_SERVICE_ACCOUNT_FILE=str(key_file), GOOGLE_ISSUER_ID="3388000000012345678"
    )
    claims = google_claims(shop, key.public_key())
    assert claims["iss"] == "wallet@shop-project.iam.gserviceaccount.com"
    (program,) = claims["payload"]["loyaltyClasses"]
    assert program["id"] == "3388000000012345678.member-card"
    assert program["redemptionIssuers"] == ["3388000000012345678"]
    assert claims["payload"]["loyaltyObjects"][0]["id"].startswith("3388000000012345678.card-")


def test_development_credentials_are_made_once_per_instance(app: Flask, shop: Shop) -> None:
    member_get(shop, "/api/v1/me/card/google-wallet")
    download_pass(shop)
    secrets = app.extensions["lw_secrets"]
    signer = secrets.document(APPLE_DEVELOPMENT_SIGNER_DOCUMENT)
    account = secrets.document(GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT)
    member_get(shop, "/api/v1/me/card/google-wallet", index=1)
    download_pass(shop, index=1)
    secrets.reload()
    assert secrets.document(APPLE_DEVELOPMENT_SIGNER_DOCUMENT) == signer
    assert secrets.document(GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT) == account
