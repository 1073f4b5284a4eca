"""Device health with the frozen clock: online/offline from the type's interval, the offline
scan and its events, battery/signal, refused messages, fault rate per type and department."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cityops.core.runtime import Runtime
from cityops.devices.events import DeviceWentOffline
from cityops.devices.tasks import scan_offline
from factories.api import Api, error
from factories.devices import OTHER_DISTRICT, make_device, payload, send

ActorFn = Callable[[str], Any]


def test_online_until_three_intervals_pass_then_offline_once(
    rt: Runtime, actor: ActorFn, api: Api, clock: Any, events: Any
) -> None:
    make_device(rt, actor, "aq-000001")  # reports every 5 minutes
    send(rt, "aq-000001", {"values": {"pm25": 12, "battery": 76, "rssi": -81}})
    seen = rt.clock.now()
    clock.advance(minutes=14, seconds=59)
    assert scan_offline(rt) == 0
    assert api.get("admin", "/api/v1/devices/aq-000001/health").json()["state"] == "online"
    clock.advance(seconds=1)
    assert scan_offline(rt) == 1
    assert scan_offline(rt) == 0  # idempotent: reported once
    offline = [e for e in events.events if isinstance(e, DeviceWentOffline)]
    assert [(e.device_id, e.last_seen_at) for e in offline] == [("aq-000001", seen)]
    health = api.get("admin", "/api/v1/devices/aq-000001/health").json()
    assert health["state"] == "offline"
    assert health["interval_seconds"] == 300
    assert health["battery"]["value"] == 76.0
    assert health["rssi"]["value"] == -81.0
    assert [e["kind"] for e in health["events"]] == ["offline", "online"]
    # Back again: online, and a later silence is reported again.
    send(rt, "aq-000001", {"values": {"pm25": 13}})
    assert api.get("admin", "/api/v1/devices/aq-000001/health").json()["state"] == "online"
    clock.advance(minutes=15)
    assert scan_offline(rt) == 1


def test_the_scan_skips_devices_in_maintenance_and_never_seen(
    rt: Runtime, actor: ActorFn, api: Api, clock: Any
) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002")
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    api.client.patch(
        "/api/v1/devices/aq-000001", json={"status": "maintenance"}, headers=api.headers("admin")
    )
    clock.advance(hours=1)
    assert scan_offline(rt) == 0
    api.client.patch(
        "/api/v1/devices/aq-000001", json={"status": "active"}, headers=api.headers("admin")
    )
    assert scan_offline(rt) == 1


def test_health_summary_per_type_and_department(
    rt: Runtime, actor: ActorFn, api: Api, clock: Any
) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002", at=OTHER_DISTRICT)
    make_device(rt, actor, "aq-000003", status="maintenance")
    make_device(rt, actor, "aq-000004", status="retired")
    make_device(rt, actor, "mh-000001", "manhole_cover")
    make_device(rt, actor, "mh-000002", "manhole_cover", at=OTHER_DISTRICT)
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    send(rt, "mh-000001", {"values": {"tilt": 1}})
    clock.advance(minutes=30)  # air quality offline (5 min interval), manhole still online (1 h)
    send(rt, "aq-000002", b"not json")
    send(rt, "aq-000002", payload({"colour": 1}))
    body = api.get("leader", "/api/v1/devices/health/summary").json()
    by_type = {g["code"]: g for g in body["by_type"]}
    air = by_type["air_quality"]
    assert (
        air["devices"],
        air["online"],
        air["offline"],
        air["never_seen"],
        air["maintenance"],
    ) == (
        3,
        1,
        1,
        0,
        1,
    )
    assert air["fault_rate"] == round(2 / 3, 4)
    assert air["rejected_messages"] == 2
    assert air["name_zh"] == "空气质量监测站"
    manhole = by_type["manhole_cover"]
    assert (manhole["online"], manhole["never_seen"], manhole["fault_rate"]) == (1, 1, 0.0)
    by_department = {g["code"]: g for g in body["by_department"]}
    assert set(by_department) == {"huanbao", "shizheng-990101", "shizheng-990102"}
    assert by_department["huanbao"]["devices"] == 3
    # A handler's summary covers their department's devices only.
    mine = api.get("handler-shizheng-990102", "/api/v1/devices/health/summary").json()
    assert [g["code"] for g in mine["by_department"]] == ["shizheng-990102"]
    assert mine["by_type"][0]["never_seen"] == 1
    assert error(api.get("citizen", "/api/v1/devices/health/summary"), 403)["code"] == (
        "permission_denied"
    )


def test_device_health_is_scoped(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "mh-000001", "manhole_cover")
    url = "/api/v1/devices/mh-000001/health"
    assert api.get("handler-shizheng-990101", url).status_code == 200
    assert error(api.get("handler-huanbao", url), 403)["code"] == "out_of_jurisdiction"
    assert api.get(None, url).status_code == 401
    assert api.get("admin", "/api/v1/devices/zz-000404/health").status_code == 404


def test_a_chatty_device_rewrites_last_seen_at_most_every_tenth_interval(
    rt: Runtime, actor: ActorFn, api: Api, clock: Any
) -> None:
    make_device(rt, actor, "aq-000001")  # 5-minute interval: last seen moves in 30 s steps
    first = rt.clock.now()
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    clock.advance(seconds=20)
    send(rt, "aq-000001", {"values": {"pm25": 2}})
    seen = api.get("admin", "/api/v1/devices/aq-000001/health").json()["last_seen_at"]
    assert seen == first.isoformat().replace("+00:00", "Z")
    clock.advance(seconds=20)
    send(rt, "aq-000001", {"values": {"pm25": 3}})
    seen = api.get("admin", "/api/v1/devices/aq-000001/health").json()["last_seen_at"]
    assert seen == rt.clock.now().isoformat().replace("+00:00", "Z")
