"""Apple Wallet passes: pass.json content, bundle manifest, and a signature OpenSSL accepts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID
from PIL import Image

from wallet.apple import (
    PassSigner,
    build_pkpass,
    default_pass_images,
    make_development_signer,
    store_card_pass_json,
)

PASS_TYPE = "pass.example.loyalty"
TEAM = "ABCDE12345"
CARD_CODE = "LW1:EXAMPLE"
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not on PATH")


@pytest.fixture(scope="module")
def signer() -> PassSigner:
    """Return a development signer; RSA key generation is slow, so one per module."""
    return make_development_signer(PASS_TYPE, TEAM)


def pass_json(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "pass_type_identifier": PASS_TYPE,
        "team_identifier": TEAM,
        "serial_number": "0190F5E47C3A7D2E9B1F4A6C8E",
        "organization_name": "Example Coffee",
        "description": "Example Coffee member card",
        "card_code": CARD_CODE,
        "member_name": "Ada Lovelace",
        "points": 1250,
        "tier": "Gold",
        "nfc_message": "0190F5E47C3A7D2E9B1F4A6C8E",
    }
    arguments.update(overrides)
    return store_card_pass_json(**arguments)


def unzip(pkpass: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(pkpass)) as bundle:
        return {name: bundle.read(name) for name in bundle.namelist()}


def openssl_verify(tmp_path: Path, files: dict[str, bytes], signer: PassSigner) -> bool:
    """Verify the detached signature with OpenSSL's own CMS code, against the WWDR stand-in."""
    (tmp_path / "signature").write_bytes(files["signature"])
    (tmp_path / "manifest.json").write_bytes(files["manifest.json"])
    (tmp_path / "wwdr.pem").write_bytes(
        signer.wwdr_certificate.public_bytes(serialization.Encoding.PEM)
    )
    result = subprocess.run(
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
            "-out",
            str(tmp_path / "verified-content"),
        ],
        capture_output=True,
        check=False,
    )
    return result.returncode == 0


# --- pass.json ------------------------------------------------------------------------------


def test_store_card_has_the_required_top_level_fields() -> None:
    document = pass_json()
    assert document["formatVersion"] == 1
    assert document["passTypeIdentifier"] == PASS_TYPE
    assert document["teamIdentifier"] == TEAM
    assert document["serialNumber"] == "0190F5E47C3A7D2E9B1F4A6C8E"
    assert document["organizationName"] == "Example Coffee"
    assert document["description"] == "Example Coffee member card"
    assert json.loads(json.dumps(document)) == document


def test_points_are_primary_and_tier_and_member_secondary_with_change_messages() -> None:
    card = pass_json()["storeCard"]
    (points,) = card["primaryFields"]
    assert points["key"] == "points"
    assert points["value"] == 1250
    assert "%@" in points["changeMessage"]
    fields = {field["key"]: field for field in card["secondaryFields"]}
    assert fields["tier"]["value"] == "Gold"
    assert "%@" in fields["tier"]["changeMessage"]
    assert fields["member"]["value"] == "Ada Lovelace"


def test_barcode_is_a_qr_of_the_card_code_in_latin_1() -> None:
    (barcode,) = pass_json()["barcodes"]
    assert barcode == {
        "format": "PKBarcodeFormatQR",
        "message": CARD_CODE,
        "messageEncoding": "iso-8859-1",
        "altText": "0190F5E47C3A7D2E9B1F4A6C8E",
    }
    assert pass_json(barcode_alt_text="Member 42")["barcodes"][0]["altText"] == "Member 42"


def test_nfc_message_of_64_bytes_is_kept_and_of_65_bytes_refused() -> None:
    assert pass_json(nfc_message="x" * 64)["nfc"] == {"message": "x" * 64}
    with pytest.raises(ValueError, match="64"):
        pass_json(nfc_message="x" * 65)
    with pytest.raises(ValueError, match="64"):
        pass_json(nfc_message="é" * 33)  # 66 bytes in UTF-8


def test_pass_without_an_nfc_message_has_no_nfc_dictionary() -> None:
    assert "nfc" not in pass_json(nfc_message=None)
    with pytest.raises(ValueError):
        pass_json(nfc_message=None, nfc_encryption_public_key="AAAA")


def test_nfc_encryption_key_is_included_only_when_given_and_must_be_p256() -> None:
    assert "encryptionPublicKey" not in pass_json()["nfc"]
    reader_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = base64.b64encode(
        reader_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    assert pass_json(nfc_encryption_public_key=spki)["nfc"]["encryptionPublicKey"] == spki
    other_curve = ec.generate_private_key(ec.SECP384R1()).public_key()
    wrong = base64.b64encode(
        other_curve.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    for bad_key in (wrong, "not base64!", base64.b64encode(b"not a key").decode()):
        with pytest.raises(ValueError):
            pass_json(nfc_encryption_public_key=bad_key)


def test_web_service_needs_an_authentication_token_of_16_characters_or_more() -> None:
    document = pass_json(
        web_service_url="https://wallet.example/apple", authentication_token="t" * 16
    )
    assert document["webServiceURL"] == "https://wallet.example/apple"
    assert document["authenticationToken"] == "t" * 16
    assert "webServiceURL" not in pass_json()
    with pytest.raises(ValueError, match="16"):
        pass_json(web_service_url="https://wallet.example/apple", authentication_token="short")
    with pytest.raises(ValueError):
        pass_json(web_service_url="https://wallet.example/apple")
    with pytest.raises(ValueError):
        pass_json(authentication_token="t" * 16)


def test_colours_are_written_as_css_rgb_and_refused_out_of_range() -> None:
    document = pass_json(foreground_color=(255, 255, 255), background_color=(32, 96, 160))
    assert document["foregroundColor"] == "rgb(255, 255, 255)"
    assert document["backgroundColor"] == "rgb(32, 96, 160)"
    assert "labelColor" not in document
    with pytest.raises(ValueError):
        pass_json(label_color=(0, 0, 256))


def test_points_must_be_an_integer() -> None:
    with pytest.raises(TypeError):
        pass_json(points=12.5)
    with pytest.raises(TypeError):
        pass_json(points=True)


def test_card_code_outside_latin_1_is_refused() -> None:
    with pytest.raises(ValueError):
        pass_json(card_code="LW1:\u20ac")


# --- bundle ---------------------------------------------------------------------------------


def test_default_images_are_pngs_of_the_sizes_wallet_expects() -> None:
    images = default_pass_images()
    expected = {
        "icon.png": (29, 29),
        "icon@2x.png": (58, 58),
        "logo.png": (160, 50),
        "logo@2x.png": (320, 100),
    }
    assert set(images) == set(expected)
    for name, size in expected.items():
        image = Image.open(io.BytesIO(images[name]))
        assert image.format == "PNG"
        assert image.size == size


def test_bundle_holds_pass_images_manifest_and_signature(signer: PassSigner) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    assert set(files) == {
        "pass.json",
        "icon.png",
        "icon@2x.png",
        "logo.png",
        "logo@2x.png",
        "manifest.json",
        "signature",
    }
    assert json.loads(files["pass.json"]) == pass_json()


def test_manifest_lists_the_sha1_of_every_file_except_itself_and_the_signature(
    signer: PassSigner,
) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert digest == hashlib.sha1(files[name]).hexdigest()


@needs_openssl
def test_signature_verifies_with_openssl_against_the_wwdr_certificate(
    signer: PassSigner, tmp_path: Path
) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    assert openssl_verify(tmp_path, files, signer)
    assert (tmp_path / "verified-content").read_bytes() == files["manifest.json"]


@needs_openssl
def test_tampered_manifest_fails_openssl_verification(signer: PassSigner, tmp_path: Path) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    files["manifest.json"] = files["manifest.json"].replace(b'"icon.png": "', b'"icon.png": "0')
    assert not openssl_verify(tmp_path, files, signer)


@needs_openssl
def test_signature_from_another_ca_fails_openssl_verification(
    signer: PassSigner, tmp_path: Path
) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    stranger = make_development_signer(PASS_TYPE, TEAM)
    assert not openssl_verify(tmp_path, files, stranger)


@needs_openssl
def test_signature_is_made_with_sha256(signer: PassSigner, tmp_path: Path) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    (tmp_path / "signature").write_bytes(files["signature"])
    printed = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", tmp_path / "signature"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert "sha256" in printed
    # Detached: the signed content is not inside the signature.
    assert "eContent: <ABSENT>" in printed


def test_signature_carries_the_pass_certificate_and_the_wwdr_intermediate(
    signer: PassSigner,
) -> None:
    files = unzip(build_pkpass(pass_json(), default_pass_images(), signer))
    certificates = pkcs7.load_der_pkcs7_certificates(files["signature"])
    assert {certificate.subject for certificate in certificates} == {
        signer.certificate.subject,
        signer.wwdr_certificate.subject,
    }


def test_development_certificate_is_shaped_like_apples_pass_type_id_certificate(
    signer: PassSigner,
) -> None:
    subject = signer.certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"Pass Type ID: {PASS_TYPE}"
    )
    assert subject.get_attributes_for_oid(NameOID.USER_ID)[0].value == PASS_TYPE
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value == TEAM
    assert signer.certificate.issuer == signer.wwdr_certificate.subject
    assert signer.development
    basic = signer.wwdr_certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.value.ca


def test_bundle_without_icon_is_refused(signer: PassSigner) -> None:
    images = default_pass_images()
    del images["icon.png"]
    with pytest.raises(ValueError, match="icon.png"):
        build_pkpass(pass_json(), images, signer)


@pytest.mark.parametrize(
    "name", ["manifest.json", "signature", "pass.json", "../icon2.png", "/abs.png", "a/b/c.png"]
)
def test_image_names_that_could_clash_or_escape_the_bundle_are_refused(
    signer: PassSigner, name: str
) -> None:
    images = {**default_pass_images(), name: b"\x89PNG"}
    with pytest.raises(ValueError):
        build_pkpass(pass_json(), images, signer)


def test_localised_images_are_allowed(signer: PassSigner) -> None:
    images = {**default_pass_images(), "de.lproj/logo.png": default_pass_images()["logo.png"]}
    files = unzip(build_pkpass(pass_json(), images, signer))
    assert "de.lproj/logo.png" in json.loads(files["manifest.json"])


def test_signer_loads_from_pem_and_from_pkcs12(signer: PassSigner, tmp_path: Path) -> None:
    pem = serialization.Encoding.PEM
    key_pem = signer.private_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    wwdr_pem = signer.wwdr_certificate.public_bytes(pem)
    from_pem = PassSigner.from_pem(signer.certificate.public_bytes(pem), key_pem, wwdr_pem)
    assert from_pem.certificate == signer.certificate
    assert not from_pem.development

    p12 = pkcs12.serialize_key_and_certificates(
        b"pass",
        signer.private_key,
        signer.certificate,
        None,
        serialization.BestAvailableEncryption(b"secret"),
    )
    from_p12 = PassSigner.from_pkcs12(p12, b"secret", wwdr_pem)
    assert from_p12.certificate == signer.certificate
    assert from_p12.wwdr_certificate == signer.wwdr_certificate
    if shutil.which("openssl"):
        files = unzip(build_pkpass(pass_json(), default_pass_images(), from_p12))
        assert openssl_verify(tmp_path, files, signer)
