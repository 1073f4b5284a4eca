"""In/out types of the alarms module."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"
METRIC_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
DEVICE_ID_PATTERN = r"^[A-Za-z0-9_.:-]+$"
SeverityName = Literal["info", "warning", "major", "critical"]
KindName = Literal["threshold", "sustained", "rate", "no_data"]
StateName = Literal["active", "acknowledged", "cleared"]
# A day: longer durations, windows and silences belong to the device health archive.
MAX_SECONDS = 86_400 * 7


class LevelIn(BaseModel):
    """A severity and its line(s): ``above``, ``below``, or both for a band (outside it)."""

    model_config = ConfigDict(extra="forbid")

    severity: SeverityName
    above: float | None = Field(default=None, allow_inf_nan=False)
    below: float | None = Field(default=None, allow_inf_nan=False)


class _RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    levels: list[LevelIn] | None = Field(default=None, max_length=4)
    deadband: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    for_seconds: float | None = Field(default=None, ge=0, le=MAX_SECONDS)
    window_seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS)
    silence_seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS)


class RuleIn(_RuleFields):
    """A new rule for every device of ``device_type``."""

    code: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=150)
    device_type: str = Field(min_length=1, max_length=64, pattern=CODE_PATTERN)
    kind: KindName
    metric: str | None = Field(default=None, max_length=64, pattern=METRIC_PATTERN)
    levels: list[LevelIn] | None = Field(default=None, min_length=1, max_length=4)
    case_severity: SeverityName | None = None
    case_category: str | None = Field(default=None, max_length=32)
    enabled: bool = True

    @field_validator("name_zh", "name_en")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class RuleUpdate(_RuleFields):
    """Fields to change; those left out stay. ``case_severity``/``case_category`` may be set
    to null to stop opening cases. The kind, metric and device type are fixed."""

    name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=150)
    levels: list[LevelIn] | None = Field(default=None, min_length=1, max_length=4)
    case_severity: SeverityName | None = None
    case_category: str | None = Field(default=None, max_length=32)
    enabled: bool | None = None

    @field_validator("name_zh", "name_en")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("must not be null")
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class LevelOut(BaseModel):
    severity: str
    above: float | None
    below: float | None


class RuleOut(BaseModel):
    id: uuid.UUID
    code: str
    name_zh: str
    name_en: str
    device_type: str
    kind: str
    metric: str | None
    levels: list[LevelOut]
    deadband: float
    for_seconds: float
    window_seconds: float
    silence_seconds: float
    case_severity: str | None
    case_category: str | None
    enabled: bool
    overrides: int
    created_at: datetime
    updated_at: datetime


class OverrideIn(_RuleFields):
    """A device's changes to a rule; null fields keep the rule's values."""

    enabled: bool | None = None
    note: str | None = Field(default=None, max_length=500)


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    device_id: str
    enabled: bool | None
    levels: list[LevelOut] | None
    deadband: float | None
    for_seconds: float | None
    window_seconds: float | None
    silence_seconds: float | None
    note: str | None
    updated_at: datetime


class AlarmFilter(BaseModel):
    state: list[StateName] = Field(default_factory=list)
    severity: list[SeverityName] = Field(default_factory=list)
    device_id: str | None = None
    device_type: str | None = None
    department: str | None = None
    rule: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class CaseLink(BaseModel):
    id: uuid.UUID | None
    pending: bool
    error: str | None


class AlarmOut(BaseModel):
    id: uuid.UUID
    rule_code: str
    rule_name_zh: str
    rule_name_en: str
    kind: str
    metric: str | None
    device_id: str
    device_type: str
    device_name: str
    lon: float
    lat: float
    area_path: str | None
    department_code: str | None
    state: str
    severity: str
    raised_at: datetime
    last_at: datetime
    first_value: float | None
    last_value: float | None
    peak_value: float | None
    count: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    cleared_by: str | None
    clear_note: str | None
    case: CaseLink
    allowed_actions: list[str]


class ReadingOut(BaseModel):
    ts: datetime
    value: float | None
    reading: float | None


class AlarmEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    severity: str
    actor_name: str
    actor_role: str
    note: str | None
    data: dict[str, Any]


class AlarmDetail(AlarmOut):
    readings: list[ReadingOut]
    history: list[AlarmEventOut]


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=1000)


class ClearBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=1000)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class EvaluationReport(BaseModel):
    """What one batch (or one silence scan) did."""

    samples: int = 0
    skipped: int = 0  # unknown devices, or readings no rule watches
    raised: list[uuid.UUID] = Field(default_factory=list)
    updated: list[uuid.UUID] = Field(default_factory=list)
    cleared: list[uuid.UUID] = Field(default_factory=list)
    cases: list[uuid.UUID] = Field(default_factory=list)
