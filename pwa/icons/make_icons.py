"""Draw the PWA's icons with Pillow: run once, commit the PNGs.

``python pwa/icons/make_icons.py`` writes ``icon-192.png`` and ``icon-512.png`` (purpose
``any``: a rounded tile on a transparent background) and ``maskable-192.png`` and
``maskable-512.png`` (purpose ``maskable``: the tile fills the square and the artwork stays
inside the central 80 % circle, the safe zone every launcher mask keeps). Everything is drawn
at four times the size and scaled down, which is Pillow's cheap antialiasing. The server never
serves this script (``app/pwa_routes.py`` serves only image, style and script suffixes).
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
OVERSAMPLE = 4
TILE = (43, 45, 119, 255)  # the manifest's theme colour, #2b2d77
CARD = (255, 255, 255, 255)
GOLD = (244, 180, 0, 255)
INK = (43, 45, 119, 255)


def star_points(cx: float, cy: float, outer: float, inner: float) -> list[tuple[float, float]]:
    """Return the ten corners of a five-pointed star, the top point first."""
    points = []
    for index in range(10):
        radius = outer if index % 2 == 0 else inner
        angle = -math.pi / 2 + index * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def draw_artwork(draw: ImageDraw.ImageDraw, size: int, scale: float) -> None:
    """Draw the loyalty card with its star, centred, ``scale`` times the tile's width wide."""
    width = size * scale
    height = width * 0.63
    left = (size - width) / 2
    top = (size - height) / 2
    draw.rounded_rectangle((left, top, left + width, top + height), radius=width * 0.08, fill=CARD)
    stripe = height * 0.16
    draw.rectangle((left, top + height * 0.2, left + width, top + height * 0.2 + stripe), fill=INK)
    draw.polygon(
        star_points(left + width * 0.74, top + height * 0.66, height * 0.24, height * 0.1),
        fill=GOLD,
    )
    for row in range(2):
        y = top + height * (0.56 + row * 0.16)
        draw.rounded_rectangle(
            (left + width * 0.1, y, left + width * (0.48 - row * 0.12), y + height * 0.07),
            radius=height * 0.035,
            fill=INK,
        )


def make_icon(size: int, maskable: bool) -> Image.Image:
    """Return one icon of ``size`` pixels."""
    big = size * OVERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=TILE)
        # The card's corners stay inside the central 80 % circle (radius 0.4 of the size).
        draw_artwork(draw, big, scale=0.66)
    else:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.22, fill=TILE)
        draw_artwork(draw, big, scale=0.74)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every icon next to this script."""
    for size in (192, 512):
        make_icon(size, maskable=False).save(HERE / f"icon-{size}.png", optimize=True)
        make_icon(size, maskable=True).save(HERE / f"maskable-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
