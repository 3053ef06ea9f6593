"""The member card in wallets and on NFC tags: NDEF message, Apple pass, Google Wallet link.

Everything here is built on demand from the member's active card and account, never stored:

* the NDEF message (``wallet.ndef``): a URI record with the member's card page in the PWA
  (``CARD_PAGE_URL``, by default ``PUBLIC_BASE_URL + "/#/card"``) and an external record
  ``<ISSUER_DOMAIN>:card`` holding the card's ``LW1:`` code;
* the Apple Wallet store card (``wallet.apple``): points and tier as fields, the ``LW1:`` code
  as its QR barcode, the card number (26 Crockford digits) as the NFC ``message``, the pass
  web service (``PUBLIC_BASE_URL + "/passkit"``) and a per-card ``authenticationToken``. The
  serial number is the card number, so a reissued card is a new pass and the old pass is
  served ``voided``: a stolen phone's pass dies with its card;
* the Google Wallet save link (``wallet.google``): a JWT signed RS256 by the service account,
  with a loyalty class and one loyalty object carrying the static code, the rotating ``LW2:``
  barcode (the card's TOTP secret in hex) and the card number as Smart Tap value.

The pass authentication token is not stored at all: it is HMAC-SHA256 of the pass type and
the card id under an instance key (``apple-pass-token``). It is unguessable, differs per card,
never changes for the pass's life (Apple requires that), and a database dump does not reveal
it; checking it is one constant-time comparison.

Credentials come from the app config or the environment (the names in ``docs/wallet-passes.md``).
Without them the instance makes development stand-ins once and keeps them in its secrets file:
a self-signed "WWDR" CA with a Pass Type ID certificate (``wallet.apple.make_development_signer``)
and a throwaway Google service account. Everything they sign is structurally identical and
verifies with their public keys, but Apple Wallet and Google refuse it; the pass description
says so and the log warns once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from flask import current_app

from app.accounts.models import Member
from app.cards.models import Card
from app.cards.service import active_card, require_member, static_code_of, totp_secret_of
from app.db import utcnow
from wallet.apple import (
    PassSigner,
    build_pkpass,
    default_pass_images,
    make_development_signer,
    store_card_pass_json,
)
from wallet.card_codes import card_nfc_value
from wallet.crockford import decode_uuid
from wallet.errors import MalformedCode
from wallet.google import (
    GoogleServiceAccount,
    loyalty_class,
    loyalty_object,
    make_development_service_account,
    save_jwt,
    save_url,
    wallet_resource_id,
)
from wallet.ndef import card_ndef_message, card_record_type

log = logging.getLogger("app.cards.passes")

DEFAULT_PASS_TYPE_ID = "pass.example.loyalty"
DEVELOPMENT_TEAM_ID = "DEVTEAM000"
# All zeros cannot collide with a real Google issuer account.
DEVELOPMENT_GOOGLE_ISSUER_ID = "0000000000000000000"
DEFAULT_ORGANIZATION_NAME = "Loyalty Wallet"
DEFAULT_GOOGLE_CLASS_SUFFIX = "member-card"
GOOGLE_OBJECT_PREFIX = "card-"
PASS_WEB_SERVICE_PATH = "/passkit"

APPLE_DEVELOPMENT_SIGNER_DOCUMENT = "apple-pass-development-signer"
GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT = "google-wallet-development-service-account"
PASS_TOKEN_KEY = "apple-pass-token"
# A development certificate is made anew this long before it expires.
DEVELOPMENT_CERTIFICATE_RENEWAL = timedelta(days=30)

APPLE_SIGNER_FILES = ("APPLE_PASS_CERT", "APPLE_PASS_KEY", "APPLE_WWDR_CERT")


class WalletConfigurationError(RuntimeError):
    """The wallet settings are incomplete or unreadable; the app refuses to start with them."""


def wallet_setting(
    name: str, default: str | None = None, config: Mapping[str, Any] | None = None
) -> str | None:
    """Read a wallet setting from the app config (``app.config`` reads the environment)."""
    source = current_app.config if config is None else config
    value = source.get(name)
    if value is None or value == "":
        return default
    return str(value)


def _public_base_url(config: Mapping[str, Any] | None = None) -> str:
    source = current_app.config if config is None else config
    return str(source["PUBLIC_BASE_URL"]).rstrip("/")


def card_page_url() -> str:
    """Return the PWA page that shows the member's card (the NDEF URI record)."""
    return wallet_setting("CARD_PAGE_URL") or _public_base_url() + "/#/card"


def pass_web_service_url() -> str:
    """Return the ``webServiceURL`` of Apple passes: where devices register and fetch updates."""
    return _public_base_url() + PASS_WEB_SERVICE_PATH


def organization_name() -> str:
    """Return the name shown as the pass issuer."""
    return wallet_setting("WALLET_ORGANIZATION_NAME", DEFAULT_ORGANIZATION_NAME) or ""


def apple_pass_type_id() -> str:
    """Return the Pass Type ID that passes carry and the web service answers for."""
    return wallet_setting("APPLE_PASS_TYPE_ID", DEFAULT_PASS_TYPE_ID) or DEFAULT_PASS_TYPE_ID


# --- card numbers and pass tokens --------------------------------------------------------


def card_serial_number(card_id: uuid.UUID) -> str:
    """Return a card's pass serial number: its card number (26 Crockford Base32 digits)."""
    return card_nfc_value(card_id)


def card_id_from_serial(serial_number: str) -> uuid.UUID | None:
    """Return the card id a pass serial number names, or None if it names none."""
    try:
        return decode_uuid(serial_number)
    except (MalformedCode, ValueError):
        return None


def pass_authentication_token(card_id: uuid.UUID, pass_type_id: str | None = None) -> str:
    """Return the ``authenticationToken`` of a card's Apple pass (derived, never stored)."""
    key: bytes = current_app.extensions["lw_secrets"].named_key(PASS_TOKEN_KEY)
    message = (
        f"apple-pass-token-v1:{pass_type_id or apple_pass_type_id()}:".encode() + card_id.bytes
    )
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]


def pass_token_matches(card_id: uuid.UUID, pass_type_id: str, token: str) -> bool:
    """Tell, in constant time, whether ``token`` is the authentication token of this pass."""
    return hmac.compare_digest(
        pass_authentication_token(card_id, pass_type_id).encode(), token.encode()
    )


# --- NDEF ----------------------------------------------------------------------------------


def card_ndef(member_id: int) -> bytes:
    """Return the member's card as an NDEF message: card page URI, then the LW1 code."""
    card = active_card(member_id)
    return card_ndef_message(
        card_page_url(), str(current_app.config["ISSUER_DOMAIN"]), static_code_of(card)
    )


# --- Apple Wallet --------------------------------------------------------------------------


@dataclass(frozen=True)
class AppleCredentials:
    """Who signs Apple passes, for which Pass Type ID and team."""

    signer: PassSigner
    pass_type_id: str
    team_id: str

    @property
    def development(self) -> bool:
        """Tell whether the signer is the self-signed development stand-in."""
        return self.signer.development


def _warn_once(kind: str, message: str) -> None:
    """Log a development-credentials warning once per app and process."""
    warned: set[str] = current_app.extensions.setdefault("lw_wallet_development_warned", set())
    if kind not in warned:
        warned.add(kind)
        log.warning(message)


@functools.lru_cache(maxsize=8)
def _signer_from_pem(
    certificate_pem: bytes, private_key_pem: bytes, wwdr_pem: bytes, password: bytes | None
) -> PassSigner:
    return PassSigner.from_pem(certificate_pem, private_key_pem, wwdr_pem, password)


def _read_file(setting: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise WalletConfigurationError(f"{setting}={path!r} cannot be read: {exc}") from exc


def _configured_apple_credentials(pass_type_id: str) -> AppleCredentials:
    paths = {name: wallet_setting(name) or "" for name in APPLE_SIGNER_FILES}
    password = wallet_setting("APPLE_PASS_KEY_PASSWORD")
    signer = _signer_from_pem(
        *(_read_file(name, path) for name, path in paths.items()),
        password.encode() if password else None,
    )
    team_id = wallet_setting("APPLE_TEAM_ID") or _team_id_of(signer.certificate)
    return AppleCredentials(signer, pass_type_id, team_id)


def _team_id_of(certificate: x509.Certificate) -> str:
    """Read the team identifier from a Pass Type ID certificate (its OU), as Apple issues it."""
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not units:
        raise WalletConfigurationError(
            "APPLE_TEAM_ID is not set and the pass certificate names no team (OU)"
        )
    return str(units[0].value)


def _development_document_is_usable(stored: Any, pass_type_id: str, team_id: str) -> bool:
    if not isinstance(stored, dict):
        return False
    if stored.get("pass_type_id") != pass_type_id or stored.get("team_id") != team_id:
        return False
    try:
        not_after = datetime.fromisoformat(str(stored.get("not_after")))
    except ValueError:
        return False
    return not_after > utcnow() + DEVELOPMENT_CERTIFICATE_RENEWAL


def _development_apple_credentials(pass_type_id: str) -> AppleCredentials:
    team_id = wallet_setting("APPLE_TEAM_ID", DEVELOPMENT_TEAM_ID) or DEVELOPMENT_TEAM_ID
    secrets = current_app.extensions["lw_secrets"]
    stored = secrets.document(APPLE_DEVELOPMENT_SIGNER_DOCUMENT)
    if not _development_document_is_usable(stored, pass_type_id, team_id):

        def create_if_unusable(current: Any) -> Any:
            # Another worker may have made one while this one waited for the lock.
            if _development_document_is_usable(current, pass_type_id, team_id):
                return current
            log.warning(
                "generating a self-signed development Pass Type ID certificate for %s",
                pass_type_id,
            )
            return _development_signer_document(pass_type_id, team_id)

        stored = secrets.update_document(APPLE_DEVELOPMENT_SIGNER_DOCUMENT, create_if_unusable)
    _warn_once(
        "apple",
        "Apple Wallet passes are signed with a self-signed DEVELOPMENT certificate: real iPhones"
        " refuse them. Set APPLE_PASS_CERT, APPLE_PASS_KEY and APPLE_WWDR_CERT to sign for real.",
    )
    signer = _signer_from_pem(
        stored["certificate"].encode(),
        stored["private_key"].encode(),
        stored["wwdr_certificate"].encode(),
        None,
    )
    return AppleCredentials(dataclasses.replace(signer, development=True), pass_type_id, team_id)


def _development_signer_document(pass_type_id: str, team_id: str) -> dict[str, str]:
    signer = make_development_signer(pass_type_id, team_id, utcnow())
    return {
        "pass_type_id": pass_type_id,
        "team_id": team_id,
        "not_after": signer.certificate.not_valid_after_utc.isoformat(),
        "certificate": _pem(signer.certificate),
        "private_key": signer.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii"),
        # The development CA stands in for Apple's WWDR intermediate; verifiers trust it.
        "wwdr_certificate": _pem(signer.wwdr_certificate),
    }


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def apple_credentials() -> AppleCredentials:
    """Return the configured pass signer, or this instance's development stand-in."""
    pass_type_id = apple_pass_type_id()
    if any(wallet_setting(name) for name in APPLE_SIGNER_FILES):
        return _configured_apple_credentials(pass_type_id)
    return _development_apple_credentials(pass_type_id)


def apple_pass_json(card: Card, member: Member, credentials: AppleCredentials) -> dict[str, Any]:
    """Build the ``pass.json`` of a card's store card as it stands now."""
    organization = organization_name()
    description = f"{organization} member card"
    if credentials.development:
        description += " (development signature: Apple Wallet refuses this pass)"
    pass_json = store_card_pass_json(
        pass_type_identifier=credentials.pass_type_id,
        team_identifier=credentials.team_id,
        serial_number=card_serial_number(card.id),
        organization_name=organization,
        description=description,
        card_code=static_code_of(card),
        member_name=member.display_name,
        points=member.points_balance,
        tier=member.tier,
        nfc_message=card_nfc_value(card.id),
        nfc_encryption_public_key=wallet_setting("APPLE_NFC_PUBLIC_KEY"),
        web_service_url=pass_web_service_url(),
        authentication_token=pass_authentication_token(card.id, credentials.pass_type_id),
        logo_text=organization,
    )
    # The pass expires with its card; a revoked card's pass stays on the phone, greyed out.
    pass_json["expirationDate"] = card.not_after.isoformat()
    if card.revoked_at is not None:
        pass_json["voided"] = True
    return pass_json


def pass_content_digest(pass_json: Mapping[str, Any]) -> str:
    """Return a digest of a pass's content, to tell when a pass on a phone is out of date."""
    canonical = json.dumps(pass_json, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


@functools.lru_cache(maxsize=1)
def _pass_images() -> dict[str, bytes]:
    return default_pass_images()


def apple_pass_bundle(card: Card, member: Member) -> bytes:
    """Build and sign the ``.pkpass`` of a card."""
    credentials = apple_credentials()
    return build_pkpass(
        apple_pass_json(card, member, credentials), _pass_images(), credentials.signer
    )


def apple_pass_for_member(member_id: int) -> bytes:
    """Build and sign the ``.pkpass`` of the member's active card."""
    card = active_card(member_id)
    return apple_pass_bundle(card, require_member(member_id))


# --- Google Wallet -------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _service_account_from_json(text: str) -> GoogleServiceAccount:
    return GoogleServiceAccount.from_json(text)


def _development_service_account_document() -> str:
    account = make_development_service_account()
    return json.dumps(
        {
            "type": "service_account",
            "client_email": account.client_email,
            "private_key_id": account.key_id,
            "private_key": account.private_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii"),
        }
    )


def google_service_account() -> tuple[GoogleServiceAccount, bool]:
    """Return the service account that signs save links and whether it is the development one."""
    path = wallet_setting("GOOGLE_SERVICE_ACCOUNT_FILE")
    if path:
        text = _read_file("GOOGLE_SERVICE_ACCOUNT_FILE", path).decode("utf-8")
        return _service_account_from_json(text), False
    secrets = current_app.extensions["lw_secrets"]
    stored = secrets.document(GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT)
    if stored is None:

        def create_if_missing(current: Any) -> Any:
            if current is None:
                log.warning("generating a development Google Wallet service account key")
            return current or _development_service_account_document()

        stored = secrets.update_document(GOOGLE_DEVELOPMENT_ACCOUNT_DOCUMENT, create_if_missing)
    _warn_once(
        "google",
        "Google Wallet save links are signed with a DEVELOPMENT service account key: Google"
        " refuses them. Set GOOGLE_ISSUER_ID and GOOGLE_SERVICE_ACCOUNT_FILE to sign for real.",
    )
    return _service_account_from_json(str(stored)), True


def google_issuer_id() -> str:
    """Return the Google Wallet issuer id (digits), the development one when none is set."""
    return wallet_setting("GOOGLE_ISSUER_ID", DEVELOPMENT_GOOGLE_ISSUER_ID) or ""


def _listed(name: str, default: list[str]) -> list[str]:
    raw = wallet_setting(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def google_save_url(member_id: int) -> str:
    """Return the "Save to Google Wallet" link of the member's active card."""
    card = active_card(member_id)
    member = require_member(member_id)
    account, _ = google_service_account()
    issuer_id = google_issuer_id()
    class_suffix = wallet_setting("GOOGLE_CLASS_SUFFIX", DEFAULT_GOOGLE_CLASS_SUFFIX) or ""
    organization = organization_name()
    program = loyalty_class(
        issuer_id,
        class_suffix,
        issuer_name=organization,
        program_name=wallet_setting("WALLET_PROGRAM_NAME", organization) or organization,
        logo_url=wallet_setting("GOOGLE_LOGO_URL") or _public_base_url() + "/icons/icon-192.png",
        # By default the issuer redeems its own passes over Smart Tap.
        redemption_issuers=_listed("GOOGLE_REDEMPTION_ISSUERS", [issuer_id]),
    )
    number = card_serial_number(card.id)
    member_object = loyalty_object(
        issuer_id,
        GOOGLE_OBJECT_PREFIX + number,
        wallet_resource_id(issuer_id, class_suffix),
        account_id=number,
        account_name=member.display_name,
        points=member.points_balance,
        tier=member.tier,
        static_code=static_code_of(card),
        card_id=card.id,
        totp_secret=totp_secret_of(card),
        smart_tap_value=card_nfc_value(card.id),
    )
    origins = _listed("GOOGLE_SAVE_ORIGINS", [_origin(_public_base_url())])
    return save_url(save_jwt(account, origins, [program], [member_object], utcnow()))


# --- start-up checks -------------------------------------------------------------------------


def check_wallet_configuration(config: Mapping[str, Any]) -> None:
    """Refuse to start with wallet settings that would fail on the first pass or link."""
    try:
        card_record_type(str(config.get("ISSUER_DOMAIN", "")))
    except ValueError as exc:
        raise WalletConfigurationError(f"ISSUER_DOMAIN: {exc}") from exc
    given = [name for name in APPLE_SIGNER_FILES if wallet_setting(name, config=config)]
    if given and len(given) != len(APPLE_SIGNER_FILES):
        raise WalletConfigurationError(
            f"{', '.join(APPLE_SIGNER_FILES)} go together; only {', '.join(given)} set"
        )
    for name in (*given, "GOOGLE_SERVICE_ACCOUNT_FILE"):
        path = wallet_setting(name, config=config)
        if path and not Path(path).is_file():
            raise WalletConfigurationError(f"{name}={path!r} is not a readable file")
    issuer_id = wallet_setting("GOOGLE_ISSUER_ID", config=config)
    if wallet_setting("GOOGLE_SERVICE_ACCOUNT_FILE", config=config) and not issuer_id:
        raise WalletConfigurationError("GOOGLE_SERVICE_ACCOUNT_FILE needs GOOGLE_ISSUER_ID")
    if issuer_id is not None and not issuer_id.isdigit():
        raise WalletConfigurationError(f"GOOGLE_ISSUER_ID={issuer_id!r} is not all digits")
