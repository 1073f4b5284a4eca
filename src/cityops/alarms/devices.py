"""What the alarms module takes in: readings (``Sample``) and facts about devices
(``DeviceDirectory``). The module that owns devices and telemetry provides both; the composition
root connects them, so this module depends on no device code (see docs/alarms.md, "Wiring").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cityops.core.runtime import Runtime


@dataclass(frozen=True)
class Sample:
    """One device's readings at one (aware) time: ``values`` maps metric names to numbers."""

    device_id: str
    device_type: str
    ts: datetime
    values: Mapping[str, float]


@dataclass(frozen=True)
class DeviceInfo:
    """What an alarm needs to know about its device: where it is and who owns it."""

    device_id: str
    type: str
    lon: float
    lat: float
    department_code: str | None
    name: str = ""


class DeviceDirectory(Protocol):
    """Looks devices up for the alarms module (implemented by the devices module)."""

    def device_info(self, device_ids: Collection[str]) -> Mapping[str, DeviceInfo]:
        """The devices among ``device_ids`` that exist (unknown ids are left out)."""
        ...

    def type_metrics(self, type_code: str) -> Collection[str] | None:
        """The metric names of a device type, or None when the type is unknown."""
        ...


class StaticDevices:
    """An in-memory directory: for tests, the embedded demo, and until devices are wired."""

    def __init__(
        self,
        devices: Iterable[DeviceInfo] = (),
        types: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.devices = {device.device_id: device for device in devices}
        self.types = {code: frozenset(metrics) for code, metrics in (types or {}).items()}

    def add(self, device: DeviceInfo) -> None:
        self.devices[device.device_id] = device

    def device_info(self, device_ids: Collection[str]) -> Mapping[str, DeviceInfo]:
        return {i: self.devices[i] for i in device_ids if i in self.devices}

    def type_metrics(self, type_code: str) -> Collection[str] | None:
        return self.types.get(type_code)


def by_device(samples: Sequence[Sample]) -> dict[str, list[Sample]]:
    """Samples grouped per device, each device's in time order."""
    grouped: dict[str, list[Sample]] = {}
    for sample in samples:
        grouped.setdefault(sample.device_id, []).append(sample)
    for rows in grouped.values():
        rows.sort(key=lambda s: s.ts)
    return grouped


_KEY = "alarms.devices"


def attach(rt: Runtime, directory: DeviceDirectory) -> None:
    """Give the alarms module its device directory (the composition root does this); rule
    administration then checks metric names against the device type's metrics."""
    rt.caches[_KEY] = directory


def attached(rt: Runtime) -> DeviceDirectory | None:
    found: DeviceDirectory | None = rt.caches.get(_KEY)
    return found
