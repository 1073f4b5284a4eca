"""1-minute and 1-hour rollups of the readings, kept up to date by a periodic job.

Each resolution has a watermark (``devices_rollup_marks``): every bucket before it is
complete. A run aggregates the readings from the 1-minute watermark up to a little before now
(``SETTLE_MS``, so readings still in flight are not cut off) with one ``INSERT … SELECT …
GROUP BY bucket … ON CONFLICT DO UPDATE`` per span, then the 1-hour buckets from the 1-minute
ones. Buckets are always recomputed whole and upserted, never incremented, so a run that is
repeated or cut off half-way changes nothing when run again.

Late readings (stamped more than ``LATE_MS`` before they arrive: a device sending what it
buffered while offline) are noted by the ingester as dirty (device, hour) rows; each run
recomputes those hours' 1-minute and 1-hour buckets from the readings and removes the rows.
Readings on time cannot fall behind the watermark: it trails the clock by more than they may.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cityops.core.runtime import Runtime
from cityops.devices.models import Reading, Rollup1h, Rollup1m, RollupDirty, RollupMark
from cityops.devices.payload import to_ms
from cityops.devices.points import points

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
LATE_MS = 5 * MINUTE_MS
SETTLE_MS = 10 * MINUTE_MS
SPAN_1M_MS = HOUR_MS  # readings aggregated per statement (and per transaction)
SPAN_1H_MS = DAY_MS
DIRTY_BATCH = 500
ROLLUP_1M: Table = Rollup1m.__table__  # type: ignore[assignment]
ROLLUP_1H: Table = Rollup1h.__table__  # type: ignore[assignment]
DIRTY: Table = RollupDirty.__table__  # type: ignore[assignment]
MARKS: Table = RollupMark.__table__  # type: ignore[assignment]


@dataclass
class RollupReport:
    """What a run did: buckets written per resolution, dirty hours recomputed."""

    minute_buckets: int = 0
    hour_buckets: int = 0
    dirty_hours: int = 0
    readings: int = 0


def floor(ts: int, step: int) -> int:
    return ts // step * step


def ceil(ts: int, step: int) -> int:
    return -(-ts // step) * step


def marks(session: Session) -> dict[str, int]:
    """The watermarks: ``{"1m": upto, "1h": upto}`` (absent before the first run)."""
    rows = session.execute(select(RollupMark.resolution, RollupMark.upto))
    return {resolution: int(upto) for resolution, upto in rows}


def dirty_rows(samples: Iterable[tuple[str, int]], late_before: int) -> list[tuple[str, int]]:
    """The dirty (device, hour) rows of a batch's ``(device_id, ts)`` samples that are late:
    stamped before ``late_before`` (``LATE_MS`` before the receive time). The PostgreSQL
    ingest statement computes the same rows in SQL."""
    return sorted({(d, floor(ts, HOUR_MS)) for d, ts in samples if ts < late_before})


def _upsert(session: Session, table: Table, query: Select[Any]) -> int:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    columns = ["device_id", "metric", "bucket", "count", "min", "max", "sum"]
    statement = dialect.insert(table).from_select(columns, query)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["device_id", "metric", "bucket"],
        set_={name: getattr(excluded, name) for name in ("count", "min", "max", "sum")},
    )
    return rowcount(session.execute(statement.execution_options(preserve_rowcount=True)))


def _minutes_query(dialect: str, *where: Any) -> Select[Any]:
    """1-minute aggregates of the values of the samples matching ``where``."""
    values = points(dialect, *where)
    bucket = floor_expr(values.c.ts, MINUTE_MS)
    return select(
        values.c.device_id,
        values.c.metric,
        bucket,
        func.count(),
        func.min(values.c.value),
        func.max(values.c.value),
        func.sum(values.c.value),
    ).group_by(values.c.device_id, values.c.metric, bucket)


def _hours_query(*where: Any) -> Select[Any]:
    bucket = floor_expr(Rollup1m.bucket, HOUR_MS)
    return (
        select(
            Rollup1m.device_id,
            Rollup1m.metric,
            bucket,
            func.sum(Rollup1m.count),
            func.min(Rollup1m.min),
            func.max(Rollup1m.max),
            func.sum(Rollup1m.sum),
        )
        .where(*where)
        .group_by(Rollup1m.device_id, Rollup1m.metric, bucket)
    )


def floor_expr(column: Any, step: int) -> Any:
    """``column // step * step`` in SQL: integer division on both databases (ts ≥ 0)."""
    return (column // step) * step


def _set_mark(session: Session, resolution: str, upto: int) -> None:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(MARKS).values(resolution=resolution, upto=upto)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["resolution"], set_={"upto": statement.excluded.upto}
        )
    )


def lock(session: Session, resolution: str = "1m") -> int | None:
    """The watermark, its row locked for the transaction: runs of the job (and of the
    archive) on several workers take turns instead of writing the same buckets at once."""
    found = session.scalar(
        select(RollupMark.upto).where(RollupMark.resolution == resolution).with_for_update()
    )
    return None if found is None else int(found)


def _start(session: Session, resolution: str, source: Any, step: int) -> int | None:
    current = lock(session, resolution)
    if current is not None:
        return current
    oldest = session.scalar(select(func.min(source)))
    return None if oldest is None else floor(int(oldest), step)


def _next(session: Session, column: Any, start: int, target: int, step: int) -> int:
    """The start of the first bucket at or after ``start`` holding data (``target`` if none)."""
    found = session.scalar(select(func.min(column)).where(column >= start, column < target))
    return target if found is None else floor(int(found), step)


def run_rollups(rt: Runtime, *, upto_ms: int | None = None) -> RollupReport:
    """Bring both rollups up to date (``upto_ms``: stop there instead of a little before now)."""
    report = RollupReport()
    target = floor(upto_ms if upto_ms is not None else to_ms(rt.clock.now()) - SETTLE_MS, MINUTE_MS)
    _dirty(rt, report)
    # 1-minute buckets from the readings, then 1-hour buckets from the 1-minute ones, up to the
    # last whole hour they cover.
    minutes = functools.partial(_minutes_query, rt.db.dialect)
    report.minute_buckets += _roll_up(
        rt, "1m", Reading.ts, MINUTE_MS, SPAN_1M_MS, target, ROLLUP_1M, minutes
    )
    report.hour_buckets += _roll_up(
        rt,
        "1h",
        Rollup1m.bucket,
        HOUR_MS,
        SPAN_1H_MS,
        floor(target, HOUR_MS),
        ROLLUP_1H,
        _hours_query,
    )
    return report


def _roll_up(
    rt: Runtime,
    resolution: str,
    source: Any,
    step: int,
    span: int,
    target: int,
    table: Table,
    query_for: Callable[..., Select[Any]],
) -> int:
    """Aggregate ``source`` into ``table`` up to ``target``, one span per transaction, moving
    the resolution's watermark with each; returns the buckets written."""
    buckets = 0
    while True:
        with rt.db.transaction() as tx:
            start = _start(tx.session, resolution, source, step)
            if start is None or start >= target:
                if start is None:
                    _set_mark(tx.session, resolution, target)
                return buckets
            # Skip a stretch without data (a new city, a gap) in one step.
            start = _next(tx.session, source, start, target, step)
            end = min(start + span, target)
            buckets += _upsert(tx.session, table, query_for(source >= start, source < end))
            _set_mark(tx.session, resolution, end)


def _dirty(rt: Runtime, report: RollupReport) -> None:
    """Recompute the hours that received late readings (behind the watermarks) in batches."""
    while True:
        with rt.db.transaction() as tx:
            session = tx.session
            lock(session)
            current = marks(session)
            rows = session.execute(
                select(RollupDirty.device_id, RollupDirty.hour)
                .order_by(RollupDirty.hour, RollupDirty.device_id)
                .limit(DIRTY_BATCH)
            ).all()
            if not rows:
                return
            # Deleting first: a late reading committed after this point marks its hour again.
            for device_id, hour in rows:
                session.execute(
                    delete(RollupDirty).where(
                        RollupDirty.device_id == device_id, RollupDirty.hour == hour
                    )
                )
            report.dirty_hours += len(rows)
            by_hour: dict[int, list[str]] = {}
            for device_id, hour in rows:
                by_hour.setdefault(hour, []).append(device_id)
            for hour, devices in by_hour.items():
                if hour >= current.get("1m", 0):
                    continue  # ahead of the watermark: the next span covers it
                end = min(hour + HOUR_MS, current["1m"])
                in_hour = and_(Reading.device_id.in_(devices), Reading.ts >= hour, Reading.ts < end)
                minutes = _minutes_query(rt.db.dialect, in_hour)
                report.minute_buckets += _upsert(session, ROLLUP_1M, minutes)
                if hour < current.get("1h", 0):
                    report.hour_buckets += _upsert(
                        session,
                        ROLLUP_1H,
                        _hours_query(
                            Rollup1m.device_id.in_(devices),
                            Rollup1m.bucket >= hour,
                            Rollup1m.bucket < hour + HOUR_MS,
                        ),
                    )


def drop_expired_minutes(rt: Runtime) -> int:
    """Delete 1-minute rollups older than the retention (and already in the 1-hour ones)."""
    cutoff = floor(to_ms(rt.clock.now()) - rt.settings.telemetry_rollup_1m_days * DAY_MS, DAY_MS)
    with rt.db.transaction() as tx:
        cutoff = min(cutoff, marks(tx.session).get("1h", 0))
        result = tx.session.execute(delete(Rollup1m).where(Rollup1m.bucket < cutoff))
        return rowcount(result)


def rowcount(result: Any) -> int:
    """Rows an INSERT/UPDATE/DELETE touched (a cursor result's ``rowcount``)."""
    return int(result.rowcount or 0)
