"""Raw readings older than the hot window, moved from the database to Parquet files.

Layout: ``{data_dir}/archive/telemetry/day=YYYY-MM-DD/part-<first ts>-<last ts>-<rows>.parquet``
(UTC days, like the aggregation buckets), columns device_id, metric, ts (epoch ms), value (a
row per value: the samples expanded), sorted by device, time and metric (the readings' key
order), zstd-compressed, in row groups of ``ROW_GROUP`` rows so a filtered read skips most of
a file by its statistics.

A day is moved only when it is wholly before the hot window, before the 1-minute rollups'
watermark (its rollups are complete) and before the ingester's age limit (no reading can
still arrive for it). Its rows are streamed from the database into a temporary file, which
is fsynced and renamed (and its folder fsynced) before the same transaction deletes the
rows: a crash leaves either the rows or the file, never neither. A file's name is made of
what it holds, so a run repeated after a crash between the rename and the commit rewrites
the same file rather than adding a second copy.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import delete, func, select

from cityops.core.audit.service import record
from cityops.core.auth import SYSTEM, Actor
from cityops.core.runtime import Runtime
from cityops.devices import events, rollups
from cityops.devices.models import Reading
from cityops.devices.payload import from_ms, to_ms
from cityops.devices.points import points
from cityops.devices.rollups import DAY_MS, HOUR_MS, floor

ROW_GROUP = 128 * 1024
FETCH = 50_000
SCHEMA = pa.schema(
    [
        ("device_id", pa.string()),
        ("metric", pa.string()),
        ("ts", pa.int64()),
        ("value", pa.float64()),
    ]
)


@dataclass
class ArchivedDay:
    day: date
    rows: int
    path: Path
    bytes: int


@dataclass
class ArchiveReport:
    """What a run moved (per day), and the 1-minute rollups it dropped."""

    before: date
    days: list[ArchivedDay] = field(default_factory=list)
    expired_minute_rollups: int = 0

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.days)


def archive_root(rt: Runtime) -> Path:
    return rt.settings.data_dir / "archive" / "telemetry"


def day_dir(root: Path, day: date) -> Path:
    return root / f"day={day.isoformat()}"


def _day_of(ts: int) -> date:
    return from_ms(ts).date()


def _ms_of(day: date) -> int:
    return to_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))


def cutoff(rt: Runtime, before: date | None = None) -> int:
    """The first millisecond not to archive: a UTC midnight, no later than the hot window,
    the ingester's age limit and the 1-minute rollups' watermark allow."""
    now = to_ms(rt.clock.now())
    limit = now - rt.settings.telemetry_hot_days * DAY_MS
    limit = min(limit, now - int(rt.settings.telemetry_max_age_hours * HOUR_MS))
    if before is not None:
        limit = min(limit, _ms_of(before))
    with rt.db.read() as session:
        limit = min(limit, rollups.marks(session).get("1m", 0))
    return floor(limit, DAY_MS)


def archive_old(rt: Runtime, *, before: date | None = None, actor: Actor = SYSTEM) -> ArchiveReport:
    """Bring the rollups up to date, move every whole day of readings before the cutoff to
    Parquet (one transaction per day, audited), and drop expired 1-minute rollups."""
    rollups.run_rollups(rt)
    end = cutoff(rt, before)
    report = ArchiveReport(before=_day_of(end))
    root = archive_root(rt)
    while True:
        with rt.db.transaction() as tx:
            session = tx.session
            rollups.lock(session)  # one archiver at a time; the query below sees its deletes
            oldest = session.scalar(select(func.min(Reading.ts)).where(Reading.ts < end))
            if oldest is None:
                break
            start = floor(int(oldest), DAY_MS)
            stop = min(start + DAY_MS, end)
            where = (Reading.ts >= start, Reading.ts < stop)
            folder = day_dir(root, _day_of(start))
            folder.mkdir(parents=True, exist_ok=True)
            samples = session.scalar(select(func.count()).select_from(Reading).where(*where))
            values = points(rt.db.dialect, *where)
            rows = session.execute(
                select(values.c.device_id, values.c.metric, values.c.ts, values.c.value)
                .order_by(values.c.device_id, values.c.ts, values.c.metric)
                .execution_options(yield_per=FETCH)
            )
            try:
                path, count = _write_day(folder, rows.partitions(FETCH))
            finally:
                rows.close()
            deleted = rollups.rowcount(session.execute(delete(Reading).where(*where)))
            if deleted != samples:  # something changed under us: keep the rows, drop the file
                path.unlink()
                raise RuntimeError(
                    f"archive of {_day_of(start)}: read {samples} samples, deleted {deleted}"
                )
            moved = ArchivedDay(_day_of(start), count, path, path.stat().st_size)
            record(
                session,
                actor=actor,
                action=events.TELEMETRY_ARCHIVED,
                subject_type="telemetry_day",
                subject_id=moved.day.isoformat(),
                at=rt.clock.now(),
                after={"readings": count, "bytes": moved.bytes, "file": str(path)},
            )
            report.days.append(moved)
    report.expired_minute_rollups = rollups.drop_expired_minutes(rt)
    return report


def _write_day(folder: Path, chunks: Iterator[Any]) -> tuple[Path, int]:
    temp = folder / f".part-{os.getpid()}.parquet.tmp"
    count, first, last = 0, None, None
    try:
        with pq.ParquetWriter(temp, SCHEMA, compression="zstd") as writer:
            for chunk in chunks:
                device_ids, metrics, times, values = zip(*chunk, strict=True)
                table = pa.table(
                    [list(device_ids), list(metrics), list(times), list(values)], schema=SCHEMA
                )
                writer.write_table(table, row_group_size=ROW_GROUP)
                first = min(times) if first is None else min(first, *times)
                last = max(times) if last is None else max(last, *times)
                count += len(times)
        _fsync(temp)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    path = folder / f"part-{first}-{last}-{count}.parquet"
    os.replace(temp, path)
    _fsync(folder)
    return path, count


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _files(rt: Runtime, start: int, stop: int) -> list[str]:
    root = archive_root(rt)
    if not root.is_dir():
        return []
    found = []
    day = _day_of(start)
    while _ms_of(day) < stop:
        folder = day_dir(root, day)
        if folder.is_dir():
            found += sorted(str(p) for p in folder.glob("part-*.parquet"))
        day += timedelta(days=1)
    return found


def _scan(rt: Runtime, device_id: str, metrics: list[str], bounds: tuple[int, int]) -> pa.Table:
    files = _files(rt, *bounds)
    if not files:
        return SCHEMA.empty_table()
    dataset = ds.dataset(files, schema=SCHEMA, format="parquet")
    where = (
        (pc.field("device_id") == device_id)
        & pc.field("metric").isin(metrics)
        & (pc.field("ts") >= bounds[0])
        & (pc.field("ts") < bounds[1])
    )
    return dataset.to_table(columns=["metric", "ts", "value"], filter=where)


def archived_points(
    rt: Runtime, device_id: str, metric: str, bounds: tuple[int, int]
) -> list[tuple[int, float]]:
    """The archived readings of one device's metric in [since, until) ms, oldest first."""
    table = _scan(rt, device_id, [metric], bounds).sort_by("ts")
    return list(zip(table.column("ts").to_pylist(), table.column("value").to_pylist(), strict=True))


def archived_buckets(
    rt: Runtime, device_id: str, metrics: list[str], bounds: tuple[int, int], step_ms: int
) -> list[tuple[str, int, int, float, float, float]]:
    """Per-step (metric, bucket, count, min, max, sum) of the archived readings in range."""
    table = _scan(rt, device_id, metrics, bounds)
    if table.num_rows == 0:
        return []
    buckets = pc.multiply(pc.divide(table.column("ts"), step_ms), step_ms)
    table = table.append_column("bucket", buckets)
    grouped = table.group_by(["metric", "bucket"]).aggregate(
        [("value", "count"), ("value", "min"), ("value", "max"), ("value", "sum")]
    )
    columns = [
        grouped.column(name).to_pylist()
        for name in ("metric", "bucket", "value_count", "value_min", "value_max", "value_sum")
    ]
    return list(zip(*columns, strict=True))
