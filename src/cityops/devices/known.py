"""What the ingester knows of each device, cached per process (a batch names hundreds).

Every batch needs the type, status, owner and last-seen state of the devices it names; reading
them from the database costs more than parsing the batch. So each process keeps them in a map
keyed by device id (``rt.db.snapshots``, like the other reference data) and reads only the
devices it does not hold:

- a device not in the map (never seen by this process, registered since) is read at once;
- registering, changing, moving or retiring a device, importing devices and marking devices
  offline forget them in this process after the commit (``forget``); other processes read the
  change when their entry expires (``cache_ttl``, 30 s: an entry is never kept longer);
- an entry is used only while it says the device is online and its offline limit lies ahead:
  the offline scan of another process may have marked the device offline since, and the
  ingester must see that to record the device's return (``online`` health event);
- after a batch commits, the last-seen state it wrote replaces the entry's (keeping the
  entry's expiry), so a device reporting every second is not rewritten every batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.core.cache import ExpiringMap
from cityops.core.runtime import Runtime
from cityops.devices.models import Device

CACHE_KEY = "devices.known"
CACHE_SIZE = 200_000
_CHUNK = 500


class Known(NamedTuple):
    """What the ingester needs of a device (columns, not entities)."""

    id: str
    type_code: str
    status: str
    online: bool
    department_id: uuid.UUID
    last_seen_at: datetime | None
    offline_after: datetime | None


_COLUMNS: tuple[Any, ...] = (
    Device.id,
    Device.type_code,
    Device.status,
    Device.online,
    Device.department_id,
    Device.last_seen_at,
    Device.offline_after,
)


def _cache(rt: Runtime) -> ExpiringMap[str, Known]:
    return rt.db.snapshots.map(CACHE_KEY, size=CACHE_SIZE)


def known_devices(rt: Runtime, session: Session, ids: Collection[str]) -> dict[str, Known]:
    """The registered devices among ``ids``: from the cache where it may be trusted, the rest
    read through ``session`` (and cached). Unknown ids are left out."""
    cache = _cache(rt)
    now = rt.clock.now()
    found: dict[str, Known] = {}
    missing: list[str] = []
    held = cache.get_many(ids)
    for device_id in ids:
        known = held.get(device_id)
        if (
            known is not None
            and known.online
            and known.offline_after is not None
            and known.offline_after > now
        ):
            found[device_id] = known
        elif len(device_id) <= 64:
            missing.append(device_id)
    if missing:
        missing.sort()
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            for row in session.execute(select(*_COLUMNS).where(Device.id.in_(chunk))):
                known = Known(*row)
                found[known.id] = known
                cache.put(known.id, known)
    return found


def remember_seen(rt: Runtime, written: Iterable[Known]) -> None:
    """After a commit: the last-seen state this process wrote (the entries keep their expiry)."""
    cache = _cache(rt)
    for known in written:
        cache.replace(known.id, known)


def forget(rt: Runtime, device_ids: Iterable[str]) -> None:
    """Drop devices from this process's cache (after a commit that changed them)."""
    cache = _cache(rt)
    for device_id in device_ids:
        cache.pop(device_id)
