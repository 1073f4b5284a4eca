"""Tables of the devices module. Foreign keys to org tables are by table name only.

Readings are the volume table: one row per sample of a device (device, time, its values as a
JSON object of metric: number), whose primary key is also the index every device query uses;
times are epoch milliseconds (BIGINT), so buckets of any step are integer arithmetic on every
database and a redelivered message (MQTT QoS 1) is the same row, skipped on insert. A row per
sample rather than per value keeps the table and its indexes about a third of the size and
costs the database a third of the index entries per data point; queries that need values one
by one expand the JSON (``devices.points``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cityops.core.db.base import Base, JSONType, Timestamps, uuid_pk

DEVICE_ID_LENGTH = 64


class DeviceType(Base):
    """A kind of sensor: its metrics (JSON list of MetricSpec dicts) and reporting interval."""

    __tablename__ = "devices_types"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    department_kind: Mapped[str] = mapped_column(String(32))
    interval_seconds: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[list[Any]] = mapped_column(default=list)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Device(Timestamps, Base):
    __tablename__ = "devices"
    __table_args__ = (
        Index("ix_devices_type_status", "type_code", "status"),
        Index("ix_devices_department_id", "department_id"),
        Index("ix_devices_area_path", "area_path"),
        Index("ix_devices_online_offline_after", "online", "offline_after"),
    )

    id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    type_code: Mapped[str] = mapped_column(ForeignKey("devices_types.code"))
    name: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    area_path: Mapped[str] = mapped_column(String(255))
    district_id: Mapped[uuid.UUID | None]
    street_id: Mapped[uuid.UUID | None]
    community_id: Mapped[uuid.UUID | None]
    grid_id: Mapped[uuid.UUID | None]
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_departments.id"))
    installed_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # HTTP credential: a keyed digest of the token (the token itself is shown once).
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str | None] = mapped_column(String(16))
    token_issued_at: Mapped[datetime | None]
    # Health: last message received, and the moment the device counts as offline without one.
    last_seen_at: Mapped[datetime | None]
    offline_after: Mapped[datetime | None]
    # What the offline scan last concluded, so it reports each change once.
    online: Mapped[bool] = mapped_column(Boolean, default=False)


class Reading(Base):
    """One sample of a device: its values at one time, ``{"<metric>": <number>, …}``.

    Plain JSON (not JSONB) on PostgreSQL: stored as written, with nothing to convert on insert.
    """

    __tablename__ = "devices_readings"
    # Time ranges of all devices: what the rollup job and the archive read.
    __table_args__ = (Index("ix_devices_readings_ts", "ts"),)

    device_id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    ts: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch milliseconds
    data: Mapped[dict[str, float]] = mapped_column(JSON)


class _Rollup:
    """Aggregates of the readings of one (device, metric) in one bucket (start, epoch ms):
    count, min, max and sum, so that coarser buckets and averages derive exactly."""

    device_id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    sum: Mapped[float] = mapped_column(Float)


class Rollup1m(_Rollup, Base):
    __tablename__ = "devices_rollups_1m"
    # Time ranges of all devices: the 1-hour rollups and the retention read them by time.
    __table_args__ = (Index("ix_devices_rollups_1m_bucket", "bucket"),)


class Rollup1h(_Rollup, Base):
    __tablename__ = "devices_rollups_1h"


class RollupMark(Base):
    """How far each rollup resolution is complete: every bucket before ``upto`` (epoch ms)."""

    __tablename__ = "devices_rollup_marks"

    resolution: Mapped[str] = mapped_column(String(8), primary_key=True)
    upto: Mapped[int] = mapped_column(BigInteger)


class RollupDirty(Base):
    """An hour of a device that received readings late (behind the rollups): the rollup job
    recomputes its buckets and removes the row."""

    __tablename__ = "devices_rollup_dirty"

    device_id: Mapped[str] = mapped_column(String(DEVICE_ID_LENGTH), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class LatestValue(Base):
    """The newest reading of each metric of a device, ``{"<metric>": [<ts>, <value>], …}``:
    one row per device, merged metric by metric with every batch (the newer time wins, the
    later of equal times), and ``ts`` the newest of those times: a batch whose values are all
    at least that new is merged without looking at them one by one. On PostgreSQL JSONB, with
    half of each page free so the rewrite stays on its page (a heap-only update)."""

    __tablename__ = "devices_latest"
    __table_args__ = ({"postgresql_with": {"fillfactor": 50}},)

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    ts: Mapped[int] = mapped_column(BigInteger)  # epoch milliseconds
    data: Mapped[dict[str, list[float]]] = mapped_column(JSONType)


class Rejection(Base):
    """Messages (or values) of a device refused by the ingester, counted by reason."""

    __tablename__ = "devices_rejections"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    last_at: Mapped[datetime]
    last_detail: Mapped[str] = mapped_column(String(300), default="")


class HealthEvent(Base):
    """The device's health history (设备健康档案): offline/online, status changes."""

    __tablename__ = "devices_health_events"
    __table_args__ = (Index("ix_devices_health_events_device_at", "device_id", "at"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
