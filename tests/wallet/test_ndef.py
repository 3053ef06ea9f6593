"""The card's NDEF message, parsed by an independent NDEF library (ndeflib)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import ndef
import pytest

from wallet.card_codes import encode_static_code
from wallet.keys import KeyRing
from wallet.ndef import card_ndef_message, card_record_type, ndef_record, uri_record_payload

NOT_AFTER = datetime(2027, 3, 1, tzinfo=UTC)
CARD_PAGE = "https://wallet.example/card/0190f5e4-7c3a-7d2e-9b1f-4a6c8e0d2f13"


@pytest.fixture
def static_code(keyring: KeyRing, card_id: uuid.UUID) -> str:
    return encode_static_code(card_id, NOT_AFTER, keyring.newest())


def test_ndef_message_holds_the_card_page_uri_then_the_lw1_code(static_code: str) -> None:
    message = card_ndef_message(CARD_PAGE, "wallet.example", static_code)
    uri_record, card_record = list(ndef.message_decoder(message))
    assert isinstance(uri_record, ndef.UriRecord)
    assert uri_record.iri == CARD_PAGE
    assert card_record.type == "urn:nfc:ext:wallet.example:card"
    assert bytes(card_record.data) == static_code.encode("ascii")


def test_records_are_short_and_flagged_message_begin_and_message_end(static_code: str) -> None:
    message = card_ndef_message(CARD_PAGE, "wallet.example", static_code)
    # MB | SR | TNF 1, type length 1, payload length, "U", prefix 0x04 (https://).
    uri_path = CARD_PAGE.removeprefix("https://").encode()
    assert message[:5] == bytes([0x91, 0x01, 1 + len(uri_path)]) + b"U\x04"
    second = 5 + len(uri_path)
    record_type = b"wallet.example:card"
    # ME | SR | TNF 4, type length, payload length.
    assert message[second : second + 3] == bytes([0x54, len(record_type), len(static_code)])
    assert message[second + 3 :] == record_type + static_code.encode()


@pytest.mark.parametrize(
    ("uri", "prefix_byte"),
    [
        ("https://wallet.example/c/1", 0x04),
        ("http://wallet.local/c/1", 0x03),
        ("web+loyalty://card/1", 0x00),
    ],
)
def test_uri_scheme_is_abbreviated_only_for_http_and_https(
    static_code: str, uri: str, prefix_byte: int
) -> None:
    assert uri_record_payload(uri)[0] == prefix_byte
    (uri_record, _) = ndef.message_decoder(card_ndef_message(uri, "wallet.example", static_code))
    assert uri_record.iri == uri


def test_long_uri_switches_its_record_to_the_four_byte_length_form(static_code: str) -> None:
    uri = "https://wallet.example/c/" + "a" * 300
    message = card_ndef_message(uri, "wallet.example", static_code)
    assert message[0] == 0x81  # MB, no SR, TNF 1
    uri_record, card_record = ndef.message_decoder(message)
    assert uri_record.iri == uri
    assert bytes(card_record.data) == static_code.encode()


def test_single_record_carries_both_begin_and_end_flags() -> None:
    record = ndef_record(0x04, b"wallet.example:card", b"x", first=True, last=True)
    (decoded,) = ndef.message_decoder(record)
    assert decoded.type == "urn:nfc:ext:wallet.example:card"


def test_issuer_domain_is_written_in_lower_case(static_code: str) -> None:
    assert card_record_type(" Wallet.EXAMPLE ") == b"wallet.example:card"
    message = card_ndef_message(CARD_PAGE, "Wallet.Example", static_code)
    assert list(ndef.message_decoder(message))[1].type == "urn:nfc:ext:wallet.example:card"


@pytest.mark.parametrize(
    "domain", ["", "wallet example", "wallet.example:card", "-x.example", "é.fr"]
)
def test_issuer_domain_that_is_not_a_dns_name_is_refused(static_code: str, domain: str) -> None:
    with pytest.raises(ValueError):
        card_ndef_message(CARD_PAGE, domain, static_code)


def test_only_an_lw1_code_goes_into_the_card_record() -> None:
    with pytest.raises(ValueError):
        card_ndef_message(CARD_PAGE, "wallet.example", "LW2:10000000000000000000000001:01234567")


def test_lowercased_lw1_code_is_written_in_its_canonical_form(static_code: str) -> None:
    message = card_ndef_message(CARD_PAGE, "wallet.example", f" {static_code.lower()} ")
    assert bytes(list(ndef.message_decoder(message))[1].data) == static_code.encode()
