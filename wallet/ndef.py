"""NDEF message that carries a member card on an NFC tag or sticker.

A phone browser cannot emulate a contactless card, so "the card over NFC" means a passive tag
the PWA writes with Web NFC and a till reads. The message holds two records:

1. a URI record (TNF 1 well-known, type ``U``) with the member's card page, so any phone that
   taps the tag opens it. The first payload byte abbreviates the scheme: ``0x04`` for
   ``https://``, ``0x03`` for ``http://``, ``0x00`` (nothing abbreviated) otherwise;
2. an external-type record (TNF 4) of type ``<issuer domain>:card`` whose payload is the
   card's static ``LW1:`` code in ASCII, so a till verifies the card offline with the
   published keys.

Nothing is signed at this layer: the ``LW1:`` code inside is, and that signature is what a till
must trust, not the tag. Tags can be cloned, so the code is an identifier with an expiry, never
a secret. Records use the short-record layout (1-byte payload length) when the payload is under
256 bytes and the 4-byte layout otherwise.
"""

from __future__ import annotations

import re
import struct

from wallet.card_codes import parse_static_code
from wallet.errors import MalformedCode

TNF_WELL_KNOWN = 0x01
TNF_EXTERNAL = 0x04

_MESSAGE_BEGIN = 0x80
_MESSAGE_END = 0x40
_SHORT_RECORD = 0x10

# Only the two schemes the app serves get a prefix code; 0x01/0x02 ("http(s)://www.") would
# save four bytes for www hosts but are not worth a second rule in every reader's head.
_URI_PREFIXES = (("https://", 0x04), ("http://", 0x03))

# The NFC Forum external type name is a DNS domain, a colon and a type, case-insensitive;
# we write it in lower case so byte comparisons by readers work too.
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")


def ndef_record(tnf: int, record_type: bytes, payload: bytes, *, first: bool, last: bool) -> bytes:
    """Encode one NDEF record, short form when the payload is under 256 bytes."""
    if not 0 <= tnf <= 0x07:
        raise ValueError("a TNF is a 3-bit value")
    if len(record_type) > 0xFF:
        raise ValueError("an NDEF record type is at most 255 bytes")
    header = tnf
    if first:
        header |= _MESSAGE_BEGIN
    if last:
        header |= _MESSAGE_END
    if len(payload) < 0x100:
        header |= _SHORT_RECORD
        lengths = struct.pack(">BB", len(record_type), len(payload))
    else:
        lengths = struct.pack(">BI", len(record_type), len(payload))
    return bytes([header]) + lengths + record_type + payload


def uri_record_payload(uri: str) -> bytes:
    """Return the URI record payload: a prefix code byte and the rest of the URI in UTF-8."""
    for scheme, code in _URI_PREFIXES:
        if uri.startswith(scheme):
            return bytes([code]) + uri[len(scheme) :].encode("utf-8")
    return b"\x00" + uri.encode("utf-8")


def card_record_type(issuer_domain: str) -> bytes:
    """Return the external record type ``<issuer domain>:card`` in lower case."""
    domain = issuer_domain.strip().lower()
    if not domain.isascii() or not _DOMAIN.fullmatch(domain):
        raise ValueError(f"{issuer_domain!r} is not a DNS domain name")
    return f"{domain}:card".encode("ascii")


def card_ndef_message(card_page_url: str, issuer_domain: str, static_code: str) -> bytes:
    """Encode the two-record NDEF message for a card: its page URL and its LW1 code."""
    if not card_page_url:
        raise ValueError("the card page URL is empty")
    try:
        canonical_code = parse_static_code(static_code).text
    except MalformedCode as exc:
        raise ValueError(f"not a static LW1 card code: {exc}") from exc
    return ndef_record(
        TNF_WELL_KNOWN, b"U", uri_record_payload(card_page_url), first=True, last=False
    ) + ndef_record(
        TNF_EXTERNAL,
        card_record_type(issuer_domain),
        canonical_code.encode("ascii"),
        first=False,
        last=True,
    )
