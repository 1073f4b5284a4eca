"""Constants and helpers shared by the Open311 tests (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

from PIL import Image

ROOT = "/open311/v2"
# A point in the first grid of district 990101, and one well outside the synthetic city.
IN_CITY = {"lat": "28.12", "long": "112.95"}
OUTSIDE = {"lat": "30.5", "long": "114.3"}

Submit = Callable[..., Any]


def png(size: int = 8) -> bytes:
    """A PNG of ``size`` × ``size`` noise (so it does not compress away)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), os.urandom(size * size * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def xml_items(text: str, root: str, item: str) -> list[dict[str, str | None]]:
    """Children of each ``item`` under ``root`` as {tag: text} (nested elements left out)."""
    tree = ET.fromstring(text)  # noqa: S314 - our own server's answer
    assert tree.tag == root
    return [{child.tag: child.text for child in element} for element in tree.findall(item)]
