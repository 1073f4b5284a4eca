"""Background work of the devices module: the offline scan, rollups, the archive."""

from __future__ import annotations

import functools

from sqlalchemy import select

from cityops.core.runtime import Runtime
from cityops.devices.archive import archive_old
from cityops.devices.events import DeviceWentOffline
from cityops.devices.known import forget
from cityops.devices.models import Device, HealthEvent
from cityops.devices.partitions import ensure_partitions
from cityops.devices.rollups import run_rollups

BATCH = 500


def scan_offline(rt: Runtime) -> int:
    """Mark active devices silent past their limit offline, once each; returns how many.

    Idempotent: a device already marked offline is not touched again until it reports, so
    several workers may run it.
    """
    marked = 0
    while True:
        with rt.db.transaction() as tx:
            now = rt.clock.now()
            rows = tx.session.scalars(
                select(Device)
                .where(
                    Device.online.is_(True), Device.offline_after <= now, Device.status == "active"
                )
                .order_by(Device.id)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return marked
            for device in rows:
                device.online = False
                since = device.offline_after or now
                data = {
                    "last_seen_at": device.last_seen_at.isoformat() if device.last_seen_at else None
                }
                tx.session.add(
                    HealthEvent(device_id=device.id, at=since, kind="offline", data=data)
                )
                tx.emit(
                    DeviceWentOffline(
                        device_id=device.id,
                        type_code=device.type_code,
                        department_id=device.department_id,
                        last_seen_at=device.last_seen_at,
                        offline_since=since,
                    )
                )
            tx.after_commit(functools.partial(forget, rt, [device.id for device in rows]))
            marked += len(rows)


def register_jobs(rt: Runtime) -> None:
    rt.scheduler.every(
        rt.settings.device_scan_seconds, "devices.offline_scan", lambda: scan_offline(rt)
    )
    rt.scheduler.every(
        rt.settings.telemetry_rollup_seconds, "devices.rollups", lambda: run_rollups(rt)
    )
    rt.scheduler.every(
        rt.settings.telemetry_archive_seconds, "devices.archive", lambda: archive_old(rt)
    )
    rt.scheduler.every(6 * 3600, "devices.partitions", lambda: ensure_partitions(rt))
