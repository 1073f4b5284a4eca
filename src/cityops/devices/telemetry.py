"""Reading telemetry: a device's series (raw or per step), latest values of many devices."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.core.auth import Actor
from cityops.core.errors import invalid
from cityops.core.pagination import Page, PageParams, paginate
from cityops.core.runtime import Runtime
from cityops.devices.access import scope_devices
from cityops.devices.directory import TypeInfo, device_types
from cityops.devices.health import brief
from cityops.devices.models import Device, LatestValue, Reading
from cityops.devices.payload import from_ms, to_ms
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
        raise invalid("step", f"more than {MAX_BUCKETS} steps in the range", "too_many_buckets")
    return since, until


def _metrics(kind: TypeInfo, wanted: list[str]) -> list[str]:
    if len(wanted) > MAX_METRICS:
        raise invalid("metric", f"at most {MAX_METRICS} metrics per query", "too_many")
    for code in wanted:
        if code not in kind.metrics:
            raise invalid("metric", f"{kind.code} has no metric {code!r}", "unknown_metric")
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
    own metrics over the last 24 hours."""
    step_seconds = parse_step(step)
    since, until = _window(since, until, step_seconds, rt.clock.now())
    with rt.db.read() as session:
        device = readable_device(session, actor, device_id)
        kind = device_types(session)[device.type_code]
        codes = _metrics(kind, metrics)
        bounds = (to_ms(since), to_ms(until))
        if step_seconds is None:
            series = [_raw(session, device.id, code, bounds) for code in codes]
        else:
            series = _aggregated(session, device.id, codes, bounds, step_seconds * 1000)
    for item in series:
        item.unit = kind.metrics[item.metric].unit
    return TelemetryOut(
        device_id=device_id, since=since, until=until, step_seconds=step_seconds, series=series
    )


def _raw(session: Session, device_id: str, metric: str, bounds: tuple[int, int]) -> Series:
    rows = session.execute(
        select(Reading.ts, Reading.value)
        .where(
            Reading.device_id == device_id,
            Reading.metric == metric,
            Reading.ts >= bounds[0],
            Reading.ts < bounds[1],
        )
        .order_by(Reading.ts)
        .limit(MAX_POINTS + 1)
    ).all()
    points = [ValuePoint(ts=from_ms(ts), value=value) for ts, value in rows[:MAX_POINTS]]
    return Series(metric=metric, unit="", points=points, truncated=len(rows) > MAX_POINTS)


def _aggregated(
    session: Session, device_id: str, metrics: list[str], bounds: tuple[int, int], step_ms: int
) -> list[Series]:
    # Buckets are aligned to the epoch (whole minutes, hours, UTC days).
    bucket = (Reading.ts // step_ms) * step_ms
    rows = session.execute(
        select(
            Reading.metric,
            bucket.label("bucket"),
            func.avg(Reading.value),
            func.min(Reading.value),
            func.max(Reading.value),
            func.count(),
        )
        .where(
            Reading.device_id == device_id,
            Reading.metric.in_(metrics),
            Reading.ts >= bounds[0],
            Reading.ts < bounds[1],
        )
        .group_by(Reading.metric, bucket)
        .order_by(Reading.metric, bucket)
    ).all()
    buckets: dict[str, list[Bucket]] = defaultdict(list)
    for metric, start, avg, low, high, count in rows:
        buckets[metric].append(
            Bucket(ts=from_ms(int(start)), avg=float(avg), min=low, max=high, count=count)
        )
    return [Series(metric=m, unit="", buckets=buckets.get(m, [])) for m in metrics]


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
        raise invalid("device_id", f"at most {MAX_LATEST_IDS} devices per call", "too_many")
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
                values[row.device_id][row.metric] = LatestValueOut(
                    value=row.value, ts=from_ms(row.ts)
                )
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
