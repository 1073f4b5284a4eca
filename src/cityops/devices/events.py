"""Typed events and audit tags of the devices module (``devices:<subject>:<action>``).

Events are published after the transaction that caused them commits; ``ReadingsStored`` carries
the batch's accepted readings per device so that rule evaluation needs no query.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from cityops.core.bus import Event
from cityops.devices.payload import Sample

__all__ = [
    "DeviceCameOnline",
    "DeviceReadings",
    "DeviceRegistered",
    "DeviceUpdated",
    "DeviceWentOffline",
    "ReadingsStored",
    "Sample",
]

DEVICE_REGISTERED = "devices:device:registered"
DEVICE_UPDATED = "devices:device:updated"
DEVICES_IMPORTED = "devices:device:imported"
# Audit tags, not secrets.
TOKEN_ISSUED = "devices:token:issued"  # noqa: S105
TOKEN_REVOKED = "devices:token:revoked"  # noqa: S105
TYPES_IMPORTED = "devices:type:imported"
TELEMETRY_ARCHIVED = "devices:telemetry:archived"


@dataclass(frozen=True)
class DeviceRegistered(Event):
    tag: ClassVar[str] = DEVICE_REGISTERED
    device_id: str
    type_code: str
    department_id: uuid.UUID
    area_path: str
    lon: float
    lat: float


@dataclass(frozen=True)
class DeviceUpdated(Event):
    """A device's registration changed (``changes``: the field names), e.g. its status."""

    tag: ClassVar[str] = DEVICE_UPDATED
    device_id: str
    status: str
    changes: tuple[str, ...]


@dataclass(frozen=True)
class DeviceReadings:
    device_id: str
    type_code: str
    department_id: uuid.UUID
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class ReadingsStored(Event):
    """One ingest batch was stored: the accepted readings of each device in it."""

    tag: ClassVar[str] = "devices:readings:stored"
    received_at: datetime
    devices: tuple[DeviceReadings, ...]


@dataclass(frozen=True)
class DeviceWentOffline(Event):
    """The offline scan found a device silent past its limit (published once per silence)."""

    tag: ClassVar[str] = "devices:device:offline"
    device_id: str
    type_code: str
    department_id: uuid.UUID
    last_seen_at: datetime | None
    offline_since: datetime


@dataclass(frozen=True)
class DeviceCameOnline(Event):
    """A device counted offline (or never heard from) sent a message again."""

    tag: ClassVar[str] = "devices:device:online"
    device_id: str
    type_code: str
    department_id: uuid.UUID
    at: datetime
