"""Draw the grid worker app's icons (PNG) into frontend/src/public/grid/.

Run after changing the design: ``.venv/bin/python scripts/make_app_icons.py``; the PNGs are
committed, so building the front end needs no Python.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "frontend" / "src" / "public" / "grid"
BLUE = (21, 101, 192)
LIGHT = (187, 222, 251)
WHITE = (255, 255, 255)
RED = (211, 47, 47)


def draw(size: int, *, maskable: bool) -> Image.Image:
    """A map grid with a location pin; a maskable icon keeps its drawing in the safe circle."""
    scale = 4  # draw large, then shrink, for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    if maskable:
        pen.rectangle((0, 0, big, big), fill=BLUE)
        inset = big * 0.2
    else:
        pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.18, fill=BLUE)
        inset = big * 0.14
    left, right = inset, big - inset
    step = (right - left) / 3
    width = max(scale, round(big * 0.018))
    for i in range(4):
        at = left + i * step
        pen.line((at, left, at, right), fill=LIGHT, width=width)
        pen.line((left, at, right, at), fill=LIGHT, width=width)
    # The pin stands in the middle cell: a circle over a triangle pointing down.
    cx, radius = big / 2, step * 0.62
    cy = left + step * 1.25
    tip = cy + radius * 2.1
    pen.polygon(
        [
            (cx - radius * 0.8, cy + radius * 0.55),
            (cx + radius * 0.8, cy + radius * 0.55),
            (cx, tip),
        ],
        fill=RED,
    )
    pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=RED)
    hole = radius * 0.42
    pen.ellipse((cx - hole, cy - hole, cx + hole, cy + hole), fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, maskable=False).save(OUT / f"icon-{size}.png", optimize=True)
    draw(512, maskable=True).save(OUT / "icon-maskable-512.png", optimize=True)
    draw(180, maskable=True).convert("RGB").save(OUT / "apple-touch-icon.png", optimize=True)


if __name__ == "__main__":
    main()
