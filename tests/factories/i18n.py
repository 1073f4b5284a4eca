"""The Chinese catalogue of every module, for tests that read what a Chinese page is told."""

from __future__ import annotations

from pathlib import Path

import cityops
from cityops.core.i18n import CHINESE, load_catalogue

ZH = load_catalogue(Path(cityops.__file__).parent, CHINESE)
