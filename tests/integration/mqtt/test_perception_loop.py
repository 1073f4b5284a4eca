"""The perception loop end to end, on the real broker: a registered water-level gauge publishes
over MQTT with its own credentials → the ingest worker stores the readings (devices) → the rules
raise an alarm within one second of the publish (alarms) → the critical level opens exactly one
case at the gauge's location (cases) → the water going down clears the alarm."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from cityops.alarms import service as alarms
from cityops.alarms.schemas import AlarmFilter
from cityops.app import connect_perception
from cityops.cases import service as cases
from cityops.cases.schemas import CaseFilter
from cityops.core.auth import SYSTEM
from cityops.core.mqtt.provision import BrokerAdmin
from cityops.core.mqtt.topics import telemetry_topic
from cityops.core.mqtt.worker import WorkerOptions
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter
from factories.alarms import FLOODING, water_rule
from factories.devices import IN_GRID, make_device
from factories.mqtt import Publisher, Running, unique

ActorFn = Callable[[str], Any]


def _reading(level: float) -> bytes:
    return json.dumps({"ts": int(time.time() * 1000), "values": {"water_level": level}}).encode()


def _alarms(rt: Runtime, actor: ActorFn, device_id: str) -> list[Any]:
    return list(
        alarms.list_alarms(
            rt, actor=actor("admin"), filters=AlarmFilter(device_id=device_id),
            params=PageParams(),
        ).items
    )  # fmt: skip


def _until(check: Callable[[], Any], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def test_a_gauge_over_the_line_raises_an_alarm_and_opens_one_case(
    rt: Runtime,
    actor: ActorFn,
    admin: BrokerAdmin,
    prefix: str,
    options: WorkerOptions,
    workers: Running,
    publisher: Callable[[Any], Publisher],
) -> None:
    connect_perception(rt)
    device_id = unique("wl-")
    make_device(rt, actor, device_id, "water_level", name="解放路下穿隧道积水监测")
    water_rule(rt, actor, metric="water_level")
    gauge = publisher(admin.provision_device(device_id))
    workers.start(options, rt.caches["mqtt.ingest_handler"])
    topic = telemetry_topic(prefix, device_id)

    assert not gauge.send(topic, _reading(0.12)).is_failure  # dry
    stored = _until(
        lambda: devices.latest_values(
            rt, actor=actor("admin"), device_ids=[device_id], filters=DeviceFilter(),
            params=PageParams(),
        ).items,
        5,
    )  # fmt: skip
    assert stored
    assert _alarms(rt, actor, device_id) == []

    # How soon the alarm follows the publish is measured by benchmarks/ingest.py (alarm).
    assert not gauge.send(topic, _reading(0.58)).is_failure  # over the critical line
    raised = _until(lambda: _alarms(rt, actor, device_id), 10)
    assert raised, "no alarm after the publish"
    [alarm] = raised
    assert (alarm.state, alarm.severity) == ("active", "critical")

    assert not gauge.send(topic, _reading(0.61)).is_failure  # a repeat updates the same alarm
    assert _until(lambda: _alarms(rt, actor, device_id)[0].count >= 2, 5)
    sensor_cases = cases.list_cases(
        rt, actor=SYSTEM, filters=CaseFilter(source="sensor"), params=PageParams(page_size=100)
    ).items
    [case] = [c for c in sensor_cases if c.attributes["alarm"]["device_id"] == device_id]
    assert (case.location.lon, case.location.lat) == IN_GRID
    assert case.category is not None
    assert case.category.code == FLOODING
    assert len(_alarms(rt, actor, device_id)) == 1

    assert not gauge.send(topic, _reading(0.10)).is_failure  # the water has gone down
    cleared = _until(lambda: _alarms(rt, actor, device_id)[0].state == "cleared", 5)
    assert cleared
