"""QR rendering for card and coupon codes.

Nothing is signed here: the text handed in (an ``LW1:`` or ``LW2:`` code, a coupon code) is
drawn as it is. Choices that matter to scanners:

* Alphanumeric mode whenever the text fits its 45-symbol charset (``0-9 A-Z space $%*+-./:``).
  Base45 was designed to be exactly that charset, so an LW1 code (138 characters) fits in
  version 6 (41x41 modules) at level M instead of version 8 in byte mode; LW2 and coupon codes
  are upper case and fit too. Other text falls back to byte mode, UTF-8.
* Error correction level M (about 15 %): screens are clean, and the lower level keeps the
  symbol small enough for phone cameras at the till.
* A quiet zone of 4 modules, as ISO/IEC 18004 requires; cropping it breaks many scanners.
* The SVG has a white background, so the code stays scannable on a page in dark mode.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
import qrcode.util
from qrcode.image.svg import SvgPathFillImage

QUIET_ZONE_MODULES = 4


def _qr_symbol(text: str, box_size: int) -> qrcode.QRCode:
    """Lay out ``text`` as a QR symbol, alphanumeric mode when the text allows it."""
    encoded = text.encode("utf-8")
    if qrcode.util.RE_ALPHA_NUM.match(encoded):
        data = qrcode.util.QRData(encoded, mode=qrcode.util.MODE_ALPHA_NUM)
    else:
        data = qrcode.util.QRData(encoded, mode=qrcode.util.MODE_8BIT_BYTE)
    symbol = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        box_size=box_size,
        border=QUIET_ZONE_MODULES,
    )
    symbol.add_data(data)
    symbol.make(fit=True)
    return symbol


def qr_mode_is_alphanumeric(text: str) -> bool:
    """Tell whether ``text`` is drawn in QR alphanumeric mode."""
    return bool(qrcode.util.RE_ALPHA_NUM.match(text.encode("utf-8")))


def render_qr_svg(text: str) -> bytes:
    """Render ``text`` as a standalone SVG document (UTF-8, with XML declaration)."""
    # box_size 10 is one millimetre per module in qrcode's SVG units; SVG scales anyway.
    image = _qr_symbol(text, box_size=10).make_image(image_factory=SvgPathFillImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def render_qr_png(text: str, box_size: int = 8) -> bytes:
    """Render ``text`` as a black-on-white PNG with ``box_size`` pixels per module."""
    image = _qr_symbol(text, box_size=box_size).make_image()
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
