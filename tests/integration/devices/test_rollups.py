"""1-minute and 1-hour rollups: equal to the raw aggregates, idempotent, late readings
picked up, and the series API answering from them for whole-minute and whole-hour steps."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from cityops.core.runtime import Runtime
from cityops.devices import service
from cityops.devices.models import Reading, Rollup1h, Rollup1m, RollupDirty, RollupMark
from cityops.devices.payload import from_ms, to_ms
from cityops.devices.points import sample_rows
from cityops.devices.rollups import HOUR_MS, MINUTE_MS, run_rollups
from cityops.devices.tasks import register_jobs
from factories.api import Api
from factories.devices import make_device, send

ActorFn = Callable[[str], Any]
DEVICES = ("aq-000001", "aq-000002")


def iso(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")


def readings(rt: Runtime, hours: int, *, seed: int = 3, end: int | None = None) -> list[Any]:
    """``hours`` of pm25 and no2 of two devices at random times (every ~40 s), stored
    directly; returns the rows (device, metric, ts, value)."""
    end = end if end is not None else to_ms(rt.clock.now())
    rng = random.Random(seed)
    rows = []
    for device in DEVICES:
        for metric in ("pm25", "no2"):
            ts = end - hours * HOUR_MS
            while True:
                ts += rng.randint(5_000, 75_000)
                if ts >= end:
                    break
                rows.append((device, metric, ts, round(rng.uniform(-20, 300), 3)))
    store(rt, rows)
    return rows


def store(rt: Runtime, rows: list[Any]) -> None:
    """Readings written as they are (past the ingester's age limit)."""
    with rt.db.transaction() as tx:
        tx.session.execute(insert(Reading), sample_rows(rows))


def expected(rows: list[Any], step: int, upto: int) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    groups: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for device, metric, ts, value in rows:
        if ts < upto:
            groups[(device, metric, ts // step * step)].append(value)
    return {k: (len(v), min(v), max(v), sum(v)) for k, v in groups.items()}


def stored(rt: Runtime, table: Any) -> dict[tuple[str, str, int], tuple[Any, ...]]:
    with rt.db.read() as session:
        rows = session.execute(
            select(table.device_id, table.metric, table.bucket, table.count)
            .add_columns(table.min, table.max, table.sum)
            .order_by(table.device_id, table.metric, table.bucket)
        ).all()
    return {(d, m, b): (c, lo, hi, s) for d, m, b, c, lo, hi, s in rows}


def assert_same(
    got: dict[tuple[str, str, int], tuple[Any, ...]],
    want: dict[tuple[str, str, int], tuple[Any, ...]],
) -> None:
    assert got.keys() == want.keys()
    for key, (count, low, high, total) in want.items():
        assert got[key][:3] == (count, low, high), key
        assert got[key][3] == pytest.approx(total), key


def marks(rt: Runtime) -> dict[str, int]:
    with rt.db.read() as session:
        return dict(session.execute(select(RollupMark.resolution, RollupMark.upto)).all())  # type: ignore[arg-type]


def test_rollups_equal_the_raw_aggregates(rt: Runtime) -> None:
    rows = readings(rt, 5)
    report = run_rollups(rt)
    now = to_ms(rt.clock.now())
    upto = marks(rt)
    assert upto["1m"] == (now - 10 * MINUTE_MS) // MINUTE_MS * MINUTE_MS
    assert upto["1h"] == upto["1m"] // HOUR_MS * HOUR_MS
    assert_same(stored(rt, Rollup1m), expected(rows, MINUTE_MS, upto["1m"]))
    assert_same(stored(rt, Rollup1h), expected(rows, HOUR_MS, upto["1h"]))
    assert report.minute_buckets == len(expected(rows, MINUTE_MS, upto["1m"]))


def test_running_again_changes_nothing(rt: Runtime) -> None:
    readings(rt, 3)
    run_rollups(rt)
    minutes, hours, upto = stored(rt, Rollup1m), stored(rt, Rollup1h), marks(rt)
    again = run_rollups(rt)
    assert (again.minute_buckets, again.hour_buckets) == (0, 0)
    # A run cut off after its writes but before its watermarks: the same spans again.
    with rt.db.transaction() as tx:
        tx.session.execute(delete(RollupMark))
    run_rollups(rt)
    assert stored(rt, Rollup1m) == minutes
    assert stored(rt, Rollup1h) == hours
    assert marks(rt) == upto


def test_a_late_reading_updates_its_buckets(rt: Runtime, actor: ActorFn) -> None:
    make_device(rt, actor, "aq-000001")
    rows = readings(rt, 3)
    run_rollups(rt)
    now = to_ms(rt.clock.now())
    late = now - 2 * HOUR_MS - 17 * MINUTE_MS + 123  # a buffered reading, sent now
    assert send(rt, "aq-000001", {"ts": iso(late), "values": {"pm25": 999.5}}).accepted == 1
    with rt.db.read() as session:
        dirty = session.execute(select(RollupDirty.device_id, RollupDirty.hour)).all()
    assert [tuple(d) for d in dirty] == [("aq-000001", late // HOUR_MS * HOUR_MS)]
    report = run_rollups(rt)
    assert report.dirty_hours == 1
    rows.append(("aq-000001", "pm25", late, 999.5))
    upto = marks(rt)
    minutes, hours = stored(rt, Rollup1m), stored(rt, Rollup1h)
    assert_same(minutes, expected(rows, MINUTE_MS, upto["1m"]))
    assert_same(hours, expected(rows, HOUR_MS, upto["1h"]))
    assert minutes[("aq-000001", "pm25", late // MINUTE_MS * MINUTE_MS)][2] == 999.5
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(RollupDirty)) == 0


def test_a_batch_marks_each_late_hour_of_each_device_once(rt: Runtime, actor: ActorFn) -> None:
    for device in DEVICES:
        make_device(rt, actor, device)
    now = to_ms(rt.clock.now())
    hour = (now - 3 * HOUR_MS) // HOUR_MS * HOUR_MS  # a whole hour, three hours back
    stamps = {
        "aq-000001": [hour, hour + 59 * MINUTE_MS, hour + HOUR_MS - 1, hour + HOUR_MS],
        "aq-000002": [hour - 1, now - 60_000],  # the last one on time
    }
    messages = [
        (device, json.dumps({"ts": ts, "values": {"pm25": 7}}).encode(), from_ms(now))
        for device, times in stamps.items()
        for ts in times
    ]
    assert service.ingest_batch(rt, messages).accepted == 6
    with rt.db.read() as session:
        rows = session.execute(select(RollupDirty.device_id, RollupDirty.hour))
        dirty = {(d, h) for d, h in rows}
    assert dirty == {
        ("aq-000001", hour),
        ("aq-000001", hour + HOUR_MS),
        ("aq-000002", hour - HOUR_MS),
    }


def test_readings_on_time_mark_nothing_dirty(rt: Runtime, actor: ActorFn) -> None:
    make_device(rt, actor, "aq-000001")
    now = to_ms(rt.clock.now())
    assert send(rt, "aq-000001", {"ts": iso(now - 60_000), "values": {"pm25": 5}}).accepted == 1
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(RollupDirty)) == 0


def series(api: Api, since: int, until: int, step: str) -> list[dict[str, Any]]:
    response = api.get(
        "operator",
        "/api/v1/devices/aq-000001/telemetry",
        metric=["pm25", "no2"],
        since=iso(since),
        until=iso(until),
        step=step,
    )
    assert response.status_code == 200, response.text
    return [s["buckets"] for s in response.json()["series"]]


def assert_same_series(got: list[list[Any]], want: list[list[Any]]) -> None:
    assert len(got) == len(want)
    for got_buckets, want_buckets in zip(got, want, strict=True):
        key = ("ts", "count", "min", "max")
        assert [[b[k] for k in key] for b in got_buckets] == [
            [b[k] for k in key] for b in want_buckets
        ]
        for g, w in zip(got_buckets, want_buckets, strict=True):
            assert g["avg"] == pytest.approx(w["avg"])


@pytest.mark.parametrize("step", ["1h", "5m", "1m", "2h"])
def test_series_from_rollups_equals_series_from_readings(
    rt: Runtime, actor: ActorFn, api: Api, step: str
) -> None:
    make_device(rt, actor, "aq-000001")
    readings(rt, 30)
    now = to_ms(rt.clock.now())
    # An unaligned range reaching past the watermarks: rollups, edges and the newest minutes.
    since, until = now - 26 * HOUR_MS - 7 * MINUTE_MS - 4_321, now
    from_readings = series(api, since, until, step)
    assert sum(b["count"] for b in from_readings[0]) > 1000
    run_rollups(rt)
    assert_same_series(series(api, since, until, step), from_readings)


def test_series_picks_rollups_for_an_hour_step_and_readings_for_ten_seconds(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    rows = readings(rt, 4)
    run_rollups(rt)
    now = to_ms(rt.clock.now())
    since = now // HOUR_MS * HOUR_MS - 3 * HOUR_MS
    until = since + HOUR_MS
    in_hour = [r for r in rows if r[0] == "aq-000001" and r[1] == "pm25" and since <= r[2] < until]
    # Mark the rollup so that its answers can be told from the readings'.
    with rt.db.transaction() as tx:
        tx.session.execute(
            update(Rollup1h)
            .where(Rollup1h.device_id == "aq-000001", Rollup1h.bucket == since)
            .values(count=Rollup1h.count + 1000)
        )
    hourly = series(api, since, until, "1h")[0]
    assert [b["count"] for b in hourly] == [len(in_hour) + 1000]
    ten_seconds = series(api, since, until, "10s")[0]
    assert sum(b["count"] for b in ten_seconds) == len(in_hour)
    minutes = series(api, since, until, "1m")[0]
    assert sum(b["count"] for b in minutes) == len(in_hour)


def test_the_jobs_are_scheduled_and_run(rt: Runtime) -> None:
    rows = readings(rt, 2)
    register_jobs(rt)
    ran = rt.scheduler.run_due(now=10**12)
    assert {"devices.rollups", "devices.archive", "devices.partitions"} <= set(ran)
    upto = marks(rt)
    assert_same(stored(rt, Rollup1m), expected(rows, MINUTE_MS, upto["1m"]))
