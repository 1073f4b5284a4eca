"""Shaping devices for the API: one pass over a page of rows, reference data from caches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from cityops.devices.directory import device_types
from cityops.devices.health import brief
from cityops.devices.models import Device
from cityops.devices.schemas import DeviceLocation, DeviceOut, DeviceTypeRef
from cityops.org import service as org


def present_many(session: Session, devices: Sequence[Device], now: datetime) -> list[DeviceOut]:
    types = device_types(session)
    departments = org.department_refs(session, list({d.department_id for d in devices}))
    area_ids = {
        area_id
        for d in devices
        for area_id in (d.district_id, d.street_id, d.community_id, d.grid_id)
        if area_id is not None
    }
    areas = org.area_refs(session, list(area_ids))
    out = []
    for device in devices:
        kind = types.get(device.type_code)
        location = DeviceLocation(
            lon=device.lon,
            lat=device.lat,
            address=device.address,
            area_path=device.area_path,
            district=areas.get(device.district_id) if device.district_id else None,
            street=areas.get(device.street_id) if device.street_id else None,
            community=areas.get(device.community_id) if device.community_id else None,
            grid=areas.get(device.grid_id) if device.grid_id else None,
        )
        out.append(
            DeviceOut(
                id=device.id,
                type=DeviceTypeRef(
                    code=device.type_code,
                    name_zh=kind.name_zh if kind else device.type_code,
                    name_en=kind.name_en if kind else device.type_code,
                ),
                name=device.name,
                location=location,
                department=departments.get(device.department_id),
                installed_on=device.installed_on,
                status=device.status,
                health=brief(device.last_seen_at, device.offline_after, now),
                token_prefix=device.token_prefix,
                token_issued_at=device.token_issued_at,
                created_at=device.created_at,
                updated_at=device.updated_at,
            )
        )
    return out


def present(session: Session, device: Device, now: datetime) -> DeviceOut:
    return present_many(session, [device], now)[0]
