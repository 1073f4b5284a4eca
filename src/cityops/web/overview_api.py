"""Routes of the command screen's aggregates (一屏观览): map points, the trend, the ranking,
and the device layer (devices with their health and open alarms)."""

from __future__ import annotations

import gzip
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from cityops.alarms import service as alarms
from cityops.cases.overview import (
    MapPoints,
    Performance,
    Trend,
    case_trend,
    map_points,
    performance,
)
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter, DeviceTypeRef
from cityops.org.roles import Perm
from cityops.web.deps import CurrentActor, RuntimeDep

router = APIRouter(prefix="/api/v1/overview", tags=["overview"])


@router.get("/points", response_model=MapPoints)
def points(
    rt: RuntimeDep,
    actor: CurrentActor,
    closed_days: Annotated[int, Query(ge=0, le=30)] = 3,
    limit: Annotated[int, Query(ge=1, le=200_000)] = 50_000,
) -> MapPoints:
    """Open cases and those closed in the last ``closed_days`` days as compact rows
    ``[number, lon, lat, kind]`` (needs ``cases.read`` and ``kpi.read``)."""
    return map_points(rt, actor=actor, closed_days=closed_days, limit=limit)


@router.get("/trend", response_model=Trend)
def trend(
    rt: RuntimeDep,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=90)] = 14,
    top: Annotated[int, Query(ge=1, le=12)] = 5,
) -> Trend:
    """Cases reported per day (China Standard Time) by top-level category."""
    return case_trend(rt, actor=actor, days=days, top=top)


@router.get("/performance", response_model=Performance)
def on_time(
    rt: RuntimeDep,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Performance:
    """On-time rate and satisfaction of the last ``days`` days, in total and per department
    (the figures of ``GET /api/v1/kpi``, in one cheap aggregate for the command screen)."""
    return performance(rt, actor=actor, days=days)


DeviceStatusName = Literal["online", "offline", "maintenance", "alarm"]


class DeviceLayer(BaseModel):
    """Devices in service as rows ``[id, lon, lat, type, status, severity]``: ``type``
    indexes ``types``; ``status`` is ``alarm`` while the device has an open (active or
    acknowledged) alarm the reader may see, else online, offline or maintenance; ``severity``
    is the highest of its open alarms (null without one)."""

    columns: list[str]
    statuses: list[DeviceStatusName]
    types: list[DeviceTypeRef]
    devices: list[list[Any]]
    truncated: bool


class DeviceCounts(BaseModel):
    """The screen's device tiles: devices in service by health, and the open alarms (null
    for readers without ``alarms.read``)."""

    total: int = Field(description="devices not retired")
    online: int
    offline: int
    maintenance: int
    active_alarms: int | None
    alarm_devices: int | None


@router.get("/devices", response_model=DeviceLayer)
def device_layer(
    rt: RuntimeDep,
    actor: CurrentActor,
    request: Request,
    type: Annotated[str | None, Query(max_length=32)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=50_000)] = 20_000,
) -> Response:
    """The devices you may see (``devices.read``, scoped like ``GET /api/v1/devices``) with
    their status, for the command screen's map: one query for the devices, one for the open
    alarms. Gzip-compressed for clients that accept it (10,000 devices: about 0.5 MB of JSON,
    a fifth of that compressed)."""
    filters = DeviceFilter(type=type, department=department, district=district)
    layer = _layer(rt, actor, filters, limit)
    # Serialised once, straight from the rows (a returned model would be validated again).
    body = layer.model_dump_json().encode()
    headers = {"Vary": "Accept-Encoding"}
    if len(body) >= GZIP_MIN_BYTES and _accepts_gzip(request.headers.get("accept-encoding")):
        body = gzip.compress(body, compresslevel=GZIP_LEVEL)
        headers["Content-Encoding"] = "gzip"
    return Response(content=body, media_type="application/json", headers=headers)


GZIP_MIN_BYTES = 4096
GZIP_LEVEL = 5  # most of level 9's saving on these rows at a fraction of its time


def _accepts_gzip(header: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header allows gzip (``gzip`` listed without ``q=0``)."""
    for part in (header or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            quality = params.strip().lower().removeprefix("q=").strip()
            try:
                return not quality or float(quality) > 0
            except ValueError:
                return False
    return False


def _layer(rt: RuntimeDep, actor: CurrentActor, filters: DeviceFilter, limit: int) -> DeviceLayer:
    """The layer as a model, built without validating its rows again."""
    rows = devices.device_rows(rt, actor=actor, filters=filters, limit=limit)
    alarmed = _alarmed(rt, actor)
    for row in rows.devices:
        severity = alarmed.devices.get(row[0]) if alarmed else None
        if severity is not None:
            row[4] = "alarm"
        row.append(severity)
    return DeviceLayer.model_construct(
        columns=[*rows.columns, "severity"],
        statuses=["online", "offline", "maintenance", "alarm"],
        types=rows.types,
        devices=rows.devices,
        truncated=rows.truncated,
    )


@router.get("/device-counts", response_model=DeviceCounts)
def device_counts(rt: RuntimeDep, actor: CurrentActor) -> DeviceCounts:
    """Online devices of those in service and the open alarms (the screen's tiles)."""
    tally = devices.device_tally(rt, actor=actor)
    alarmed = _alarmed(rt, actor)
    return DeviceCounts(
        **tally.model_dump(),
        active_alarms=alarmed.count if alarmed else None,
        alarm_devices=len(alarmed.devices) if alarmed else None,
    )


def _alarmed(rt: RuntimeDep, actor: CurrentActor) -> alarms.OpenAlarms | None:
    if not actor.can(Perm.alarms_read):
        return None
    return alarms.open_alarms(rt, actor=actor)
