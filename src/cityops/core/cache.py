"""Per-process caches of small, read-mostly data.

``Snapshots`` holds whole tables of reference data (categories, departments, areas); its
registry belongs to the Database and travels with every session it makes (``session.info``),
so any code holding a session can read reference data without a query. A snapshot is
reloaded when older than the TTL or after ``invalidate``; the process that changes the data
invalidates at once, other worker processes see the change within the TTL.

``ExpiringMap`` is a bounded map whose entries expire (login tokens, user names).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

K = TypeVar("K")
T = TypeVar("T")
INFO_KEY = "cityops.snapshots"


class Snapshots:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._values: dict[str, tuple[float, Any]] = {}
        self._loading: set[str] = set()
        self._generation = 0
        self._maps: dict[str, ExpiringMap[Any, Any]] = {}

    def get(self, session: Session, key: str, load: Callable[[Session], T]) -> T:
        now = time.monotonic()
        with self._lock:
            found = self._values.get(key)
            fresh_enough = found is not None and now - found[0] <= self.ttl
            # While one thread reloads a stale snapshot, the others keep using the old one.
            if fresh_enough or (found is not None and key in self._loading):
                value: T = found[1]  # type: ignore[index]
                return value
            self._loading.add(key)
            generation = self._generation
        try:
            # Load outside the lock (other threads go on with the old value), through the
            # caller's session: a second connection could wait forever for a pool slot held
            # by threads that wait for this one's write lock. No autoflush: the caller's
            # pending changes are not reference data.
            with session.no_autoflush:
                loaded = load(session)
        finally:
            with self._lock:
                self._loading.discard(key)
        with self._lock:
            # An invalidation during the load means the data may predate the change.
            if generation == self._generation:
                self._values[key] = (now, loaded)
        return loaded

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._generation += 1
            self._values.pop(key, None)
            if key in self._maps:
                self._maps[key].clear()

    def map(
        self, key: str, *, ttl: float | None = None, size: int = 10_000
    ) -> ExpiringMap[Any, Any]:
        """A bounded expiring map that lives as long as the registry (e.g. user names)."""
        with self._lock:
            found = self._maps.get(key)
            if found is None:
                found = self._maps[key] = ExpiringMap(self.ttl if ttl is None else ttl, size)
            return found


class ExpiringMap(Generic[K, T]):
    """A thread-safe map whose entries expire after ``ttl`` seconds; the oldest go first
    once ``size`` entries are held."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl, self.size = ttl, size
        self._lock = threading.Lock()
        self._items: OrderedDict[K, tuple[float, T]] = OrderedDict()

    def get(self, key: K) -> T | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.ttl:
                del self._items[key]
                return None
            return found[1]

    def get_many(self, keys: Iterable[K]) -> dict[K, T]:
        """The unexpired values of ``keys`` that are held (one lock for them all)."""
        found: dict[K, T] = {}
        with self._lock:
            oldest = time.monotonic() - self.ttl
            for key in keys:
                item = self._items.get(key)
                if item is None:
                    continue
                if item[0] < oldest:
                    del self._items[key]
                else:
                    found[key] = item[1]
        return found

    def put(self, key: K, value: T) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic(), value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def replace(self, key: K, value: T) -> None:
        """A new value for a key still held, which keeps its age (so it still expires when
        it would have); nothing if the key is not held."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items[key] = (found[0], value)

    def pop(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def cached(session: Session, key: str, load: Callable[[Session], T]) -> T:
    """The snapshot ``key`` of the session's database (loaded through ``load`` when stale)."""
    registry = session.info.get(INFO_KEY)
    if not isinstance(registry, Snapshots):
        return load(session)
    return registry.get(session, key, load)


def cached_map(session: Session, key: str) -> ExpiringMap[Any, Any] | None:
    registry = session.info.get(INFO_KEY)
    return registry.map(key) if isinstance(registry, Snapshots) else None


def invalidate(session: Session, key: str) -> None:
    registry = session.info.get(INFO_KEY)
    if isinstance(registry, Snapshots):
        registry.invalidate(key)
