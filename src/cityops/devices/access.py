"""Who may see which device: handlers their department's, area-bound staff their area's."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, false, or_

from cityops.core.auth import Actor
from cityops.devices.models import Device

# Any SELECT, whatever its columns.
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


def can_read(actor: Actor, device: Device) -> bool:
    if actor.role in ("admin", "system"):
        return True
    if actor.role == "handler":
        return actor.department_id is not None and device.department_id == actor.department_id
    return actor.covers(device.area_path)


def scope_devices(query: Q, actor: Actor) -> Q:
    """Limit a device query to what the actor may see (mirrors ``can_read``)."""
    if actor.role in ("admin", "system"):
        return query
    if actor.role == "handler":
        if actor.department_id is None:
            return query.where(false())
        return query.where(Device.department_id == actor.department_id)
    if actor.area_path is None:
        return query
    return query.where(
        or_(Device.area_path == actor.area_path, Device.area_path.startswith(actor.area_path + "/"))
    )
