"""Routes of the devices module: types, registration and import, tokens, HTTP ingest,
telemetry queries, latest values and health."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, UploadFile, status
from pydantic import AwareDatetime
from starlette.concurrency import run_in_threadpool

from cityops.core.auth import Actor
from cityops.core.errors import NotAuthenticated, PayloadTooLarge
from cityops.core.i18n import text
from cityops.core.pagination import Page
from cityops.core.runtime import Runtime
from cityops.devices import service
from cityops.devices.imports import MAX_BYTES as IMPORT_MAX_BYTES
from cityops.devices.schemas import (
    DEVICE_ID_PATTERN,
    DeviceFilter,
    DeviceIn,
    DeviceOut,
    DeviceStatus,
    DeviceTypeOut,
    DeviceUpdate,
    HealthOut,
    HealthSummary,
    ImportReport,
    IngestOut,
    LatestOut,
    TelemetryOut,
    TokenCreated,
)
from cityops.org import service as org
from cityops.web.deps import API_KEY_HEADER, CurrentActor, Paging, RuntimeDep
from cityops.web.lanes import in_slow_lane

router = APIRouter(prefix="/api/v1", tags=["devices"])
DeviceId = Annotated[str, Path(pattern=DEVICE_ID_PATTERN, description="the maker's device code")]
DEVICE_TOKEN_HEADER = "X-Device-Token"  # noqa: S105 - a header name
_PAYLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"description": "see docs/devices.md: the device protocol"}
            }
        },
    }
}


@router.get("/device-types", response_model=list[DeviceTypeOut])
def device_types(rt: RuntimeDep, actor: CurrentActor) -> list[DeviceTypeOut]:
    """Device types with their metrics, units, plausible ranges and reporting interval."""
    return service.list_types(rt, actor=actor)


@router.get("/devices", response_model=Page[DeviceOut])
def list_devices(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    type: Annotated[str | None, Query(max_length=32)] = None,
    status: DeviceStatus | None = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    online: bool | None = None,
) -> Page[DeviceOut]:
    """Devices you may see; filters combine; ``sort`` takes keys like ``-last_seen_at``."""
    filters = DeviceFilter(
        type=type, status=status, department=department, district=district, q=q, online=online
    )
    return service.list_devices(rt, actor=actor, filters=filters, params=paging)


@router.post("/devices", response_model=DeviceOut, status_code=status.HTTP_201_CREATED)
def register_device(rt: RuntimeDep, actor: CurrentActor, body: DeviceIn) -> DeviceOut:
    return service.register_device(rt, actor=actor, data=body)


@router.post("/devices/import", response_model=ImportReport)
async def import_devices(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    file: UploadFile,
    mode: Literal["all_or_nothing", "valid_rows"] = "all_or_nothing",
) -> ImportReport:
    """Register the devices of a CSV or .xlsx file (columns: id, type, name, lon, lat, and
    optionally address, department, installed_on, status). ``all_or_nothing`` (default) stores
    nothing if any row is wrong (422 listing every row error); ``valid_rows`` keeps the good
    rows and reports the others."""
    data = await file.read(IMPORT_MAX_BYTES + 1)
    return await in_slow_lane(
        request,
        service.import_devices,
        rt,
        actor=actor,
        data=data,
        mode=mode,
        filename=file.filename,
    )


@router.get("/devices/health/summary", response_model=HealthSummary)
def health_summary(rt: RuntimeDep, actor: CurrentActor) -> HealthSummary:
    """Devices online/offline/in maintenance and the fault rate per type and department."""
    return service.health_summary(rt, actor=actor)


@router.get("/devices/{device_id}", response_model=DeviceOut)
def get_device(rt: RuntimeDep, actor: CurrentActor, device_id: DeviceId) -> DeviceOut:
    return service.get_device(rt, actor=actor, device_id=device_id)


@router.patch("/devices/{device_id}", response_model=DeviceOut)
def update_device(
    rt: RuntimeDep, actor: CurrentActor, device_id: DeviceId, body: DeviceUpdate
) -> DeviceOut:
    return service.update_device(rt, actor=actor, device_id=device_id, data=body)


@router.post("/devices/{device_id}/token", response_model=TokenCreated, status_code=201)
def issue_token(rt: RuntimeDep, actor: CurrentActor, device_id: DeviceId) -> TokenCreated:
    """A new HTTP token for the device, shown once (an earlier one stops working)."""
    return service.issue_token(rt, actor=actor, device_id=device_id)


@router.delete("/devices/{device_id}/token", response_model=DeviceOut)
def revoke_token(rt: RuntimeDep, actor: CurrentActor, device_id: DeviceId) -> DeviceOut:
    return service.revoke_token(rt, actor=actor, device_id=device_id)


@router.get("/devices/{device_id}/health", response_model=HealthOut)
def device_health(rt: RuntimeDep, actor: CurrentActor, device_id: DeviceId) -> HealthOut:
    return service.device_health(rt, actor=actor, device_id=device_id)


@router.get("/devices/{device_id}/telemetry", response_model=TelemetryOut)
def device_telemetry(
    rt: RuntimeDep,
    actor: CurrentActor,
    device_id: DeviceId,
    metric: Annotated[list[str] | None, Query(max_length=20)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    step: Annotated[str | None, Query(max_length=12, description="e.g. 300, 5m, 1h, 1d")] = None,
) -> TelemetryOut:
    """Readings in [since, until) (default: the last 24 hours): raw, or avg/min/max/count per
    ``step``."""
    return service.device_series(
        rt,
        actor=actor,
        device_id=device_id,
        metrics=metric or [],
        since=since,
        until=until,
        step=step,
    )


@router.post("/devices/{device_id}/telemetry", response_model=IngestOut, openapi_extra=_PAYLOAD_DOC)
async def ingest(request: Request, rt: RuntimeDep, device_id: DeviceId) -> IngestOut:
    """Telemetry of one device: ``{"ts", "values"}`` or a list of them. Authenticated by the
    device's token (``Authorization: Bearer cod_…`` or ``X-Device-Token``) or an integration's
    API key holding ``telemetry.ingest``."""
    payload = await _body(request, service.limits_from(rt.settings).max_bytes)

    def run() -> IngestOut:
        token, actor = _credentials(request, rt)
        return service.ingest_for_device(
            rt, device_id=device_id, payload=payload, device_token=token, actor=actor
        )

    return await run_in_threadpool(run)


@router.post("/telemetry", response_model=IngestOut, openapi_extra=_PAYLOAD_DOC)
async def ingest_many(request: Request, rt: RuntimeDep) -> IngestOut:
    """A batch of many devices: ``[{"device_id", "ts", "values"}, …]`` (``telemetry.ingest``)."""
    payload = await _body(request, service.BATCH_MAX_BYTES)

    def run() -> IngestOut:
        _, actor = _credentials(request, rt, devices=False)
        if actor is None:
            raise NotAuthenticated()
        return service.ingest_many(rt, actor=actor, payload=payload)

    return await run_in_threadpool(run)


@router.get("/telemetry/latest", response_model=Page[LatestOut])
def latest(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    device_id: Annotated[list[str] | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=32)] = None,
    status: DeviceStatus | None = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    online: bool | None = None,
) -> Page[LatestOut]:
    """Latest value of every metric of many devices in one call: the ``device_id``s given (up
    to 500), or a page of the devices matching the filters."""
    filters = DeviceFilter(
        type=type, status=status, department=department, district=district, online=online
    )
    return service.latest_values(
        rt, actor=actor, device_ids=device_id or [], filters=filters, params=paging
    )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(text("the body is over {limit} bytes", limit=limit))
    payload = await request.body()
    if len(payload) > limit:
        raise PayloadTooLarge(text("the body is over {limit} bytes", limit=limit))
    return payload


def _credentials(
    request: Request, rt: Runtime, *, devices: bool = True
) -> tuple[str | None, Actor | None]:
    """A device token (``X-Device-Token``, or a ``cod_`` bearer), else the acting user or
    integration (login token or API key)."""
    header = request.headers.get(DEVICE_TOKEN_HEADER)
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" and value.strip() else None
    if devices and header:
        return header, None
    if devices and bearer and bearer.startswith(service.TOKEN_PREFIX + "_"):
        return bearer, None
    if bearer:
        return None, org.actor_for_token(rt, bearer)
    key = request.headers.get(API_KEY_HEADER)
    return (None, org.actor_for_api_key(rt, key)) if key else (None, None)
