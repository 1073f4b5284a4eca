"""``cityops simulate`` on the real broker: simulated devices registered over the city's grids
publish as the simulator account, the ingest worker stores every acknowledged reading; the
simulator account may publish on device telemetry topics only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text

from cityops.app import connect_perception
from cityops.core.mqtt.provision import BrokerAdmin
from cityops.core.mqtt.worker import WorkerOptions
from cityops.core.runtime import Runtime
from cityops.demo import simulate as sim
from cityops.demo.patterns import Incident
from cityops.devices.models import Reading
from cityops.devices.points import points
from factories.mqtt import Broker, Publisher, Running, unique


def _stored(rt: Runtime, prefix: str) -> tuple[int, int]:
    """Values stored for the devices of ``prefix``, and how many devices they came from."""
    values = points(rt.db.dialect, Reading.device_id.like(prefix + "-%"))
    with rt.db.read() as session:
        row = session.execute(
            select(func.count(), func.count(func.distinct(values.c.device_id)))
        ).one()
    return int(row[0]), int(row[1])


def test_simulated_devices_publish_and_every_acknowledged_reading_is_stored(
    rt: Runtime,
    broker: Broker,
    admin: BrokerAdmin,
    prefix: str,
    options: WorkerOptions,
    workers: Running,
) -> None:
    connect_perception(rt)
    tag = unique("sim")
    ids = sim.register_fleet(rt, 24, seed=3, prefix=tag)
    fleet = [d for d in sim.registered_fleet(rt) if d.device_id in set(ids)]
    assert len(fleet) == 24
    assert {d.type_code for d in fleet} >= {"water_level", "traffic_counter", "gas_pressure"}
    fleet = [sim.SimDevice(d.device_id, d.type_code, d.metrics, 1.0) for d in fleet]

    password = unique("pw-")
    username = sim.ensure_simulator_client(admin, password)
    sink = Recording(
        sim.MqttSink(broker.address, username=username, password=password, prefix=prefix, window=10)
    )
    workers.start(options, rt.caches["mqtt.ingest_handler"])
    silence = Incident("silent", start=0, share=0.25)
    try:
        sent = sim.run(sim.Simulation(fleet, [silence], seed=3), sink, duration=2.2, tick=0.05)
    finally:
        sink.close()
    silent = {d.device_id for d in fleet if silence.strikes(d.device_id, d.type_code)}
    assert 0 < len(silent) < 24
    assert sent == len(sink.sent) >= 2 * (24 - len(silent))
    assert sink.inner.counts.acked == sent
    assert sink.inner.counts.refused == 0
    expected = sum(len(document["values"]) for _, document in sink.sent)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _stored(rt, tag)[0] < expected:
        time.sleep(0.05)
    assert _stored(rt, tag) == (expected, 24 - len(silent))
    with rt.db.read() as session:
        heard = set(
            session.scalars(
                text("SELECT DISTINCT device_id FROM devices_readings WHERE device_id LIKE :p"),
                {"p": tag + "-%"},
            )
        )
    assert not heard & silent


class Recording:
    """A sink that keeps what it sends."""

    def __init__(self, inner: sim.MqttSink) -> None:
        self.inner = inner
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def send(self, device_id: str, document: dict[str, Any]) -> None:
        self.sent.append((device_id, document))
        self.inner.send(device_id, document)

    def flush(self, timeout: float) -> bool:
        return self.inner.flush(timeout)

    def close(self) -> None:
        self.inner.close()


def test_the_simulator_account_cannot_publish_elsewhere(
    admin: BrokerAdmin,
    prefix: str,
    connect_as: Callable[[str, str], Publisher],
) -> None:
    password = unique("pw-")
    username = sim.ensure_simulator_client(admin, password)
    assert not connect_as(username, "wrong-password").connected
    client = connect_as(username, password)
    assert client.connected
    refused = client.send(f"{prefix}/devices/x-1/commands", b"{}")
    assert refused.is_failure
    assert not client.send(f"{prefix}/devices/x-1/telemetry", b"{}").is_failure
