"""Reading telemetry: a device's series (raw or per step), latest values of many devices."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.core.auth import Actor
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.pagination import Page, PageParams, paginate
from cityops.core.runtime import Runtime
from cityops.devices import archive, rollups
from cityops.devices.access import scope_devices
from cityops.devices.directory import TypeInfo, device_types
from cityops.devices.health import brief
from cityops.devices.models import Device, LatestValue, Reading, Rollup1h, Rollup1m
from cityops.devices.payload import from_ms, to_ms
from cityops.devices.points import points, value_of
from cityops.devices.registry import filter_devices, readable_device
from cityops.devices.schemas import (
    Bucket,
    DeviceFilter,
    LatestOut,
    LatestValueOut,
    Series,
    TelemetryOut,
    ValuePoint,
)
from cityops.org.roles import Perm

MAX_POINTS = 10_000
MAX_BUCKETS = 10_000
MAX_RAW_RANGE = timedelta(days=31)
MAX_RANGE = timedelta(days=400)
MAX_METRICS = 20
MAX_LATEST_IDS = 500
DEFAULT_RANGE = timedelta(hours=24)
_STEP = re.compile(r"^(\d{1,7})([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400}


def parse_step(text: str | None) -> int | None:
    """Seconds of a step like ``300``, ``5m``, ``1h`` or ``1d`` (10 s to 31 days); None: raw."""
    if text is None or text == "":
        return None
    match = _STEP.match(text.strip())
    if match is None:
        raise invalid("step", "use seconds or a number with s, m, h or d (e.g. 5m, 1h)")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not 10 <= seconds <= 31 * 86_400:
        raise invalid("step", "must be from 10 seconds to 31 days", "out_of_range")
    return seconds


def _window(
    since: datetime | None, until: datetime | None, step: int | None, now: datetime
) -> tuple[datetime, datetime]:
    until = until or now
    since = since or until - DEFAULT_RANGE
    if since >= until:
        raise invalid("since", "must be before until", "out_of_range")
    span = until - since
    if step is None and span > MAX_RAW_RANGE:
        raise invalid("until", "raw readings cover at most 31 days; give a step", "out_of_range")
    if span > MAX_RANGE:
        raise invalid("until", "a query covers at most 400 days", "out_of_range")
    if step is not None and span.total_seconds() / step > MAX_BUCKETS:
        raise invalid(
            "step",
            text("more than {limit} steps in the range", limit=MAX_BUCKETS),
            "too_many_buckets",
        )
    return since, until


def _metrics(kind: TypeInfo, wanted: list[str]) -> list[str]:
    if len(wanted) > MAX_METRICS:
        raise invalid(
            "metric", text("at most {limit} metrics per query", limit=MAX_METRICS), "too_many"
        )
    for code in wanted:
        if code not in kind.metrics:
            raise invalid(
                "metric",
                text("{type} has no metric {code!r}", type=kind.code, code=code),
                "unknown_metric",
            )
    return wanted or [code for code in kind.metrics if code not in kind.common]


def device_series(
    rt: Runtime,
    *,
    actor: Actor,
    device_id: str,
    metrics: list[str],
    since: datetime | None = None,
    until: datetime | None = None,
    step: str | None = None,
) -> TelemetryOut:
    """Readings of one device in [since, until): raw (at most 10,000 points per metric, oldest
    first, ``truncated`` beyond) or per ``step`` with avg/min/max/count. Defaults: the type's
    own metrics over the last 24 hours.

    Raw readings come from the database and, for days moved out of it, the Parquet archive.
    Steps of whole hours read the 1-hour rollups, steps of whole minutes the 1-minute ones,
    wherever those are complete (before their watermark, within the 1-minute retention); the
    rest of the range (its unaligned edges, the newest minutes, steps under a minute) is
    aggregated from the readings. The answer is the same whichever source gives it."""
    step_seconds = parse_step(step)
    since, until = _window(since, until, step_seconds, rt.clock.now())
    with rt.db.read() as session:
        device = readable_device(session, actor, device_id)
        kind = device_types(session)[device.type_code]
        codes = _metrics(kind, metrics)
        bounds = (to_ms(since), to_ms(until))
        if step_seconds is None:
            series = [_raw(rt, session, device.id, code, bounds) for code in codes]
        else:
            plan = _plan(rt, session, bounds, step_seconds * 1000)
            series = _aggregated(rt, session, device.id, codes, plan, step_seconds * 1000)
    for item in series:
        item.unit = kind.metrics[item.metric].unit
    return TelemetryOut(
        device_id=device_id, since=since, until=until, step_seconds=step_seconds, series=series
    )


def _raw(
    rt: Runtime, session: Session, device_id: str, metric: str, bounds: tuple[int, int]
) -> Series:
    value = value_of(metric)
    rows = session.execute(
        select(Reading.ts, value)
        .where(
            Reading.device_id == device_id,
            Reading.ts >= bounds[0],
            Reading.ts < bounds[1],
            value.is_not(None),
        )
        .order_by(Reading.ts)
        .limit(MAX_POINTS + 1)
    ).all()
    found: list[tuple[int, float]] = [(ts, value) for ts, value in rows]
    if _archive_may_hold(rt, session, bounds):
        stored = {ts for ts, _ in found}
        found += [
            p for p in archive.archived_points(rt, device_id, metric, bounds) if p[0] not in stored
        ]
        found.sort()
    points = [ValuePoint(ts=from_ms(ts), value=value) for ts, value in found[:MAX_POINTS]]
    return Series(metric=metric, unit="", points=points, truncated=len(found) > MAX_POINTS)


def _archive_may_hold(rt: Runtime, session: Session, bounds: tuple[int, int]) -> bool:
    """Whether readings in range may have been archived: only before the rollups' watermark."""
    return bounds[0] < rollups.marks(session).get("1m", 0) and archive.archive_root(rt).is_dir()


class Piece(NamedTuple):
    """A part of a query range and where its aggregates come from ("raw", "1m", "1h")."""

    source: str
    start: int
    end: int


def _plan(rt: Runtime, session: Session, bounds: tuple[int, int], step_ms: int) -> list[Piece]:
    """Split [since, until) into pieces answered by the coarsest complete source the step
    allows; what a source cannot answer goes to the next finer one, down to the readings."""
    marks = rollups.marks(session)
    now = to_ms(rt.clock.now())
    minute_low = rollups.ceil(
        now - rt.settings.telemetry_rollup_1m_days * rollups.DAY_MS, rollups.DAY_MS
    )
    levels: list[tuple[str, int, int, int]] = []  # source, resolution, low, high
    if step_ms % rollups.MINUTE_MS == 0:
        levels.append(("1m", rollups.MINUTE_MS, minute_low, marks.get("1m", 0)))
    if step_ms % rollups.HOUR_MS == 0:
        levels.append(("1h", rollups.HOUR_MS, 0, marks.get("1h", 0)))

    def split(start: int, end: int, level: int) -> list[Piece]:
        if start >= end:
            return []
        if level < 0:
            return [Piece("raw", start, end)]
        source, resolution, low, high = levels[level]
        a = max(rollups.ceil(start, resolution), low)
        b = min(rollups.floor(end, resolution), high)
        if a >= b:
            return split(start, end, level - 1)
        return [*split(start, a, level - 1), Piece(source, a, b), *split(b, end, level - 1)]

    return split(bounds[0], bounds[1], len(levels) - 1)


Partial = tuple[str, int, int, float, float, float]  # metric, bucket, count, min, max, sum


def _aggregated(
    rt: Runtime,
    session: Session,
    device_id: str,
    metrics: list[str],
    plan: list[Piece],
    step_ms: int,
) -> list[Series]:
    # Buckets are aligned to the epoch (whole minutes, hours, UTC days); each piece gives
    # partial aggregates per bucket, merged here (a bucket may span two pieces).
    merged: dict[tuple[str, int], list[float]] = {}  # count, min, max, sum
    for piece in plan:
        for metric, start, count, low, high, total in _partials(
            rt, session, device_id, metrics, piece, step_ms
        ):
            key = (metric, int(start))
            if key in merged:
                m = merged[key]
                m[0] += count
                m[1], m[2], m[3] = min(m[1], low), max(m[2], high), m[3] + total
            else:
                merged[key] = [float(count), low, high, total]
    buckets: dict[str, list[Bucket]] = defaultdict(list)
    for (metric, start), (n, low, high, total) in sorted(merged.items()):
        buckets[metric].append(
            Bucket(ts=from_ms(start), avg=total / n, min=low, max=high, count=int(n))
        )
    return [Series(metric=m, unit="", buckets=buckets.get(m, [])) for m in metrics]


def _partials(
    rt: Runtime,
    session: Session,
    device_id: str,
    metrics: list[str],
    piece: Piece,
    step_ms: int,
) -> list[Partial]:
    span = (piece.start, piece.end)
    if piece.source == "raw":
        table: Any = points(
            rt.db.dialect,
            Reading.device_id == device_id,
            Reading.ts >= span[0],
            Reading.ts < span[1],
        ).c
        time: Any
        count: Any
        time, count, low, high, total = (
            table.ts,
            func.count(),
            func.min(table.value),
            func.max(table.value),
            func.sum(table.value),
        )
    else:
        table = Rollup1m if piece.source == "1m" else Rollup1h
        time, count, low, high, total = (
            table.bucket,
            func.sum(table.count),
            func.min(table.min),
            func.max(table.max),
            func.sum(table.sum),
        )
    bucket = (time // step_ms) * step_ms
    rows = session.execute(
        select(table.metric, bucket, count, low, high, total)
        .where(
            table.device_id == device_id,
            table.metric.in_(metrics),
            time >= span[0],
            time < span[1],
        )
        .group_by(table.metric, bucket)
    ).all()
    found: list[Partial] = [
        (m, int(b), int(c), float(lo), float(hi), float(t)) for m, b, c, lo, hi, t in rows
    ]
    if piece.source == "raw" and _archive_may_hold(rt, session, span):
        found += archive.archived_buckets(rt, device_id, metrics, span, step_ms)
    return found


def latest_values(
    rt: Runtime,
    *,
    actor: Actor,
    device_ids: list[str],
    filters: DeviceFilter,
    params: PageParams,
) -> Page[LatestOut]:
    """Latest values of many devices: those named (up to 500; unknown or unseen ones are left
    out), or one page of the devices matching the filters."""
    actor.require(Perm.devices_read)
    if len(device_ids) > MAX_LATEST_IDS:
        raise invalid(
            "device_id", text("at most {limit} devices per call", limit=MAX_LATEST_IDS), "too_many"
        )
    now = rt.clock.now()
    with rt.db.read() as session:
        query = filter_devices(session, scope_devices(select(Device), actor), filters, now)
        if device_ids:
            query = query.where(Device.id.in_(device_ids)).order_by(Device.id)
            devices: list[Any] = list(session.scalars(query))
            total, params = len(devices), PageParams(page=1, page_size=max(len(devices), 1))
        else:
            rows, total = paginate(session, query.order_by(Device.id), params)
            devices = list(rows)
        values: dict[str, dict[str, LatestValueOut]] = defaultdict(dict)
        if devices:
            latest = session.execute(
                select(LatestValue).where(LatestValue.device_id.in_([d.id for d in devices]))
            ).scalars()
            for row in latest:
                values[row.device_id] = {
                    metric: LatestValueOut(value=value, ts=from_ms(int(ts)))
                    for metric, (ts, value) in sorted(row.data.items())
                }
        items = [
            LatestOut(
                device_id=d.id,
                type=d.type_code,
                status=d.status,
                health=brief(d.last_seen_at, d.offline_after, now),
                values=values.get(d.id, {}),
            )
            for d in devices
        ]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)
