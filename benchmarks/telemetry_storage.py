"""Telemetry storage: the rollup job's throughput, a week's hourly series from the rollups
against the same series aggregated from the raw readings, and the archive's throughput and
Parquet size per reading.

1. A fresh database (SQLite file; or PostgreSQL with ``--database postgresql``), migrated;
   ``--devices`` devices × 3 metrics × ``--days`` days of readings at one per minute (random
   values), written in bulk (multi-row inserts of 10,000 rows, outside the ingester: its age
   limit would refuse most of them). The clock is frozen at the end of the data + 15 minutes.
2. **rollup**: one run of the rollup job from nothing: readings aggregated per second
   (1-minute buckets from the readings, 1-hour buckets from those).
3. **series-rollup / series-raw**: ``--queries`` series of one random device, its 3 metrics,
   over the last 7 days with a 1-hour step: the planner's answer (the 1-hour rollups, raw
   readings for the newest minutes) against the baseline, the same buckets aggregated from
   the readings (what every query did before the rollups); p50/p99 of each. On PostgreSQL
   the tables are analysed first (as autovacuum would have done).
4. **archive**: the clock moves 8 days ahead and the archive job moves every day of readings
   to Parquet: readings moved per second, and Parquet bytes per reading.

Figures are printed as they come; the last lines hold one JSON object per configuration.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import (
    latency_summary,
    machine_info,
    postgres_facts,
    print_json_line,
    say,
    source_revision,
    throwaway_database,
    throwaway_postgres,
)
from sqlalchemy import func, insert, select

from cityops.core.bus import Bus
from cityops.core.clock import FrozenClock
from cityops.core.config import Settings
from cityops.core.db import Database, create_db_engine
from cityops.core.files import LocalFileStore
from cityops.core.runtime import Runtime
from cityops.devices import telemetry
from cityops.devices.archive import archive_old
from cityops.devices.models import Reading
from cityops.devices.payload import from_ms
from cityops.devices.rollups import DAY_MS, MINUTE_MS, run_rollups
from cityops.migrations import upgrade

METRICS = ("flow", "speed", "occupancy")
CHUNK = 10_000
END_MS = 1_772_409_600_000  # 2026-03-02 00:00 UTC: the data ends there


def runtime(url: str, data_dir: Path) -> Runtime:
    engine = create_db_engine(url)
    upgrade(engine)
    settings = Settings(data_dir=data_dir, database_url=url, run_scheduler=False)
    return Runtime(
        settings=settings,
        db=Database(engine=engine, bus=Bus()),
        clock=FrozenClock(from_ms(END_MS + 15 * MINUTE_MS)),
        files=LocalFileStore(data_dir / "files"),
    )


def generate(rt: Runtime, devices: list[str], days: int) -> int:
    """One sample a minute per device (a value per metric), ``days`` days up to END_MS;
    returns the values written."""
    rng = random.Random(11)
    start = END_MS - days * DAY_MS
    rows: list[dict[str, Any]] = []
    total = 0
    began = time.perf_counter()
    with rt.db.engine.begin() as connection:
        for minute in range(start, END_MS, MINUTE_MS):
            for device in devices:
                offset = rng.randrange(MINUTE_MS)
                values = {metric: rng.random() * 100 for metric in METRICS}
                rows.append({"device_id": device, "ts": minute + offset, "data": values})
            if len(rows) * len(METRICS) >= CHUNK:
                connection.execute(insert(Reading), rows)
                total += len(rows) * len(METRICS)
                rows = []
        if rows:
            connection.execute(insert(Reading), rows)
            total += len(rows) * len(METRICS)
    say(f"  {total:,} readings written in {time.perf_counter() - began:.1f} s")
    return total


def rollup(rt: Runtime, readings: int) -> dict[str, Any]:
    began = time.perf_counter()
    report = run_rollups(rt)
    seconds = time.perf_counter() - began
    result = {
        "configuration": "rollup",
        "readings": readings,
        "seconds": round(seconds, 2),
        "readings_per_s": round(readings / seconds),
        "minute_buckets": report.minute_buckets,
        "hour_buckets": report.hour_buckets,
    }
    say(f"rollup: {result['readings_per_s']:,} readings/s ({seconds:.1f} s)")
    return result


def series(rt: Runtime, devices: list[str], queries: int, *, raw: bool) -> dict[str, Any]:
    """A 7-day, 1-hour-step series of one random device: planned, or all from the readings."""
    rng = random.Random(5)
    until = END_MS + 15 * MINUTE_MS
    since = until - 7 * DAY_MS
    step = 3_600_000
    seconds = []
    buckets = 0
    for _ in range(queries):
        device = rng.choice(devices)
        began = time.perf_counter()
        with rt.db.read() as session:
            if raw:
                plan = [telemetry.Piece("raw", since, until)]
            else:
                plan = telemetry._plan(rt, session, (since, until), step)
            out = telemetry._aggregated(rt, session, device, list(METRICS), plan, step)
        seconds.append(time.perf_counter() - began)
        buckets += sum(len(s.buckets) for s in out)
    name = "series-raw" if raw else "series-rollup"
    result = {
        "configuration": name,
        "queries": queries,
        "buckets_per_query": round(buckets / queries, 1),
        **latency_summary(seconds),
    }
    say(f"{name}: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    return result


def archive(rt: Runtime, readings: int) -> dict[str, Any]:
    assert isinstance(rt.clock, FrozenClock)
    rt.clock.set(rt.clock.now() + timedelta(days=8))
    began = time.perf_counter()
    report = archive_old(rt)
    seconds = time.perf_counter() - began
    size = sum(d.bytes for d in report.days)
    with rt.db.read() as session:
        left = session.scalar(select(func.count()).select_from(Reading))
    result = {
        "configuration": "archive",
        "readings": report.rows,
        "readings_left": left,
        "archived_days": len(report.days),
        "seconds": round(seconds, 2),
        "readings_per_s": round(report.rows / seconds) if seconds else None,
        "parquet_bytes": size,
        "bytes_per_reading": round(size / report.rows, 2) if report.rows else None,
    }
    assert report.rows == readings, (report.rows, readings)
    say(
        f"archive: {result['readings_per_s']:,} readings/s, "
        f"{result['bytes_per_reading']} Parquet bytes per reading"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--devices", type=int)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--queries", type=int)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-port", type=int, default=25433)
    args = parser.parse_args()
    count = args.devices or (200 if args.quick else 2000)
    queries = args.queries or (50 if args.quick else 200)
    facts: dict[str, Any] = {**machine_info(), "revision": source_revision()}
    say(f"telemetry storage benchmark on {facts['cpus']} CPUs, rev {facts['revision']}")
    devices = [f"tc-{i:06d}" for i in range(count)]
    results = []
    with tempfile.TemporaryDirectory(prefix="cityops-storage-bench-") as tmp, ExitStack() as stack:
        if args.database == "postgresql":
            pg = stack.enter_context(throwaway_postgres(args.pg_port))
            url = stack.enter_context(throwaway_database(pg.url))
            facts.update(postgres_facts(url))
        else:
            url = f"sqlite:///{tmp}/cityops.sqlite3"
        rt = runtime(url, Path(tmp) / "data")
        say(f"{count} devices × {len(METRICS)} metrics × {args.days} days, one a minute")
        readings = generate(rt, devices, args.days)
        results.append(rollup(rt, readings))
        if args.database == "postgresql":  # what autovacuum would have done by then
            with rt.db.engine.connect() as connection:
                connection.exec_driver_sql("ANALYZE")
        results.append(series(rt, devices, queries, raw=False))
        results.append(series(rt, devices, queries, raw=True))
        results.append(archive(rt, readings))
        rt.db.engine.dispose()
    setup = {"devices": count, "metrics": len(METRICS), "days": args.days}
    say("")
    for result in results:
        print_json_line(
            {
                "bench": "telemetry_storage",
                **result,
                **setup,
                "database": args.database,
                "quick": args.quick,
                **facts,
            }
        )


if __name__ == "__main__":
    main()
