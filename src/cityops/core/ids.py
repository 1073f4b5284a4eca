"""Identifiers made in Python: time-ordered UUIDs (version 7 layout) keep B-tree inserts local."""

from __future__ import annotations

import os
import time
import uuid
from datetime import datetime


def new_id(at: datetime | None = None) -> uuid.UUID:
    """A UUIDv7: 48-bit millisecond timestamp (now, or ``at`` for a record of the past, such as
    imported history), then random bits."""
    millis = time.time_ns() // 1_000_000 if at is None else int(at.timestamp() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version
    value |= (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)
