"""In/out types of the devices module (also used by other modules: alarms, the MQTT worker)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cityops.org.schemas import AreaRef, DepartmentRef

DEVICE_ID_PATTERN = r"^[A-Za-z0-9_-]{3,64}$"
DeviceStatus = Literal["active", "maintenance", "retired"]
STATUSES: tuple[str, ...] = ("active", "maintenance", "retired")
HealthState = Literal["online", "offline", "never_seen"]
ImportMode = Literal["all_or_nothing", "valid_rows"]


class MetricOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    unit: str
    min: float
    max: float
    common: bool = Field(default=False, description="reported by any type (battery, signal)")


class DeviceTypeOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    department_kind: str
    interval_seconds: int
    metrics: list[MetricOut]


class DeviceTypeRef(BaseModel):
    code: str
    name_zh: str
    name_en: str


class Point(BaseModel):
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceIn(_Body):
    """A device to register. Without ``department_code`` the owner is the department of the
    type's kind whose jurisdiction holds the location (the way cases are routed)."""

    id: str = Field(pattern=DEVICE_ID_PATTERN, description="the maker's device code")
    type: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    location: Point
    address: str | None = Field(default=None, max_length=300)
    department_code: str | None = Field(default=None, max_length=64)
    installed_on: date | None = None
    status: DeviceStatus = "active"

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class DeviceUpdate(_Body):
    """Fields to change; those left out stay. The id and type are fixed at registration."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    location: Point | None = None
    address: str | None = Field(default=None, max_length=300)
    department_code: str | None = Field(default=None, max_length=64)
    installed_on: date | None = None
    status: DeviceStatus | None = None


class DeviceLocation(BaseModel):
    lon: float
    lat: float
    address: str | None
    area_path: str
    district: AreaRef | None = None
    street: AreaRef | None = None
    community: AreaRef | None = None
    grid: AreaRef | None = None


class HealthBrief(BaseModel):
    state: HealthState
    last_seen_at: datetime | None
    offline_after: datetime | None


class DeviceOut(BaseModel):
    id: str
    type: DeviceTypeRef
    name: str
    location: DeviceLocation
    department: DepartmentRef | None
    installed_on: date | None
    status: str
    health: HealthBrief
    token_prefix: str | None = Field(description="first characters of the HTTP token, if any")
    token_issued_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeviceFilter(BaseModel):
    type: str | None = None
    status: DeviceStatus | None = None
    department: str | None = None
    district: str | None = None
    q: str | None = Field(default=None, max_length=100)
    online: bool | None = None


class RowError(BaseModel):
    row: int = Field(description="1-based row of the file, the header being row 1")
    column: str
    code: str
    message: str


class ImportReport(BaseModel):
    mode: ImportMode
    rows: int
    created: int
    errors: list[RowError]
    created_ids: list[str] = Field(default_factory=list)


class TokenCreated(BaseModel):
    device_id: str
    token: str = Field(description="shown once; only a digest is kept")
    prefix: str
    issued_at: datetime


class IngestProblem(BaseModel):
    device_id: str | None
    reason: str
    detail: str
    index: int | None = None
    metric: str | None = None


class IngestOut(BaseModel):
    messages: int = Field(description="messages taken (a batch counts one per device)")
    accepted: int = Field(description="readings (data points) stored")
    rejected: int = Field(description="messages, samples or values refused")
    unknown_devices: int
    problems: list[IngestProblem] = Field(description="the first 100 problems")


class ValuePoint(BaseModel):
    ts: datetime
    value: float


class Bucket(BaseModel):
    ts: datetime = Field(description="start of the step")
    avg: float
    min: float
    max: float
    count: int


class Series(BaseModel):
    metric: str
    unit: str
    points: list[ValuePoint] = Field(default_factory=list)
    buckets: list[Bucket] = Field(default_factory=list)
    truncated: bool = False


class TelemetryOut(BaseModel):
    device_id: str
    since: datetime
    until: datetime
    step_seconds: int | None
    series: list[Series]


class LatestValueOut(BaseModel):
    value: float
    ts: datetime


class LatestOut(BaseModel):
    device_id: str
    type: str
    status: str
    health: HealthBrief
    values: dict[str, LatestValueOut]


class RejectionOut(BaseModel):
    reason: str
    count: int
    last_at: datetime
    last_detail: str


class HealthEventOut(BaseModel):
    at: datetime
    kind: str
    data: dict[str, object]


class HealthOut(BaseModel):
    device_id: str
    status: str
    state: HealthState
    last_seen_at: datetime | None
    offline_after: datetime | None
    interval_seconds: int
    battery: LatestValueOut | None
    rssi: LatestValueOut | None
    rejected_total: int
    rejections: list[RejectionOut]
    events: list[HealthEventOut]


class HealthGroup(BaseModel):
    code: str
    name_zh: str
    name_en: str
    devices: int = Field(description="devices not retired")
    online: int
    offline: int
    never_seen: int
    maintenance: int
    fault_rate: float | None = Field(
        description="(offline + in maintenance) / devices not retired; null with no devices"
    )
    rejected_messages: int


class HealthSummary(BaseModel):
    by_type: list[HealthGroup]
    by_department: list[HealthGroup]
