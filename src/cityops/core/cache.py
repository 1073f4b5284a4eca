"""Per-process snapshots of small, read-mostly reference data (categories, departments, areas).

The registry belongs to the Database and travels with every session it makes
(``session.info``), so any code holding a session can read reference data without a query.
A snapshot is reloaded when older than the TTL or after ``invalidate``; the process that
changes the data invalidates at once, other worker processes see the change within the TTL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")
INFO_KEY = "cityops.snapshots"


class Snapshots:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.RLock()
        self._values: dict[str, tuple[float, Any]] = {}

    def get(self, session: Session, key: str, load: Callable[[Session], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._values.get(key)
            if found is None or now - found[0] > self.ttl:
                found = (now, load(session))
                self._values[key] = found
            value: T = found[1]
            return value

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)


def cached(session: Session, key: str, load: Callable[[Session], T]) -> T:
    """The snapshot ``key`` of the session's database (loaded through ``load`` when stale)."""
    registry = session.info.get(INFO_KEY)
    if not isinstance(registry, Snapshots):
        return load(session)
    return registry.get(session, key, load)


def invalidate(session: Session, key: str) -> None:
    registry = session.info.get(INFO_KEY)
    if isinstance(registry, Snapshots):
        registry.invalidate(key)
