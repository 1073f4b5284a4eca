"""The ingester's per-process cache of device facts (devices.known): what changes a device
reaches the next batch at once in this process; what another process changes is seen when
the entry expires, except going offline, which is never trusted from the cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update

from cityops.core.runtime import Runtime
from cityops.devices import known, service
from cityops.devices.events import DeviceCameOnline, ReadingsStored
from cityops.devices.models import Device
from cityops.devices.schemas import DeviceUpdate, Point
from factories.devices import OTHER_DISTRICT, make_device, send

ActorFn = Callable[[str], Any]


def cached(rt: Runtime, device_id: str) -> known.Known | None:
    found: known.Known | None = rt.db.snapshots.map(known.CACHE_KEY).get(device_id)
    return found


def test_a_device_registered_after_a_refusal_is_taken_by_the_next_batch(
    rt: Runtime, actor: ActorFn
) -> None:
    make_device(rt, actor, "aq-000001")
    assert send(rt, "aq-000001", {"values": {"pm25": 1}}).accepted == 1
    refused = send(rt, "aq-000002", {"values": {"pm25": 1}})
    assert (refused.accepted, refused.unknown_devices) == (0, 1)
    make_device(rt, actor, "aq-000002")
    assert send(rt, "aq-000002", {"values": {"pm25": 2}}).accepted == 1


def test_the_ingester_keeps_what_it_wrote_and_reads_the_device_once(
    rt: Runtime, actor: ActorFn
) -> None:
    make_device(rt, actor, "aq-000001")
    assert cached(rt, "aq-000001") is None
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    entry = cached(rt, "aq-000001")
    assert entry is not None
    assert entry.online is True
    assert entry.last_seen_at == rt.clock.now()
    # Another process retires the device behind this one's back: the entry still holds (until
    # it expires) ...
    with rt.db.transaction() as tx:
        tx.session.execute(update(Device).where(Device.id == "aq-000001").values(status="retired"))
    assert send(rt, "aq-000001", {"values": {"pm25": 2}}).accepted == 1
    # ... and once it has gone, the device is read again.
    rt.db.snapshots.invalidate(known.CACHE_KEY)
    refused = send(rt, "aq-000001", {"values": {"pm25": 3}})
    assert dict(refused.by_reason) == {"device_retired": 1}


def test_a_device_retired_here_is_refused_by_the_next_batch(rt: Runtime, actor: ActorFn) -> None:
    make_device(rt, actor, "mh-000001", "manhole_cover")
    assert send(rt, "mh-000001", {"values": {"tilt": 1}}).accepted == 1
    assert cached(rt, "mh-000001") is not None
    service.update_device(
        rt, actor=actor("admin"), device_id="mh-000001", data=DeviceUpdate(status="retired")
    )
    assert cached(rt, "mh-000001") is None
    result = send(rt, "mh-000001", {"values": {"tilt": 2}})
    assert (result.accepted, dict(result.by_reason)) == (0, {"device_retired": 1})
    # Back in service: taken again.
    service.update_device(
        rt, actor=actor("admin"), device_id="mh-000001", data=DeviceUpdate(status="active")
    )
    assert send(rt, "mh-000001", {"values": {"tilt": 3}}).accepted == 1


def test_a_device_moved_here_reaches_the_rules_with_its_new_owner(
    rt: Runtime, actor: ActorFn, events: Any
) -> None:
    make_device(rt, actor, "mh-000009", "manhole_cover")
    send(rt, "mh-000009", {"values": {"tilt": 1}})
    before = [e for e in events.events if isinstance(e, ReadingsStored)][-1].devices[0]
    moved = service.update_device(
        rt,
        actor=actor("admin"),
        device_id="mh-000009",
        data=DeviceUpdate(location=Point(lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])),
    )
    assert moved.department.code == "shizheng-990102"
    send(rt, "mh-000009", {"values": {"tilt": 2}})
    after = [e for e in events.events if isinstance(e, ReadingsStored)][-1].devices[0]
    assert after.department_id != before.department_id
    assert after.department_id == moved.department.id


def test_a_device_marked_offline_elsewhere_comes_back_online(
    rt: Runtime, actor: ActorFn, events: Any, clock: Any
) -> None:
    make_device(rt, actor, "aq-000001")
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    assert cached(rt, "aq-000001") is not None
    clock.advance(minutes=16)  # past the offline limit of 3 intervals of 5 minutes
    # The offline scan of another process (this one's cache does not hear of it).
    with rt.db.transaction() as tx:
        tx.session.execute(update(Device).where(Device.id == "aq-000001").values(online=False))
    events.events.clear()
    send(rt, "aq-000001", {"values": {"pm25": 2}})
    came_online = [e for e in events.events if isinstance(e, DeviceCameOnline)]
    assert [e.device_id for e in came_online] == ["aq-000001"]
    entry = cached(rt, "aq-000001")
    assert entry is not None
    assert entry.online is True
    assert entry.last_seen_at == rt.clock.now()


def test_the_offline_scan_forgets_the_devices_it_marks(
    rt: Runtime, actor: ActorFn, clock: Any
) -> None:
    from cityops.devices.tasks import scan_offline

    make_device(rt, actor, "aq-000001")
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    clock.advance(minutes=16)
    assert scan_offline(rt) == 1
    assert cached(rt, "aq-000001") is None


def test_imported_devices_are_taken_at_once(rt: Runtime, actor: ActorFn) -> None:
    assert send(rt, "aq-000077", {"values": {"pm25": 1}}).unknown_devices == 1
    csv = "id,type,name,lon,lat\naq-000077,air_quality,站,112.95,28.12\n".encode()
    report = service.import_devices(rt, actor=actor("admin"), data=csv, filename="d.csv")
    assert report.created == 1
    assert send(rt, "aq-000077", {"values": {"pm25": 1}}).accepted == 1
