"""Google Wallet loyalty passes and their "Save to Google Wallet" links.

A loyalty pass is a class (the programme: name, logo, Smart Tap settings) and an object (one
member's card). Both reach Google inside a JWT signed with RS256 by the issuer's service
account key; the save link is ``https://pay.google.com/gp/v/save/<jwt>``. The JWT's claims are
``iss`` (service account e-mail), ``aud: "google"``, ``typ: "savetowallet"`` (a claim, not the
JOSE header), ``iat``, ``origins`` (the web origins allowed to show the save button) and
``payload``. Google does not check an ``exp`` for save links; ``iat`` is what it records.

The object carries three ways to present the card, and Wallet uses the first that works:

* ``smartTapRedemptionValue`` over NFC to Smart Tap readers (the card number);
* ``rotatingBarcode``: Wallet itself computes the ``LW2:`` code every 30 seconds from
  ``totpDetails`` (TOTP-SHA1, 8 digits, the per-card secret as Base16), substituting it into
  ``valuePattern`` ``LW2:<crockford card id>:{totp_value_0}``;
* ``barcode``: the static ``LW1:`` code, for readers that cannot handle the rotating one.

The rotating barcode needs the card's TOTP secret inside the object. A save link with the full
object therefore carries the secret through the member's browser; for production, insert the
object over Google's REST API first and send a JWT holding only ``{"id", "classId"}``.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wallet._time import unix_seconds
from wallet.card_codes import TOTP_DIGITS, TOTP_PERIOD, rotating_prefix

SAVE_URL_PREFIX = "https://pay.google.com/gp/v/save/"
TOTP_VALUE_PLACEHOLDER = "{totp_value_0}"

_ISSUER_ID = re.compile(r"[0-9]+")
_ID_SUFFIX = re.compile(r"[A-Za-z0-9._-]+")
_RESOURCE_ID = re.compile(r"[0-9]+\.[A-Za-z0-9._-]+")


def wallet_resource_id(issuer_id: str, suffix: str) -> str:
    """Return a class or object id ``<issuerId>.<suffix>``, refusing characters Google refuses."""
    if not _ISSUER_ID.fullmatch(issuer_id):
        raise ValueError(f"{issuer_id!r} is not a Google Wallet issuer id (digits only)")
    if not _ID_SUFFIX.fullmatch(suffix):
        raise ValueError(f"{suffix!r} may only hold letters, digits, '.', '_' and '-'")
    return f"{issuer_id}.{suffix}"


def loyalty_class(
    issuer_id: str,
    class_suffix: str,
    issuer_name: str,
    program_name: str,
    logo_url: str,
    redemption_issuers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Build a LoyaltyClass; Smart Tap is enabled when redemption issuers are given."""
    program_class: dict[str, Any] = {
        "id": wallet_resource_id(issuer_id, class_suffix),
        "issuerName": issuer_name,
        "programName": program_name,
        "programLogo": {
            "sourceUri": {"uri": logo_url},
            "contentDescription": {"defaultValue": {"language": "en-US", "value": program_name}},
        },
        "reviewStatus": "UNDER_REVIEW",
    }
    if redemption_issuers:
        for redemption_issuer in redemption_issuers:
            if not _ISSUER_ID.fullmatch(redemption_issuer):
                raise ValueError(f"{redemption_issuer!r} is not a redemption issuer id")
        program_class["enableSmartTap"] = True
        program_class["redemptionIssuers"] = list(redemption_issuers)
    return program_class


def rotating_barcode(
    card_id: uuid.UUID,
    totp_secret: bytes,
    alternate_text: str | None = None,
    show_code_text: str = "Show card",
) -> dict[str, Any]:
    """Build the ``rotatingBarcode`` that makes Wallet show the card's live ``LW2:`` code."""
    rotating: dict[str, Any] = {
        "type": "QR_CODE",
        "valuePattern": rotating_prefix(card_id) + TOTP_VALUE_PLACEHOLDER,
        "totpDetails": {
            # int64 values travel as JSON strings in Google's APIs.
            "periodMillis": str(TOTP_PERIOD // timedelta(milliseconds=1)),
            "algorithm": "TOTP_SHA1",
            # RFC 4648 Base16 is upper case; decoders of it (Python's bytes.fromhex included)
            # accept either case.
            "parameters": [{"key": totp_secret.hex().upper(), "valueLength": TOTP_DIGITS}],
        },
        "showCodeText": {"defaultValue": {"language": "en-US", "value": show_code_text}},
    }
    if alternate_text is not None:
        rotating["alternateText"] = alternate_text
    return rotating


def loyalty_object(
    issuer_id: str,
    object_suffix: str,
    class_id: str,
    account_id: str,
    account_name: str,
    points: int,
    tier: str,
    static_code: str,
    card_id: uuid.UUID,
    totp_secret: bytes,
    smart_tap_value: str | None = None,
) -> dict[str, Any]:
    """Build a member's LoyaltyObject with static, rotating and Smart Tap presentations."""
    if not _RESOURCE_ID.fullmatch(class_id):
        raise ValueError(f"{class_id!r} is not a class id of the form <issuerId>.<suffix>")
    if isinstance(points, bool) or not isinstance(points, int):
        raise TypeError("points are an integer")
    member_object: dict[str, Any] = {
        "id": wallet_resource_id(issuer_id, object_suffix),
        "classId": class_id,
        "state": "ACTIVE",
        "accountId": account_id,
        "accountName": account_name,
        "loyaltyPoints": {"label": "Points", "balance": {"int": points}},
        "textModulesData": [{"id": "tier", "header": "Tier", "body": tier}],
        "barcode": {"type": "QR_CODE", "value": static_code, "alternateText": account_id},
        "rotatingBarcode": rotating_barcode(card_id, totp_secret, alternate_text=account_id),
    }
    if smart_tap_value is not None:
        if not smart_tap_value.isascii():
            raise ValueError("a Smart Tap redemption value is ASCII")
        member_object["smartTapRedemptionValue"] = smart_tap_value
    return member_object


@dataclass
class GoogleServiceAccount:
    """The issuer's Google Cloud service account: who signs save links, with which RSA key."""

    client_email: str
    private_key: rsa.RSAPrivateKey
    key_id: str | None = None

    @classmethod
    def from_json(cls, text: str) -> GoogleServiceAccount:
        """Load a service account key file as downloaded from Google Cloud."""
        try:
            document = json.loads(text)
            client_email = document["client_email"]
            private_key_pem = document["private_key"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a service account key file: {exc!r}") from exc
        if not isinstance(client_email, str) or not isinstance(private_key_pem, str):
            raise ValueError("client_email and private_key must be strings")
        private_key = serialization.load_pem_private_key(private_key_pem.encode("ascii"), None)
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("a service account key is RSA")
        key_id = document.get("private_key_id")
        return cls(
            client_email=client_email,
            private_key=private_key,
            key_id=key_id if isinstance(key_id, str) else None,
        )


def make_development_service_account() -> GoogleServiceAccount:
    """Create a throwaway service account with a fresh RSA-2048 key, for development and tests."""
    return GoogleServiceAccount(
        client_email="loyalty-wallet-development@development.invalid",
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        key_id=secrets.token_hex(20),
    )


def save_jwt(
    account: GoogleServiceAccount,
    origins: Sequence[str],
    loyalty_classes: Sequence[Mapping[str, Any]],
    loyalty_objects: Sequence[Mapping[str, Any]],
    now: datetime,
) -> str:
    """Sign the "Save to Google Wallet" JWT for these classes and objects (RS256)."""
    claims = {
        "iss": account.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": unix_seconds(now, "now"),
        # Without origins Google's web button refuses to render on our pages.
        "origins": list(origins),
        "payload": {
            "loyaltyClasses": [dict(item) for item in loyalty_classes],
            "loyaltyObjects": [dict(item) for item in loyalty_objects],
        },
    }
    headers = None if account.key_id is None else {"kid": account.key_id}
    return jwt.encode(claims, account.private_key, algorithm="RS256", headers=headers)


def save_url(token: str) -> str:
    """Return the "Save to Google Wallet" link for a signed save JWT."""
    return SAVE_URL_PREFIX + token
