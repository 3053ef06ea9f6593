"""Apple Wallet store-card passes (``.pkpass``).

A ``.pkpass`` is a zip of ``pass.json``, images, ``manifest.json`` (every other file name
mapped to the SHA-1 hex of its bytes) and ``signature``: a detached, DER-encoded PKCS#7/CMS
signature over ``manifest.json``, made with the Pass Type ID certificate's private key using
SHA-256, carrying the signer certificate and Apple's WWDR intermediate. Wallet refuses a pass
whose files do not match the manifest or whose signature does not chain to Apple.

The pass holds the member's static ``LW1:`` code as its QR barcode (Apple Wallet barcodes are
static; a new code needs a push and a re-download, so the pass's code expires with the card's
``not_after``, not every 30 seconds), and an ``nfc`` dictionary whose ``message`` Wallet sends
to VAS readers: at most 64 bytes, a static identifier, not a secret. Apple accepts the ``nfc``
dictionary only from an NFC-enabled Pass Type ID certificate, and its documentation lists
``encryptionPublicKey`` (the reader vendor's P-256 key) as required; pass ``nfc_message=None``
to leave the dictionary out until both are in hand.

For development and tests, :func:`make_development_signer` makes a throwaway "WWDR" CA and a
leaf certificate shaped like Apple's; Wallet will not accept passes signed with it, but every
structural and cryptographic check (OpenSSL's ``cms -verify`` included) does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12
from cryptography.x509.oid import NameOID
from PIL import Image, ImageDraw

from wallet._time import as_utc

PKPASS_MEDIA_TYPE = "application/vnd.apple.pkpass"
NFC_MESSAGE_MAX_BYTES = 64
MIN_AUTHENTICATION_TOKEN_LENGTH = 16
POINTS_CHANGE_MESSAGE = "You now have %@ points."
TIER_CHANGE_MESSAGE = "Your tier is now %@."

PassSigningKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
RGB: TypeAlias = tuple[int, int, int]

_RESERVED_NAMES = frozenset({"pass.json", "manifest.json", "signature"})
# Plain file names, optionally inside one localisation folder such as "de.lproj/".
_BUNDLE_FILE_NAME = re.compile(r"(?:[A-Za-z_-]+\.lproj/)?[A-Za-z0-9@_-][A-Za-z0-9@._-]*")
# The zip's own timestamps are not covered by the manifest; a fixed date keeps bundles of the
# same files byte-comparable except for the signature's signing time.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class PassSigner:
    """What signs passes: the Pass Type ID certificate and key, plus Apple's WWDR intermediate."""

    certificate: x509.Certificate
    private_key: PassSigningKey
    wwdr_certificate: x509.Certificate
    development: bool = False

    @classmethod
    def from_pem(
        cls,
        certificate_pem: bytes,
        private_key_pem: bytes,
        wwdr_certificate_pem: bytes,
        password: bytes | None = None,
    ) -> PassSigner:
        """Load a production signer from PEM files."""
        private_key = serialization.load_pem_private_key(private_key_pem, password)
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("a pass signing key is RSA or EC")
        return cls(
            certificate=x509.load_pem_x509_certificate(certificate_pem),
            private_key=private_key,
            wwdr_certificate=x509.load_pem_x509_certificate(wwdr_certificate_pem),
        )

    @classmethod
    def from_pkcs12(
        cls, pkcs12_data: bytes, password: bytes | None, wwdr_certificate_pem: bytes
    ) -> PassSigner:
        """Load a production signer from the .p12 Keychain Access exports and the WWDR PEM."""
        private_key, certificate, _ = pkcs12.load_key_and_certificates(pkcs12_data, password)
        if certificate is None or not isinstance(
            private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
        ):
            raise ValueError("the .p12 file must hold the pass certificate and its RSA/EC key")
        return cls(
            certificate=certificate,
            private_key=private_key,
            wwdr_certificate=x509.load_pem_x509_certificate(wwdr_certificate_pem),
        )


def make_development_signer(
    pass_type_identifier: str, team_identifier: str, now: datetime | None = None
) -> PassSigner:
    """Create a throwaway CA standing in for WWDR and a Pass Type ID certificate signed by it."""
    now = datetime.now(UTC) if now is None else as_utc(now, "now")
    # An hour of back-dating absorbs clock skew between this machine and whoever verifies.
    not_before = now - timedelta(hours=1)
    not_after = now + timedelta(days=365)

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Loyalty Wallet development"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Development stand-in for Apple WWDR"),
        ]
    )
    ca_certificate = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    pass_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pass_certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.USER_ID, pass_type_identifier),
                    x509.NameAttribute(
                        NameOID.COMMON_NAME, f"Pass Type ID: {pass_type_identifier}"
                    ),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, team_identifier),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Loyalty Wallet development"),
                ]
            )
        )
        .issuer_name(ca_name)
        .public_key(pass_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signs_certificates=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return PassSigner(
        certificate=pass_certificate,
        private_key=pass_key,
        wwdr_certificate=ca_certificate,
        development=True,
    )


def store_card_pass_json(
    *,
    pass_type_identifier: str,
    team_identifier: str,
    serial_number: str,
    organization_name: str,
    description: str,
    card_code: str,
    member_name: str,
    points: int,
    tier: str,
    nfc_message: str | None,
    nfc_encryption_public_key: str | None = None,
    web_service_url: str | None = None,
    authentication_token: str | None = None,
    barcode_alt_text: str | None = None,
    logo_text: str | None = None,
    foreground_color: RGB | None = None,
    background_color: RGB | None = None,
    label_color: RGB | None = None,
    points_label: str = "Points",
    tier_label: str = "Tier",
    member_label: str = "Member",
) -> dict[str, Any]:
    """Build the ``pass.json`` of a member's store card."""
    if isinstance(points, bool) or not isinstance(points, int):
        raise TypeError("points are an integer")
    try:
        card_code.encode("iso-8859-1")
    except UnicodeEncodeError as exc:
        raise ValueError("the barcode message must be ISO-8859-1 text") from exc
    if (web_service_url is None) != (authentication_token is None):
        raise ValueError("web_service_url and authentication_token go together")
    if (
        authentication_token is not None
        and len(authentication_token) < MIN_AUTHENTICATION_TOKEN_LENGTH
    ):
        raise ValueError(
            f"Apple requires an authentication token of {MIN_AUTHENTICATION_TOKEN_LENGTH}"
            " characters or more"
        )

    pass_json: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": pass_type_identifier,
        "teamIdentifier": team_identifier,
        "serialNumber": serial_number,
        "organizationName": organization_name,
        "description": description,
        "storeCard": {
            "primaryFields": [
                {
                    "key": "points",
                    "label": points_label,
                    "value": points,
                    "changeMessage": POINTS_CHANGE_MESSAGE,
                }
            ],
            "secondaryFields": [
                {
                    "key": "tier",
                    "label": tier_label,
                    "value": tier,
                    "changeMessage": TIER_CHANGE_MESSAGE,
                },
                {"key": "member", "label": member_label, "value": member_name},
            ],
        },
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": card_code,
                "messageEncoding": "iso-8859-1",
                # The LW1 code itself is too long to read out; the serial number is what a
                # cashier can type when the camera fails.
                "altText": serial_number if barcode_alt_text is None else barcode_alt_text,
            }
        ],
    }
    if nfc_message is not None:
        pass_json["nfc"] = pass_nfc_dictionary(nfc_message, nfc_encryption_public_key)
    elif nfc_encryption_public_key is not None:
        raise ValueError("an NFC encryption key without an NFC message means nothing")
    if logo_text is not None:
        pass_json["logoText"] = logo_text
    if web_service_url is not None:
        pass_json["webServiceURL"] = web_service_url
        pass_json["authenticationToken"] = authentication_token
    for key, color in (
        ("foregroundColor", foreground_color),
        ("backgroundColor", background_color),
        ("labelColor", label_color),
    ):
        if color is not None:
            pass_json[key] = _css_rgb(color)
    return pass_json


def pass_nfc_dictionary(message: str, encryption_public_key: str | None) -> dict[str, str]:
    """Build the pass's ``nfc`` dictionary, refusing messages Wallet would truncate."""
    size = len(message.encode("utf-8"))
    if size > NFC_MESSAGE_MAX_BYTES:
        raise ValueError(
            f"the NFC message is {size} bytes; Apple Wallet sends at most {NFC_MESSAGE_MAX_BYTES}"
        )
    nfc = {"message": message}
    if encryption_public_key is not None:
        _check_p256_public_key(encryption_public_key)
        nfc["encryptionPublicKey"] = encryption_public_key
    return nfc


def build_pkpass(
    pass_json: Mapping[str, Any], images: Mapping[str, bytes], signer: PassSigner
) -> bytes:
    """Zip pass.json and images with their manifest and detached signature into a .pkpass."""
    if "icon.png" not in images:
        raise ValueError("Apple Wallet requires icon.png")
    files: dict[str, bytes] = {
        "pass.json": json.dumps(pass_json, ensure_ascii=False, indent=2).encode("utf-8")
    }
    for name in sorted(images):
        if name in _RESERVED_NAMES or not _BUNDLE_FILE_NAME.fullmatch(name):
            raise ValueError(f"{name!r} cannot be a file in a pass bundle")
        files[name] = images[name]

    manifest = json.dumps(
        {name: hashlib.sha1(content).hexdigest() for name, content in files.items()},
        indent=2,
        sort_keys=True,
    ).encode("utf-8")
    signature = sign_manifest(manifest, signer)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, content in [
            *files.items(),
            ("manifest.json", manifest),
            ("signature", signature),
        ]:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            bundle.writestr(entry, content)
    return buffer.getvalue()


def sign_manifest(manifest: bytes, signer: PassSigner) -> bytes:
    """Return the detached DER PKCS#7 signature of ``manifest.json`` (SHA-256, WWDR included)."""
    # SHA-256 for the signature; the manifest's file hashes stay SHA-1 because that is what
    # Wallet compares them with. cryptography no longer signs with SHA-1 at all.
    return (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(manifest)
        .add_signer(signer.certificate, signer.private_key, hashes.SHA256())
        .add_certificate(signer.wwdr_certificate)
        .sign(
            serialization.Encoding.DER,
            [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
        )
    )


def default_pass_images(color: RGB = (32, 96, 160)) -> dict[str, bytes]:
    """Draw placeholder icon and logo images: a rounded card shape in ``color``."""
    return {
        "icon.png": _card_shape_png((29, 29), color),
        "icon@2x.png": _card_shape_png((58, 58), color),
        "logo.png": _card_shape_png((160, 50), color),
        "logo@2x.png": _card_shape_png((320, 100), color),
    }


def _card_shape_png(size: tuple[int, int], color: RGB) -> bytes:
    width, height = size
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    margin = max(1, min(size) // 10)
    draw.rounded_rectangle(
        (margin, margin, width - 1 - margin, height - 1 - margin),
        radius=max(2, min(size) // 5),
        fill=(*color, 255),
    )
    stripe = max(1, height // 6)
    top = height // 3
    draw.rectangle((margin, top, width - 1 - margin, top + stripe), fill=(255, 255, 255, 200))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _key_usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signs_certificates,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _css_rgb(color: RGB) -> str:
    if len(color) != 3 or not all(0 <= channel <= 255 for channel in color):
        raise ValueError(f"{color!r} is not an RGB colour with channels 0-255")
    red, green, blue = color
    return f"rgb({red}, {green}, {blue})"


def _check_p256_public_key(encoded: str) -> None:
    """Refuse anything but a Base64 X.509 SubjectPublicKeyInfo of a P-256 key."""
    try:
        der = base64.b64decode(encoded, validate=True)
        public_key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the NFC encryption key is not a Base64 SubjectPublicKeyInfo") from exc
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
        public_key.curve, ec.SECP256R1
    ):
        raise ValueError("the NFC encryption key must be an EC P-256 public key")
