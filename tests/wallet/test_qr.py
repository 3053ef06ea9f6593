"""QR rendering: decoded by an independent reader (zxing-cpp), the text comes back exactly."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
import zxingcpp
from PIL import Image

from wallet.card_codes import encode_rotating_code, encode_static_code, generate_totp_secret
from wallet.keys import KeyRing
from wallet.qr import qr_mode_is_alphanumeric, render_qr_png, render_qr_svg

NOT_AFTER = datetime(2027, 3, 1, tzinfo=UTC)
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"


def read_qr(png: bytes) -> zxingcpp.Barcode:
    (barcode,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    return barcode


def symbol_details(barcode: zxingcpp.Barcode) -> dict[str, object]:
    """Return zxing-cpp's description of the symbol: version, EC level, mask."""
    details = barcode.extra
    assert isinstance(details, dict)
    return details


@pytest.fixture
def static_code(keyring: KeyRing, card_id: uuid.UUID) -> str:
    return encode_static_code(card_id, NOT_AFTER, keyring.newest())


def test_lw1_code_decodes_back_to_the_exact_text(static_code: str) -> None:
    barcode = read_qr(render_qr_png(static_code))
    assert barcode.text == static_code
    assert symbol_details(barcode)["ECLevel"] == "M"


def test_lw1_code_uses_alphanumeric_mode_and_fits_version_6(static_code: str) -> None:
    assert qr_mode_is_alphanumeric(static_code)
    # 138 characters need version 8 in byte mode at level M; version 6 proves alphanumeric.
    assert symbol_details(read_qr(render_qr_png(static_code)))["Version"] == "6"


def test_lw2_code_decodes_back_to_the_exact_text(card_id: uuid.UUID, now: datetime) -> None:
    code = encode_rotating_code(card_id, generate_totp_secret(), now)
    assert qr_mode_is_alphanumeric(code)
    assert read_qr(render_qr_png(code)).text == code


def test_text_outside_the_alphanumeric_charset_falls_back_to_byte_mode() -> None:
    url = "https://wallet.example/c/0190f5e4?lang=de"
    assert not qr_mode_is_alphanumeric(url)
    assert read_qr(render_qr_png(url)).text == url


def test_png_has_a_four_module_white_quiet_zone(static_code: str) -> None:
    box_size = 8
    image = Image.open(io.BytesIO(render_qr_png(static_code, box_size=box_size))).convert("L")
    modules = 41  # version 6
    assert image.size == ((modules + 8) * box_size,) * 2
    border = 4 * box_size
    width, height = image.size
    for x in range(width):
        for y in [*range(border), *range(height - border, height)]:
            assert image.getpixel((x, y)) == 255
            assert image.getpixel((y, x)) == 255
    # Just inside the quiet zone sits the dark corner of a finder pattern.
    assert image.getpixel((border, border)) == 0


def test_box_size_scales_the_png(static_code: str) -> None:
    small = Image.open(io.BytesIO(render_qr_png(static_code, box_size=2)))
    assert small.size == (49 * 2, 49 * 2)
    assert read_qr(render_qr_png(static_code, box_size=4)).text == static_code


def test_svg_is_a_standalone_well_formed_svg_document(static_code: str) -> None:
    svg = render_qr_svg(static_code)
    assert svg.startswith(b"<?xml")
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG_NAMESPACE}svg"
    assert root.get("viewBox") == "0 0 49 49"
    paths = root.findall(f"{SVG_NAMESPACE}path")
    assert len(paths) == 1
    assert paths[0].get("d")
    # A white background keeps the code readable on dark pages.
    assert root.find(f"{SVG_NAMESPACE}rect") is not None
