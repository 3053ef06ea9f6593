"""The app's own QR encoder and TOTP, run in Chromium and checked against independent code."""

from __future__ import annotations

import base64
import random
import string
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import decode_qr
from wallet.card_codes import encode_rotating_code, rotating_prefix, totp_secret_base32

pytestmark = pytest.mark.browser

DRAW = """async (texts) => {
  const { drawQr } = await import("/pwa/js/qr.js");
  return texts.map((text) => {
    const canvas = document.createElement("canvas");
    const qr = drawQr(canvas, text, { pixelsPerModule: 4 });
    return { version: qr.version, mode: qr.mode, png: canvas.toDataURL("image/png") };
  });
}"""

ROTATING = """async ([card, millis]) => {
  const { rotatingCode } = await import("/pwa/js/totp.js");
  return rotatingCode(card, millis);
}"""


def _texts() -> list[str]:
    rng = random.Random(2026)
    base45 = string.ascii_uppercase + string.digits + " $%*+-./:"
    texts = [
        "LW2:01ARZ3NDEKTSV4RRFFQ69G5FAV:12345678",
        "ABCD-EFGH-JKMN-P",
        "LW1:" + "".join(rng.choice(base45) for _ in range(138)),
        "https://wallet.test/#/card?ü=ß",
        "x",
    ]
    # Byte-mode capacity at level M is 14, 26, 42, 62, 84, 106, 122, 152, 180, 213 (v1-v10).
    byte_lengths = (14, 26, 40, 60, 80, 100, 120, 150, 175, 213)
    texts += ["".join(rng.choice(string.ascii_lowercase) for _ in range(n)) for n in byte_lengths]
    texts += ["".join(rng.choice(base45) for _ in range(n)) for n in (200, 260, 311)]
    return texts


def test_qr_codes_drawn_in_the_browser_decode_in_every_version_and_both_modes(
    page: Any,
) -> None:
    page.goto("/#/login")
    texts = _texts()
    drawn = page.evaluate(DRAW, texts)
    versions = set()
    modes = set()
    for text, qr in zip(texts, drawn, strict=True):
        png = base64.b64decode(qr["png"].split(",", 1)[1])
        assert decode_qr(png) == [text], (qr["version"], qr["mode"], text)
        versions.add(qr["version"])
        modes.add(qr["mode"])
    assert versions == set(range(1, 11))
    assert modes == {"alphanumeric", "byte"}


def test_too_long_text_is_refused_rather_than_drawn_unreadable(page: Any) -> None:
    page.goto("/#/login")
    message = page.evaluate(
        """async () => {
          const { encodeQr } = await import("/pwa/js/qr.js");
          try { encodeQr("x".repeat(214)); return "drawn"; } catch (e) { return e.name; }
        }"""
    )
    assert message == "RangeError"


def test_live_code_matches_rfc_6238_and_the_servers_encoder(page: Any) -> None:
    page.goto("/#/login")
    rfc_secret = b"12345678901234567890"
    rfc_card = {
        "rotating_prefix": "",
        "totp": {"secret": totp_secret_base32(rfc_secret), "digits": 8, "period": 30},
    }
    # RFC 6238 appendix B, SHA-1: T = 59 s gives 94287082, T = 1111111109 s gives 07081804.
    assert page.evaluate(ROTATING, [rfc_card, 59_000]) == "94287082"
    assert page.evaluate(ROTATING, [rfc_card, 1_111_111_109_000]) == "07081804"

    card_id = uuid.uuid4()
    secret = random.Random(7).randbytes(20)
    card = {
        "rotating_prefix": rotating_prefix(card_id),
        "totp": {
            "secret": totp_secret_base32(secret),
            "algorithm": "SHA1",
            "digits": 8,
            "period": 30,
        },
    }
    for seconds in (1_800_000_000, 1_800_000_029, 1_800_000_030, 2_000_000_017):
        at = datetime.fromtimestamp(seconds, UTC)
        assert page.evaluate(ROTATING, [card, seconds * 1000]) == encode_rotating_code(
            card_id, secret, at
        )
