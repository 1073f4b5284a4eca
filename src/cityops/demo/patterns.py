"""What simulated sensors read: daily patterns with noise per metric, and injected incidents.

Pure: every value is a function of the device, the metric, the local time of day, the
device's own random stream and the incidents in force, so tests can check the shapes
(traffic peaks at the rush hours, PM2.5 higher at night than in the afternoon, water rising
with rain) without a broker or a database.

- traffic (``vehicle_count``, ``avg_speed``, ``occupancy``): two rush-hour peaks (08:00 and
  18:00), a night trough; speed falls as the count rises;
- air (``pm25``, ``pm10``, ``aqi`` …): diurnal, highest in the small hours and the morning
  rush, lowest in the afternoon when the boundary layer mixes;
- noise (``laeq``, ``lmax``): loud in the day, quiet at night;
- water (``water_level``, ``flow_velocity``, ``rainfall``): a steady level that rises with
  the rain (an incident of kind ``flooding`` brings the rain);
- everything else: a level in its everyday range with small noise.

Incidents: ``flooding`` (water-level gauges: heavy rain, the level climbs far over the
line), ``gas_leak`` (gas-pressure sensors: the pressure falls, the concentration climbs),
``stuck`` (the device repeats the value it read when the incident began) and ``silent``
(the device stops reporting).
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

INCIDENT_KINDS = ("flooding", "gas_leak", "stuck", "silent")
# The device types an incident can strike (None: any type).
INCIDENT_TYPES: dict[str, str | None] = {
    "flooding": "water_level",
    "gas_leak": "gas_pressure",
    "stuck": None,
    "silent": None,
}

# Everyday (low, high) per metric; the plausible ranges of the catalogue are far wider.
TYPICAL: dict[str, tuple[float, float]] = {
    "vehicle_count": (20, 400),
    "avg_speed": (15, 60),
    "occupancy": (5, 60),
    "pm25": (15, 80),
    "pm10": (30, 120),
    "no2": (15, 60),
    "o3": (40, 140),
    "so2": (3, 15),
    "co": (0.4, 1.2),
    "aqi": (30, 120),
    "temperature": (8, 22),
    "humidity": (50, 90),
    "laeq": (45, 72),
    "lmax": (60, 90),
    "water_level": (1.5, 4.0),
    "flow_velocity": (0.2, 1.5),
    "rainfall": (0, 5),
    "well_water_level": (10, 80),
    "pressure": (200, 400),
    "gas_concentration": (0, 2),
    "strain": (-200, 200),
    "vibration": (0.1, 2),
    "smoke_density": (0, 0.5),
    "cover_open": (0, 0),
    "alarm": (0, 0),
    "tilt": (0, 2),
    "displacement": (0, 3),
    "battery": (40, 100),
    "rssi": (-105, -65),
}
AIR = frozenset({"pm25", "pm10", "no2", "co", "so2", "aqi"})
# Flooding: metres over the everyday level at full strength, and mm of rain an interval.
FLOOD_RISE = 1.2
FLOOD_RAIN = 60.0


@dataclass(frozen=True, slots=True)
class Incident:
    """``kind`` strikes ``share`` (0..1] of the devices it applies to, from ``start`` (seconds
    after the simulation began) on."""

    kind: str
    start: float = 0.0
    share: float = 0.1

    def __post_init__(self) -> None:
        if self.kind not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident {self.kind!r}; one of {', '.join(INCIDENT_KINDS)}")
        if not 0 < self.share <= 1:
            raise ValueError("an incident's share must be in (0, 1]")
        if self.start < 0:
            raise ValueError("an incident's start must not be negative")

    def strikes(self, device_id: str, type_code: str) -> bool:
        """Whether this device is among the share struck (stable: a hash of the id)."""
        wanted = INCIDENT_TYPES[self.kind]
        if wanted is not None and wanted != type_code:
            return False
        bucket = zlib.crc32(f"{self.kind}:{device_id}".encode()) % 10_000
        return bucket < self.share * 10_000


def parse_incident(text: str) -> Incident:
    """``KIND[@START_SECONDS][:SHARE]``, e.g. ``flooding@60:0.2`` (from 60 s on, 20 %)."""
    kind, _, share = text.partition(":")
    kind, _, start = kind.partition("@")
    try:
        return Incident(
            kind.strip(),
            start=float(start) if start else 0.0,
            share=float(share) if share else 0.1,
        )
    except ValueError as exc:
        raise ValueError(f"bad incident {text!r}: {exc}") from None


def rush_hours(hour: float) -> float:
    """0..1 traffic intensity over the day: peaks at 08:00 and 18:00, trough at 03:00."""
    morning = math.exp(-(((hour - 8.0) / 1.3) ** 2))
    evening = math.exp(-(((hour - 18.0) / 1.6) ** 2))
    day = 0.35 * (1 + math.cos((hour - 13.0) / 24 * 2 * math.pi)) / 2
    return min(1.0, max(morning, evening * 0.95) + day + 0.03)


def air_cycle(hour: float) -> float:
    """0..1 PM level over the day: high at night and in the morning rush, low at 15:00."""
    return (
        0.5
        + 0.4 * math.cos((hour - 3.0) / 24 * 2 * math.pi)
        + 0.2 * math.exp(-(((hour - 8.5) / 1.5) ** 2))
    )


def noise_cycle(hour: float) -> float:
    """0..1 loudness: day loud, night quiet."""
    return 0.5 - 0.45 * math.cos((hour - 2.0) / 24 * 2 * math.pi)


def _hour(at: datetime) -> float:
    return at.hour + at.minute / 60 + at.second / 3600


class DeviceModel:
    """One simulated device: its metrics and its own random stream (seeded from its id)."""

    def __init__(
        self, device_id: str, type_code: str, metrics: Sequence[str], *, seed: int = 0
    ) -> None:
        self.device_id = device_id
        self.type_code = type_code
        self.metrics = tuple(metrics)
        self.rng = random.Random(zlib.crc32(f"{seed}:{device_id}".encode()))
        self.bias = self.rng.uniform(-0.1, 0.1)  # each device sits a little off the mean
        self.frozen: dict[str, float] | None = None  # a stuck sensor's last good reading

    def silent(self, elapsed: float, incidents: Iterable[Incident]) -> bool:
        return any(
            i.kind == "silent" and elapsed >= i.start and i.strikes(self.device_id, self.type_code)
            for i in incidents
        )

    def read(
        self, at: datetime, elapsed: float, incidents: Sequence[Incident] = ()
    ) -> dict[str, float]:
        """The values this device reports at local time ``at``, ``elapsed`` seconds into the
        simulation."""
        active = {
            i.kind: i
            for i in incidents
            if elapsed >= i.start and i.strikes(self.device_id, self.type_code)
        }
        if "stuck" in active and self.frozen is not None:
            return dict(self.frozen)
        hour = _hour(at)
        values = {metric: self._value(metric, hour, active, elapsed) for metric in self.metrics}
        self.frozen = values  # what a sensor sticking from now on would repeat
        return values

    def _value(
        self, metric: str, hour: float, active: Mapping[str, Incident], elapsed: float
    ) -> float:
        low, high = TYPICAL.get(metric, (0.0, 1.0))
        span = high - low
        noise = self.rng.gauss(0, 0.03)
        if metric == "vehicle_count":
            level = rush_hours(hour)
        elif metric == "avg_speed":
            level = 1.0 - 0.8 * rush_hours(hour)
        elif metric == "occupancy":
            level = 0.9 * rush_hours(hour)
        elif metric in AIR:
            level = 0.7 * air_cycle(hour)
        elif metric in ("laeq", "lmax"):
            level = noise_cycle(hour)
        elif metric == "temperature":
            level = 0.5 - 0.4 * math.cos((hour - 4.0) / 24 * 2 * math.pi)
        else:
            level = 0.4
        value = low + span * min(1.2, max(0.0, level + self.bias + noise))
        flood = active.get("flooding")
        if flood is not None:
            # The rain sets in over five minutes and stays.
            strength = min(1.0, (elapsed - flood.start) / 300 + 0.2)
            if metric == "water_level":
                value = high + FLOOD_RISE * strength + self.rng.gauss(0, 0.02)
            elif metric == "rainfall":
                value = FLOOD_RAIN * strength + self.rng.gauss(0, 2)
            elif metric == "flow_velocity":
                value = high + 1.5 * strength
        leak = active.get("gas_leak")
        if leak is not None:
            strength = min(1.0, (elapsed - leak.start) / 120 + 0.2)
            if metric == "pressure":
                value = low * (1 - 0.7 * strength)
            elif metric == "gas_concentration":
                value = 5 + 40 * strength + self.rng.gauss(0, 1)
        if metric in ("cover_open", "alarm"):
            value = 0.0
        return round(max(value, 0.0) if low >= 0 else value, 3)
