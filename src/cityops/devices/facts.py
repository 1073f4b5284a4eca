"""What other modules may know of devices without an actor: their type, place and owner, and
the metrics of a type. The composition root hands these to the alarms module, which evaluates
rules on readings the devices module has already authenticated and stored."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from cityops.core.runtime import Runtime
from cityops.devices.directory import device_types
from cityops.devices.models import Device
from cityops.org import service as org


@dataclass(frozen=True)
class DeviceFacts:
    device_id: str
    type_code: str
    name: str
    lon: float
    lat: float
    department_code: str | None


def device_facts(rt: Runtime, device_ids: Collection[str]) -> dict[str, DeviceFacts]:
    """The registered devices among ``device_ids`` (unknown ids are left out)."""
    if not device_ids:
        return {}
    columns = (Device.id, Device.type_code, Device.name, Device.lon, Device.lat)
    with rt.db.read() as session:
        rows = session.execute(
            select(*columns, Device.department_id).where(Device.id.in_(list(device_ids)))
        ).all()
        departments = org.department_refs(session, [row.department_id for row in rows])
    return {
        row.id: DeviceFacts(
            device_id=row.id,
            type_code=row.type_code,
            name=row.name,
            lon=row.lon,
            lat=row.lat,
            department_code=(
                departments[row.department_id].code if row.department_id in departments else None
            ),
        )
        for row in rows
    }


def type_metric_codes(rt: Runtime, type_code: str) -> frozenset[str] | None:
    """The metrics a device type reports (its own and the common ones), or None if unknown."""
    with rt.db.read() as session:
        info = device_types(session).get(type_code)
    return None if info is None else frozenset(info.metrics)
