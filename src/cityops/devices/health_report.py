"""The health archive read side: one device's health, and fault rates per type and department."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, func, select

from cityops.core.auth import Actor
from cityops.core.runtime import Runtime
from cityops.devices.access import scope_devices
from cityops.devices.directory import device_types
from cityops.devices.health import fault_rate, health_state
from cityops.devices.models import Device, HealthEvent, LatestValue, Rejection
from cityops.devices.payload import from_ms
from cityops.devices.registry import readable_device
from cityops.devices.schemas import (
    HealthEventOut,
    HealthGroup,
    HealthOut,
    HealthSummary,
    LatestValueOut,
    RejectionOut,
)
from cityops.org import service as org
from cityops.org.roles import Perm

RECENT_EVENTS = 50


def device_health(rt: Runtime, *, actor: Actor, device_id: str) -> HealthOut:
    """State, last seen, battery and signal, refused messages by reason, recent history."""
    now = rt.clock.now()
    with rt.db.read() as session:
        device = readable_device(session, actor, device_id)
        kind = device_types(session)[device.type_code]
        newest = session.get(LatestValue, device.id)
        stored = newest.data if newest is not None else {}
        latest = {
            metric: LatestValueOut(value=stored[metric][1], ts=from_ms(int(stored[metric][0])))
            for metric in ("battery", "rssi")
            if metric in stored
        }
        rejections = [
            RejectionOut(
                reason=r.reason, count=r.count, last_at=r.last_at, last_detail=r.last_detail
            )
            for r in session.scalars(
                select(Rejection)
                .where(Rejection.device_id == device.id)
                .order_by(Rejection.count.desc(), Rejection.reason)
            )
        ]
        history = [
            HealthEventOut(at=e.at, kind=e.kind, data=e.data)
            for e in session.scalars(
                select(HealthEvent)
                .where(HealthEvent.device_id == device.id)
                .order_by(HealthEvent.at.desc(), HealthEvent.id.desc())
                .limit(RECENT_EVENTS)
            )
        ]
        return HealthOut(
            device_id=device.id,
            status=device.status,
            state=health_state(device.last_seen_at, device.offline_after, now),
            last_seen_at=device.last_seen_at,
            offline_after=device.offline_after,
            interval_seconds=kind.interval_seconds,
            battery=latest.get("battery"),
            rssi=latest.get("rssi"),
            rejected_total=sum(r.count for r in rejections),
            rejections=rejections,
            events=history,
        )


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[str, int] = defaultdict(int)

    def group(self, code: str, names: tuple[str, str]) -> HealthGroup:
        c = self.counts
        devices = c["online"] + c["offline"] + c["never_seen"] + c["maintenance"]
        return HealthGroup(
            code=code,
            name_zh=names[0],
            name_en=names[1],
            devices=devices,
            online=c["online"],
            offline=c["offline"],
            never_seen=c["never_seen"],
            maintenance=c["maintenance"],
            fault_rate=fault_rate(devices, c["offline"], c["maintenance"]),
            rejected_messages=c["rejected"],
        )


def health_summary(rt: Runtime, *, actor: Actor) -> HealthSummary:
    """Per device type and per owning department: devices in service, online, offline, never
    seen, in maintenance, the fault rate and refused messages (the devices the actor sees)."""
    actor.require(Perm.devices_read)
    now = rt.clock.now()
    state = case(
        (Device.status == "maintenance", "maintenance"),
        (Device.last_seen_at.is_(None), "never_seen"),
        (Device.offline_after > now, "online"),
        else_="offline",
    )
    by_type: dict[str, _Tally] = defaultdict(_Tally)
    by_department: dict[uuid.UUID, _Tally] = defaultdict(_Tally)
    with rt.db.read() as session:
        counted = scope_devices(
            select(Device.type_code, Device.department_id, state, func.count()), actor
        ).where(Device.status != "retired")
        _add(
            session.execute(counted.group_by(Device.type_code, Device.department_id, state)),
            by_type,
            by_department,
        )
        refused = scope_devices(
            select(Device.type_code, Device.department_id, func.sum(Rejection.count)), actor
        ).join(Rejection, Rejection.device_id == Device.id)
        for type_code, department_id, total in session.execute(
            refused.where(Device.status != "retired").group_by(
                Device.type_code, Device.department_id
            )
        ):
            by_type[type_code].counts["rejected"] += int(total or 0)
            by_department[department_id].counts["rejected"] += int(total or 0)
        types = device_types(session)
        departments = org.department_refs(session, list(by_department))
    type_groups = [
        tally.group(
            code, (types[code].name_zh, types[code].name_en) if code in types else (code, code)
        )
        for code, tally in sorted(by_type.items())
    ]
    department_groups = [
        tally.group(ref.code, (ref.name_zh, ref.name_en))
        for department_id, tally in by_department.items()
        if (ref := departments.get(department_id)) is not None
    ]
    department_groups.sort(key=lambda g: g.code)
    return HealthSummary(by_type=type_groups, by_department=department_groups)


def _add(
    rows: Iterable[Any],
    by_type: dict[str, _Tally],
    by_department: dict[uuid.UUID, _Tally],
) -> None:
    for type_code, department_id, state, count in rows:
        by_type[type_code].counts[state] += count
        by_department[department_id].counts[state] += count
