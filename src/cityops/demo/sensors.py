"""The demo city's sensors: a few hundred devices of every type spread over its grids (or as
many as asked, in the same mix), owned by the departments of their kind, most of them heard
from a moment ago, some silent.

They go in the way a city's inventory does (one CSV import), and their first readings the
way devices send them (the ingester), so the demo exercises the real paths and stays fast.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityops.core.auth import SYSTEM
from cityops.core.runtime import Runtime
from cityops.demo.patterns import TYPICAL
from cityops.demo.places import CityMap
from cityops.demo.simulate import registered_fleet
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceTypeOut

# How many devices of each type, and the prefix of their ids.
FLEET: dict[str, tuple[int, str]] = {
    "traffic_counter": (60, "tc"),
    "air_quality": (30, "aq"),
    "noise_meter": (40, "nm"),
    "water_level": (40, "wl"),
    "manhole_cover": (80, "mh"),
    "gas_pressure": (40, "gp"),
    "bridge_displacement": (20, "bd"),
    "smoke_detector": (50, "sd"),
}
# Everyday values come from the simulator's table (patterns.TYPICAL); these types read
# the same metric differently.
TYPICAL_BY_TYPE: dict[tuple[str, str], tuple[float, float]] = {
    ("manhole_cover", "tilt"): (0, 2),
    ("manhole_cover", "displacement"): (0, 3),
    ("bridge_displacement", "tilt"): (-0.3, 0.3),
    ("bridge_displacement", "displacement"): (-2, 2),
}
BATTERY_POWERED = frozenset({"manhole_cover", "smoke_detector", "water_level", "gas_pressure"})
SILENT_SHARE = 0.08
MAINTENANCE_SHARE = 0.02
MAX_DEVICES = 50_000  # one inventory import (devices.imports.MAX_ROWS)
INGEST_BATCH = 2_000  # messages per ingest call (one MQTT poll's worth)


@dataclass(frozen=True)
class SensorStats:
    devices: int
    reporting: int
    silent: int


def fleet(total: int | None = None) -> dict[str, int]:
    """How many devices of each type: :data:`FLEET`, or ``total`` devices in its proportions."""
    base = {code: count for code, (count, _) in FLEET.items()}
    if total is None:
        return base
    if total < 0:
        raise ValueError("the number of devices must be zero or more")
    size = sum(base.values())
    scaled = {code: count * total // size for code, count in base.items()}
    # The remainder goes to the types with the largest fractions (largest remainder method).
    by_fraction = sorted(base, key=lambda code: (-(base[code] * total % size), code))
    for code in by_fraction[: total - sum(scaled.values())]:
        scaled[code] += 1
    return scaled


def install_sensors(
    rt: Runtime, cmap: CityMap, *, seed: int, now: datetime, devices_total: int | None = None
) -> SensorStats:
    """Register the fleet (``devices_total`` devices in its mix, or :data:`FLEET`) and send
    every reporting device's latest message."""
    rng = random.Random(seed)
    types = {t.code: t for t in devices.list_types(rt, actor=SYSTEM)}
    rows, installed = _inventory(cmap, types, rng, fleet(devices_total))
    report = devices.import_devices(rt, actor=SYSTEM, data=rows, filename="demo-sensors.csv")
    reporting, silent = _first_readings(rt, types, installed, rng, now)
    return SensorStats(devices=report.created, reporting=reporting, silent=silent)


def wake_sensors(rt: Runtime, *, seed: int, now: datetime) -> SensorStats:
    """The fleet of a demo city started again after its sensors fell silent (the next day, a
    month later): every active device reports now, but for a share left silent as in a new
    city, so that the simulator, which drives the devices online, has its fleet back."""
    rng = random.Random(seed)
    types = {t.code: t for t in devices.list_types(rt, actor=SYSTEM)}
    installed = [(d.device_id, d.type_code, "active") for d in registered_fleet(rt)]
    reporting, silent = _first_readings(rt, types, installed, rng, now)
    return SensorStats(devices=len(installed), reporting=reporting, silent=silent)


def _first_readings(
    rt: Runtime,
    types: dict[str, DeviceTypeOut],
    installed: list[tuple[str, str, str]],
    rng: random.Random,
    now: datetime,
) -> tuple[int, int]:
    """Send each active device's latest message (SILENT_SHARE of them a day old: the offline
    scan reports them once the demo runs); (reporting, silent)."""
    messages, silent = [], 0
    for device_id, type_code, status in installed:
        kind = types[type_code]
        if status != "active":
            continue
        if rng.random() < SILENT_SHARE:
            silent += 1
            received = now - timedelta(hours=rng.uniform(20, 30))
        else:
            received = now - timedelta(seconds=rng.uniform(0, kind.interval_seconds))
        messages.append((device_id, everyday_payload(kind, rng), received))
    for start in range(0, len(messages), INGEST_BATCH):
        devices.ingest_batch(rt, messages[start : start + INGEST_BATCH])
    return len(messages) - silent, silent


def _inventory(
    cmap: CityMap, types: dict[str, DeviceTypeOut], rng: random.Random, counts: dict[str, int]
) -> tuple[bytes, list[tuple[str, str, str]]]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "type", "name", "lon", "lat", "address", "installed_on", "status"])
    installed = []
    for type_code, (_, prefix) in FLEET.items():
        for number in range(1, counts[type_code] + 1):
            spot = cmap.spot_in(cmap.random_grid(rng), rng)
            device_id = f"{prefix}-{number:06d}"
            status = "maintenance" if rng.random() < MAINTENANCE_SHARE else "active"
            installed_on = datetime(2024, 1, 1) + timedelta(days=rng.randrange(0, 700))
            name = f"{spot.road}{types[type_code].name_zh}{number:03d}"
            writer.writerow(
                [device_id, type_code, name, f"{spot.lon:.6f}", f"{spot.lat:.6f}",
                 spot.address, installed_on.date().isoformat(), status]
            )  # fmt: skip
            installed.append((device_id, type_code, status))
    return out.getvalue().encode(), installed


def everyday_payload(kind: DeviceTypeOut, rng: random.Random) -> bytes:
    """A message of everyday values of each of the type's metrics (battery and signal for
    battery-powered types), as ``{"values": {…}}``."""
    values = {}
    for metric in kind.metrics:
        if metric.common and kind.code not in BATTERY_POWERED:
            continue
        low, high = TYPICAL_BY_TYPE.get((kind.code, metric.code)) or TYPICAL.get(
            metric.code, (metric.min, metric.min + (metric.max - metric.min) * 0.2)
        )
        values[metric.code] = round(rng.uniform(low, high), 2)
    return json.dumps({"values": values}).encode()
