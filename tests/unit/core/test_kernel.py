"""Small pieces of the shared kernel: ids, images, GeoJSON, the bus, the scheduler."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from cityops.core.auth import digest_secret, hash_password, new_secret, verify_password
from cityops.core.bus import Bus, Event
from cityops.core.clock import FrozenClock
from cityops.core.errors import PayloadTooLarge, ValidationFailed
from cityops.core.files import LocalFileStore, inspect_image
from cityops.core.geo import AreaIndex, IndexedArea, parse_polygon
from cityops.core.ids import new_id
from cityops.core.tasks import Scheduler


def _png(size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_ids_are_version_7_and_time_ordered() -> None:
    ids = [new_id() for _ in range(200)]
    assert {i.version for i in ids} == {7}
    assert len(set(ids)) == 200
    prefixes = [i.int >> 80 for i in ids]
    assert prefixes == sorted(prefixes)


def test_an_id_of_the_past_carries_its_time() -> None:
    at = datetime(2026, 3, 2, 2, 0, 0, 123000, tzinfo=UTC)
    made = new_id(at)
    assert made.version == 7
    assert (made.int >> 80) == int(at.timestamp() * 1000)
    assert new_id(at) != made
    assert new_id(at + timedelta(milliseconds=1)).int >> 80 == (made.int >> 80) + 1


def test_a_real_image_is_accepted_with_its_type_and_size() -> None:
    data = _png()
    stored = inspect_image(data, max_bytes=10_000)
    assert (stored.content_type, stored.width, stored.height, stored.size) == (
        "image/png",
        8,
        6,
        len(data),
    )


def test_text_posing_as_an_image_is_refused() -> None:
    with pytest.raises(ValidationFailed) as caught:
        inspect_image(b"hello, I am a jpeg", max_bytes=10_000, field="photo")
    assert caught.value.fields[0].field == "photo"
    assert caught.value.fields[0].code == "not_image"


def test_an_oversized_file_is_refused_before_decoding() -> None:
    with pytest.raises(PayloadTooLarge):
        inspect_image(_png((64, 64)), max_bytes=100)


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="empty"):
        inspect_image(b"", max_bytes=100)


def test_file_store_is_content_addressed(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    data = _png()
    digest = inspect_image(data, max_bytes=10_000).sha256
    store.put(data, digest)
    store.put(data, digest)
    assert store.open(digest) == data
    assert len(list(tmp_path.rglob(digest))) == 1


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "Point", "coordinates": [0, 0]},
        {"type": "Polygon", "coordinates": "nope"},
        {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[0, 0], [300, 0], [300, 1], [0, 0]]]},
    ],
)
def test_bad_polygons_are_field_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_polygon(bad, field="geometry")
    assert caught.value.fields[0].field == "geometry"


def test_area_index_returns_outermost_first() -> None:
    outer = IndexedArea("d", "/c/d", "district", 1, parse_polygon(SQUARE))
    inner_geo = {
        "type": "Polygon",
        "coordinates": [[[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5], [0, 0]]],
    }
    inner = IndexedArea("g", "/c/d/g", "grid", 4, parse_polygon(inner_geo))
    index = AreaIndex([inner, outer])
    assert [a.id for a in index.containing(0.25, 0.25)] == ["d", "g"]
    assert [a.id for a in index.containing(0.75, 0.75)] == ["d"]
    assert index.containing(5, 5) == []


class _Ping(Event):
    tag: ClassVar[str] = "test:ping:sent"


def test_bus_delivers_to_every_handler_even_when_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus, seen = Bus(), []

    def broken(event: _Ping) -> None:
        raise RuntimeError("boom")

    bus.subscribe(_Ping, broken)
    bus.subscribe(_Ping, seen.append)
    bus.subscribe_all(seen.append)
    with caplog.at_level(logging.ERROR):
        bus.publish(_Ping())
    assert len(seen) == 2
    assert "test:ping:sent" in caplog.text


def test_scheduler_runs_due_jobs_only() -> None:
    scheduler, runs = Scheduler(), []
    scheduler.every(10, "a", lambda: runs.append("a"))
    assert scheduler.run_due(now=0) == []
    assert scheduler.run_due(now=1e9) == ["a"]
    assert scheduler.run_due(now=1e9 + 1) == []
    assert runs == ["a"]


def test_passwords_and_secrets() -> None:
    hashed = hash_password("s3cret-pass")
    assert verify_password(hashed, "s3cret-pass")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not-a-hash", "s3cret-pass")
    token = new_secret("cot")
    assert token.startswith("cot_")
    assert len(token) > 40
    assert digest_secret(token, "k1") != digest_secret(token, "k2")


def test_frozen_clock_refuses_naive_times_and_moves_on_request() -> None:
    with pytest.raises(ValueError, match="aware"):
        FrozenClock(datetime(2026, 1, 1))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = FrozenClock(start)
    assert clock.advance(hours=2) == start + timedelta(hours=2)
