"""Simulated devices publishing telemetry: ``cityops simulate``.

The fleet is the city's registered devices, or ``register_fleet`` adds N of every type spread
over the city's grids (one CSV import, as an inventory goes in). Each device reports on its
type's interval (or a fixed one) with the values of ``cityops.demo.patterns``; incidents strike
a share of the devices from a given second on.

Transports:

- **MQTT** (default): one connection per process, authenticated as the *simulator* account
  that ``ensure_simulator_client`` provisions in the broker, allowed to publish on every
  device's telemetry topic and nothing else. Provisioning thousands of devices one by one with
  the dynamic-security plugin is slow (docs/mqtt.md: the plugin rewrites its file after each
  change), and thousands of connections from one process cost more than the devices they
  stand for, so the simulator speaks for its devices on their own topics. The message is the
  same a device sends (``{"ts", "values"}`` on ``{prefix}/devices/{id}/telemetry``, QoS 1),
  and the ingest path cannot tell the difference. QoS 1 with a bounded in-flight window: at
  most ``window`` messages without PUBACK, the next publish waits.
- **HTTP** (``--http``): batches of many devices to ``POST /api/v1/telemetry`` with an
  integration's API key.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from paho.mqtt.client import Client, ConnectFlags
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cityops.core.auth import SYSTEM
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.connection import new_client, shut_down
from cityops.core.mqtt.provision import BrokerAdmin
from cityops.core.mqtt.topics import telemetry_filter, telemetry_topic
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams
from cityops.core.runtime import Runtime
from cityops.demo.geography import random_point_in
from cityops.demo.patterns import DeviceModel, Incident
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter
from cityops.org import service as org

log = logging.getLogger(__name__)

SIMULATOR_USERNAME = "cityops-simulator"
SIMULATOR_ROLE = "cityops-simulator"
LOCAL = ZoneInfo("Asia/Shanghai")
TYPE_PREFIX = {
    "traffic_counter": "tc",
    "air_quality": "aq",
    "noise_meter": "nm",
    "water_level": "wl",
    "manhole_cover": "mh",
    "gas_pressure": "gp",
    "bridge_displacement": "bd",
    "smoke_detector": "sd",
}


@dataclass(frozen=True, slots=True)
class SimDevice:
    device_id: str
    type_code: str
    metrics: tuple[str, ...]
    interval: float  # seconds between reports


# --------------------------------------------------------------------------- the fleet


def type_metrics(rt: Runtime) -> dict[str, tuple[tuple[str, ...], int]]:
    """Each type's own metrics (not the common battery/rssi) and its reporting interval."""
    return {
        t.code: (tuple(m.code for m in t.metrics if not m.common), t.interval_seconds)
        for t in devices.list_types(rt, actor=SYSTEM)
    }


def registered_fleet(
    rt: Runtime, *, limit: int | None = None, online_only: bool = False
) -> list[SimDevice]:
    """The active registered devices (up to ``limit``; only those online now if
    ``online_only``), in id order."""
    kinds = type_metrics(rt)
    fleet: list[SimDevice] = []
    for device_id, code in _active_devices(rt, limit, online_only):
        if code in kinds:
            fleet.append(SimDevice(device_id, code, kinds[code][0], float(kinds[code][1])))
    return fleet


def _active_devices(rt: Runtime, limit: int | None, online_only: bool) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    page = 1
    while limit is None or len(found) < limit:
        batch = devices.list_devices(
            rt,
            actor=SYSTEM,
            filters=DeviceFilter(status="active", online=True if online_only else None),
            params=PageParams(page=page, page_size=MAX_PAGE_SIZE, sort="id"),
        ).items
        found.extend((d.id, d.type.code) for d in batch)
        if len(batch) < MAX_PAGE_SIZE:
            break
        page += 1
    return found[:limit] if limit is not None else found


def register_fleet(rt: Runtime, count: int, *, seed: int = 0, prefix: str = "sim") -> list[str]:
    """Register ``count`` devices cycling through every type, at random points in the city's
    grids (ids ``{prefix}-{tc|aq|…}-{n}``); devices already registered are kept."""
    if count < 1:
        return []
    rng = random.Random(seed)
    grids = [
        f["geometry"] for f in org.areas_geojson(rt, level="grid")["features"] if f.get("geometry")
    ]
    if not grids:
        raise ValueError("the city has no grids to place devices in")
    codes = sorted(type_metrics(rt))
    if not codes:
        raise ValueError("no device types are registered")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "type", "name", "lon", "lat", "installed_on", "status"])
    made: list[str] = []
    for n in range(count):
        code = codes[n % len(codes)]
        device_id = f"{prefix}-{TYPE_PREFIX.get(code, code[:2])}-{n:06d}"
        lon, lat = random_point_in(rng.choice(grids), rng)
        writer.writerow(
            [device_id, code, f"模拟{code} {n}", f"{lon:.6f}", f"{lat:.6f}", "2025-01-01", "active"]
        )
        made.append(device_id)
    devices.import_devices(
        rt,
        actor=SYSTEM,
        data=out.getvalue().encode(),
        filename="simulated-devices.csv",
        mode="valid_rows",
    )
    return made


# --------------------------------------------------------------------------- transports


class Sink(Protocol):
    def send(self, device_id: str, document: dict[str, Any]) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def close(self) -> None: ...


def ensure_simulator_client(admin: BrokerAdmin, password: str) -> str:
    """The broker account the simulator publishes as: publish on every device's telemetry
    topic, nothing else. Returns its username."""
    acls = [
        {
            "acltype": "publishClientSend",
            "topic": telemetry_filter(admin.topic_prefix),
            "priority": 0,
            "allow": True,
        }
    ]
    role = admin.check(
        [{"command": "createRole", "rolename": SIMULATOR_ROLE, "acls": acls}],
        tolerate=["Role already exists"],
    )
    if role[0].get("error"):  # an existing role gets this prefix's ACL if it lacks it
        admin.check(
            [{"command": "addRoleACL", "rolename": SIMULATOR_ROLE, **acl} for acl in acls],
            tolerate=["ACL with this topic already exists"],
        )
    created = admin.check(
        [
            {
                "command": "createClient",
                "username": SIMULATOR_USERNAME,
                "password": password,
                "textname": "cityops simulated devices",
                "roles": [{"rolename": SIMULATOR_ROLE}],
            }
        ],
        tolerate=["Client already exists"],
    )
    if created[0].get("error"):
        admin.check(
            [
                {
                    "command": "setClientPassword",
                    "username": SIMULATOR_USERNAME,
                    "password": password,
                },
                {"command": "enableClient", "username": SIMULATOR_USERNAME},
            ]
        )
    return SIMULATOR_USERNAME


@dataclass
class Counts:
    sent: int = 0
    acked: int = 0
    refused: int = 0  # PUBACK with a failure reason, or an HTTP answer other than 2xx
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class MqttSink:
    """QoS 1 publisher with at most ``window`` messages awaiting their PUBACK."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        username: str,
        password: str,
        prefix: str,
        window: int = 100,
        client_id: str | None = None,
        on_ack: Callable[[int, bool], None] | None = None,
    ) -> None:
        self.prefix = prefix
        self.counts = Counts()
        self._slots = threading.BoundedSemaphore(window)
        self._on_ack = on_ack
        self._connected = threading.Event()
        self._connack: ReasonCode | None = None
        self.client: Client = new_client(
            address,
            client_id=client_id or f"sim-{secrets.token_hex(5)}",
            username=username,
            password=password,
        )
        self.client.max_inflight_messages_set(window)
        self.client.on_connect = self._connected_cb
        self.client.on_publish = self._published
        self.client.connect(address.host, address.port)
        self.client.loop_start()
        if not self._connected.wait(10) or self._connack is None or self._connack.is_failure:
            self.client.loop_stop()
            raise ConnectionError(f"the broker refused the simulator: {self._connack}")

    def _connected_cb(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._connack = reason
        self._connected.set()

    def _published(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        ok = not reason.is_failure
        with self.counts.lock:
            self.counts.acked += ok
            self.counts.refused += not ok
        if self._on_ack is not None:
            self._on_ack(mid, ok)
        self._slots.release()

    def send(self, device_id: str, document: dict[str, Any]) -> None:
        self.publish(telemetry_topic(self.prefix, device_id), json.dumps(document).encode())

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 once a slot of the window is free; returns the message id."""
        self._slots.acquire()
        info = self.client.publish(topic, payload, qos=1)
        with self.counts.lock:
            self.counts.sent += 1
        return int(info.mid)

    def flush(self, timeout: float) -> bool:
        """Wait until every message sent has its PUBACK."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.counts.lock:
                if self.counts.acked + self.counts.refused >= self.counts.sent:
                    return True
            time.sleep(0.01)
        return False

    def close(self) -> None:
        shut_down(self.client)


_HELD_SAMPLES = 100_000
"""Samples an unreachable server's HTTP sink keeps for later (older ones are given up)."""


class HttpSink:
    """Batches to ``POST /api/v1/telemetry`` with an API key (``batch`` samples each)."""

    def __init__(
        self, base_url: str, api_key: str, *, batch: int = 500, max_delay: float = 1.0
    ) -> None:
        self.counts = Counts()
        self.batch = batch
        self.max_delay = max_delay
        self._pending: list[dict[str, Any]] = []
        self._last_post = time.monotonic()
        self._last_complaint = 0.0
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._url = base_url.rstrip("/") + "/api/v1/telemetry"
        self._api_key = api_key

    def send(self, device_id: str, document: dict[str, Any]) -> None:
        self._pending.append({"device_id": device_id, **document})
        self.counts.sent += 1
        overdue = time.monotonic() - self._last_post >= self.max_delay
        if len(self._pending) >= self.batch or overdue:
            self._post()

    def _post(self) -> None:
        body, self._pending = self._pending, []
        self._last_post = time.monotonic()
        request = urllib.request.Request(  # noqa: S310 (http(s) checked in __init__)
            self._url,
            data=json.dumps(body).encode(),
            headers={"X-API-Key": self._api_key, "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
                answer.read()
            self.counts.acked += len(body)
        except urllib.error.HTTPError as exc:
            self.counts.refused += len(body)
            log.warning("telemetry batch refused: %s %s", exc.code, exc.read()[:300])
        except (urllib.error.URLError, OSError) as exc:
            # The server is not up yet (or restarting): keep the samples for the next post.
            held = body + self._pending
            dropped = max(0, len(held) - _HELD_SAMPLES)
            self._pending, self.counts.refused = held[dropped:], self.counts.refused + dropped
            if time.monotonic() - self._last_complaint >= 30:
                self._last_complaint = time.monotonic()
                log.warning("telemetry server unreachable (%s); holding %d samples", exc, len(body))

    def flush(self, timeout: float) -> bool:
        if self._pending:
            self._post()
        return True

    def close(self) -> None:
        self.flush(0)


# --------------------------------------------------------------------------- the loop


@dataclass
class Simulation:
    """Who reports when: each device on its interval, spread evenly over it."""

    fleet: Sequence[SimDevice]
    incidents: Sequence[Incident] = ()
    seed: int = 0
    models: dict[str, DeviceModel] = field(init=False)
    due: list[tuple[float, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.models = {
            d.device_id: DeviceModel(d.device_id, d.type_code, d.metrics, seed=self.seed)
            for d in self.fleet
        }
        rng = random.Random(self.seed)
        self.intervals = {d.device_id: d.interval for d in self.fleet}
        self.due = sorted((rng.uniform(0, d.interval), d.device_id) for d in self.fleet)

    def step(self, elapsed: float, start: datetime) -> list[tuple[str, dict[str, Any]]]:
        """The messages due by ``elapsed`` seconds after ``start`` (UTC), their next turn
        scheduled. Silent devices skip their turn."""
        out: list[tuple[str, dict[str, Any]]] = []
        keep: list[tuple[float, str]] = []
        for at, device_id in self.due:
            if at > elapsed:
                keep.append((at, device_id))
                continue
            keep.append((at + self.intervals[device_id], device_id))
            model = self.models[device_id]
            if model.silent(at, self.incidents):
                continue
            moment = start + timedelta(seconds=at)
            values = model.read(moment.astimezone(LOCAL), at, self.incidents)
            out.append((device_id, {"ts": int(moment.timestamp() * 1000), "values": values}))
        keep.sort()
        self.due = keep
        return out


def run(
    simulation: Simulation,
    sink: Sink,
    *,
    duration: float | None,
    stop: threading.Event | None = None,
    tick: float = 0.2,
    report: Callable[[float, int], None] | None = None,
) -> int:
    """Publish what falls due until ``duration`` seconds passed (None: until ``stop``);
    returns the number of messages sent."""
    stop = stop or threading.Event()
    start = datetime.now(UTC)
    began = time.monotonic()
    sent = 0
    last_report = began
    while not stop.is_set():
        elapsed = time.monotonic() - began
        if duration is not None and elapsed >= duration:
            break
        for device_id, document in simulation.step(elapsed, start):
            sink.send(device_id, document)
            sent += 1
        if report is not None and time.monotonic() - last_report >= 10:
            last_report = time.monotonic()
            report(elapsed, sent)
        stop.wait(tick)
    sink.flush(30)
    return sent
