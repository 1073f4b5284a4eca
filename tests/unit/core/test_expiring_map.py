"""ExpiringMap: entries expire after the TTL; ``get_many`` answers as ``get`` does for each key;
``replace`` changes a held value without making it live longer."""

from __future__ import annotations

import pytest

from cityops.core import cache
from cityops.core.cache import ExpiringMap


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticker(monkeypatch: pytest.MonkeyPatch) -> Ticker:
    clock = Ticker()
    monkeypatch.setattr(cache.time, "monotonic", clock)
    return clock


def test_get_many_gives_the_held_unexpired_values(ticker: Ticker) -> None:
    items: ExpiringMap[str, int] = ExpiringMap(ttl=30, size=10)
    items.put("a", 1)
    ticker.now += 20
    items.put("b", 2)
    assert items.get_many(["a", "b", "c"]) == {"a": 1, "b": 2}
    ticker.now += 15  # "a" is 35 s old, "b" 15 s
    assert items.get_many(["a", "b", "c"]) == {"b": 2}
    assert items.get("a") is None
    assert items.get("b") == 2


def test_replace_keeps_the_age_and_adds_nothing(ticker: Ticker) -> None:
    items: ExpiringMap[str, int] = ExpiringMap(ttl=30, size=10)
    items.put("a", 1)
    ticker.now += 20
    items.replace("a", 2)
    items.replace("b", 3)
    assert items.get_many(["a", "b"]) == {"a": 2}
    ticker.now += 15  # 35 s since "a" was put: gone, though replaced 15 s ago
    assert items.get("a") is None
    assert items.get("b") is None
