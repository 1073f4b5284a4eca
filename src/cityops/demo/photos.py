"""Small generated photos for demo reports and results: a coloured scene with a caption.

Real photos are not shipped with the demo; these are enough for the timeline, the photo
viewer and the upload pipeline (size and type checks, content addressing) to have data.
"""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw

_SIZE = (320, 240)
_SKIES = ((176, 196, 222), (200, 200, 205), (135, 170, 215), (220, 214, 196))
_GROUNDS = ((105, 105, 105), (120, 110, 95), (90, 120, 80), (140, 135, 130))


def photo_bytes(rng: random.Random, caption: str, *, png: bool = False) -> bytes:
    """A 320×240 JPEG (or PNG) with a sky, a ground, a few blocks and ``caption`` (ASCII)."""
    image = Image.new("RGB", _SIZE, rng.choice(_SKIES))
    draw = ImageDraw.Draw(image)
    width, height = _SIZE
    horizon = rng.randint(height // 3, height // 2)
    draw.rectangle((0, horizon, width, height), fill=rng.choice(_GROUNDS))
    for _ in range(rng.randint(3, 7)):
        left, top = rng.randint(0, width - 40), rng.randint(horizon - 60, height - 30)
        right, bottom = left + rng.randint(20, 90), top + rng.randint(15, 60)
        colour = (rng.randint(40, 230), rng.randint(40, 230), rng.randint(40, 230))
        draw.rectangle((left, top, right, bottom), fill=colour, outline=(30, 30, 30))
    draw.rectangle((0, height - 22, width, height), fill=(0, 0, 0))
    draw.text((6, height - 18), caption, fill=(255, 255, 255))
    buffer = io.BytesIO()
    if png:
        image.save(buffer, format="PNG", optimize=False)
    else:
        image.save(buffer, format="JPEG", quality=70)
    return buffer.getvalue()
