"""Tables of the alarms module. Devices are referred to by their id string (owned by the
devices module); cases by id only (owned by the cases module, reached through its service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.core.db.base import Base, Timestamps, uuid_pk


class AlarmRule(Timestamps, Base):
    """A rule for every device of a type (see rules.py for what each field means)."""

    __tablename__ = "alarms_rules"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    device_type: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str | None] = mapped_column(String(64))
    # [{"severity": "warning", "above": 2.5, "below": null}, …]
    levels: Mapped[list[Any]] = mapped_column(default=list)
    deadband: Mapped[float] = mapped_column(Float, default=0.0)
    for_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    window_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    silence_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Alarm → case: alarms of at least this severity open a case of this category.
    case_severity: Mapped[str | None] = mapped_column(String(16))
    case_category: Mapped[str | None] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlarmRuleOverride(Timestamps, Base):
    """One device's changes to a rule of its type (null fields keep the rule's values)."""

    __tablename__ = "alarms_rule_overrides"
    __table_args__ = (UniqueConstraint("rule_id", "device_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alarms_rules.id"))
    device_id: Mapped[str] = mapped_column(String(64), index=True)
    enabled: Mapped[bool | None] = mapped_column(Boolean)
    levels: Mapped[list[Any] | None]
    deadband: Mapped[float | None] = mapped_column(Float)
    for_seconds: Mapped[float | None] = mapped_column(Float)
    window_seconds: Mapped[float | None] = mapped_column(Float)
    silence_seconds: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(500))


class RuleState(Base):
    """The evaluation state of one (device, rule): rules.RuleState as JSON, plus, for no-data
    rules, when the device falls silent (``silent_at``, what the scan looks up) and the
    device's facts as last seen (the scan has no readings to ask about them)."""

    __tablename__ = "alarms_rule_states"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alarms_rules.id"), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    silent_at: Mapped[datetime | None] = mapped_column(index=True)
    device: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime]


class Alarm(Timestamps, Base):
    """One alarm of one device and rule; repeats update it until it is cleared."""

    __tablename__ = "alarms"
    __table_args__ = (
        # "<device id>|<rule id>" while the alarm is open, NULL once cleared: at most one
        # open alarm per device and rule, on any database (NULLs never collide).
        UniqueConstraint("open_key"),
        Index("ix_alarms_device_rule", "device_id", "rule_id"),
        Index("ix_alarms_state_area", "state", "area_path"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    open_key: Mapped[str | None] = mapped_column(String(120))
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alarms_rules.id"))
    rule_code: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    metric: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str] = mapped_column(String(64))
    device_type: Mapped[str] = mapped_column(String(64), index=True)
    device_name: Mapped[str] = mapped_column(String(200), default="")
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    area_path: Mapped[str | None] = mapped_column(String(255))
    department_code: Mapped[str | None] = mapped_column(String(64), index=True)
    department_id: Mapped[uuid.UUID | None]
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    severity_rank: Mapped[int] = mapped_column(SmallInteger)
    raised_at: Mapped[datetime] = mapped_column(index=True)
    last_at: Mapped[datetime]
    first_value: Mapped[float | None] = mapped_column(Float)
    last_value: Mapped[float | None] = mapped_column(Float)
    peak_value: Mapped[float | None] = mapped_column(Float)
    count: Mapped[int] = mapped_column(Integer, default=1)
    # A bounded sample of the readings: the first ones and the most recent ones.
    readings: Mapped[list[Any]] = mapped_column(default=list)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(150))
    cleared_at: Mapped[datetime | None]
    cleared_by: Mapped[str | None] = mapped_column(String(150))
    clear_note: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # True while a case is due and not yet opened (retried by the periodic job).
    case_pending: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    case_error: Mapped[str | None] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic locking


class AlarmEvent(Base):
    """One step of an alarm's history; the live feed reads new ones (ids are UUIDv7)."""

    __tablename__ = "alarms_events"

    id: Mapped[uuid.UUID] = uuid_pk()
    alarm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(150))
    actor_role: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
