"""Devices registered through the service layer, and telemetry sent the way devices send it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cityops.core.auth import Actor
from cityops.core.runtime import Runtime
from cityops.devices import service
from cityops.devices.schemas import DeviceIn, DeviceOut, Point

ActorFn = Callable[[str], Actor]

# Points of the synthetic city (see factories.cases): district 990101's first grid, its second
# grid, and district 990102.
IN_GRID = (112.95, 28.12)
OTHER_GRID = (112.95, 28.17)
OTHER_DISTRICT = (113.05, 28.12)


def make_device(
    rt: Runtime,
    actor: ActorFn,
    device_id: str = "aq-000001",
    type_code: str = "air_quality",
    *,
    at: tuple[float, float] = IN_GRID,
    department: str | None = None,
    status: str = "active",
    name: str | None = None,
) -> DeviceOut:
    """A device registered by the seeded admin (owner: by the type's kind unless given)."""
    data = DeviceIn(
        id=device_id,
        type=type_code,
        name=name or f"{type_code} {device_id}",
        location=Point(lon=at[0], lat=at[1]),
        department_code=department,
        status=status,  # type: ignore[arg-type]
    )
    return service.register_device(rt, actor=actor("admin"), data=data)


def payload(values: dict[str, Any], ts: Any = None) -> bytes:
    body: dict[str, Any] = {"values": values}
    if ts is not None:
        body["ts"] = ts
    return json.dumps(body).encode()


def send(
    rt: Runtime,
    device_id: str,
    body: bytes | dict[str, Any] | list[Any],
    at: datetime | None = None,
) -> service.IngestResult:
    """Ingest one message as the MQTT worker would, received now (or ``at``)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return service.ingest_batch(rt, [(device_id, data, at or rt.clock.now())])
