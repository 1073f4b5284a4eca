"""In/out types of the cases module."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
)

from cityops.org.schemas import AreaRef, DepartmentRef, UserRef

Source = Literal["citizen", "gridworker", "hotline", "open311", "sensor", "internal"]
Priority = Literal["urgent", "high", "normal"]
# A sender's reference for one command (an offline phone's queue entry), so a resend is safe.
CLIENT_REF_PATTERN = r"^[A-Za-z0-9_.:-]+$"


class Point(BaseModel):
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude")


class Reporter(BaseModel):
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32, pattern=r"^[0-9+\- ()]{3,32}$")


class CaseIn(BaseModel):
    """A new report. ``category_code`` is optional for citizens (the operator sets it)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=200)
    description: str = Field(min_length=2, max_length=5000)
    category_code: str | None = Field(default=None, max_length=32)
    location: Point
    address: str | None = Field(default=None, max_length=300)
    photos: list[uuid.UUID] = Field(default_factory=list)
    source: Source | None = None
    reporter: Reporter | None = None
    client_ref: str | None = Field(default=None, max_length=64, pattern=CLIENT_REF_PATTERN)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("description", "title")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class CategoryRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name_zh: str
    name_en: str


class CaseLocation(BaseModel):
    lon: float
    lat: float
    address: str | None
    area_path: str
    district: AreaRef | None = None
    street: AreaRef | None = None
    community: AreaRef | None = None
    grid: AreaRef | None = None


class Due(BaseModel):
    register_by: datetime | None
    dispatch_by: datetime | None
    handle_by: datetime | None
    stage: str | None
    status: str


class MachineDispatch(BaseModel):
    """The current dispatch was made by the classifier (智能派单), not by a person."""

    model: str
    confidence: float
    label: str


class CaseOut(BaseModel):
    id: uuid.UUID
    number: int
    title: str
    description: str
    state: str
    priority: str
    source: str
    category: CategoryRef | None
    location: CaseLocation
    department: DepartmentRef | None
    assignee: UserRef | None
    reporter: UserRef | None
    reporter_name: str | None
    reporter_phone: str | None
    due: Due
    escalation_level: int
    urge_count: int
    return_count: int
    verify_fail_count: int
    reopen_count: int
    rating: int | None
    rating_comment: str | None
    merged_into: uuid.UUID | None
    # The surviving case's number, for the reporter told "merged into #N".
    merged_into_number: int | None = None
    duplicate_count: int
    machine_dispatch: MachineDispatch | None = None
    photos: list[uuid.UUID]
    attributes: dict[str, Any]
    allowed_actions: list[str]
    created_at: datetime
    updated_at: datetime
    registered_at: datetime | None
    dispatched_at: datetime | None
    accepted_at: datetime | None
    handled_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    evaluated_at: datetime | None


class CaseEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    action: str
    from_state: str | None
    to_state: str
    actor_id: uuid.UUID | None
    actor_name: str
    actor_role: str
    note: str | None
    data: dict[str, Any]
    photos: list[uuid.UUID] = Field(default_factory=list)


class CaseFilter(BaseModel):
    state: list[str] = Field(default_factory=list)
    category: str | None = None
    district: str | None = None
    department: str | None = None
    sla_status: Literal["ok", "warning", "overdue"] | None = None
    source: str | None = None
    # With an offset: the columns hold instants, and a bare wall-clock time is ambiguous.
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    q: str | None = Field(default=None, max_length=100)
    mine: bool = False
    near: Point | None = None
    radius_m: float | None = Field(default=None, gt=0, le=50_000)


# --- action bodies -------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoteBody(_Body):
    note: str | None = Field(default=None, max_length=2000)


class ReasonBody(_Body):
    reason: str = Field(max_length=2000)


class UrgeBody(_Body):
    """督办 carries a note; ``reason``, as the other pressing actions name it, is accepted too."""

    note: str = Field(max_length=2000, validation_alias=AliasChoices("note", "reason"))


class RegisterBody(_Body):
    note: str | None = Field(default=None, max_length=2000)
    category_code: str | None = Field(default=None, max_length=32)
    priority: Priority | None = None
    dispatch: bool = Field(default=False, description="dispatch right away by the routing rules")


class DispatchBody(_Body):
    department_code: str | None = Field(
        default=None, description="omit to use the category/jurisdiction routing rules"
    )
    category_code: str | None = Field(
        default=None, max_length=32, description="correct the category while dispatching"
    )
    note: str | None = Field(default=None, max_length=2000)


class ReassignBody(_Body):
    department_code: str
    reason: str = Field(max_length=2000)


class AssignBody(_Body):
    username: str
    note: str | None = Field(default=None, max_length=2000)


class HandleBody(_Body):
    note: str = Field(max_length=4000)
    photos: list[uuid.UUID] = Field(default_factory=list)


class VerifyBody(_Body):
    passed: bool
    note: str | None = Field(default=None, max_length=2000)
    photos: list[uuid.UUID] = Field(default_factory=list)
    client_ref: str | None = Field(
        default=None,
        max_length=64,
        pattern=CLIENT_REF_PATTERN,
        description="the sender's reference for this command: a resend answers the first result",
    )


class EvaluateBody(_Body):
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)


class MergeBody(_Body):
    into: uuid.UUID
    note: str | None = Field(default=None, max_length=2000)


class UploadOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    sha256: str
    content_type: str
    size: int
    width: int
    height: int
    created_at: datetime


# --- categories ----------------------------------------------------------------------------


class DuplicateOut(BaseModel):
    """A duplicate proposal seen from one case: the other case, the score and its parts."""

    id: uuid.UUID
    case_id: uuid.UUID = Field(description="the later report")
    candidate_id: uuid.UUID = Field(description="the earlier open case it would join")
    direction: Literal["earlier", "later"] = Field(
        description="earlier: the other case is the earlier one this case would be merged into"
    )
    other_id: uuid.UUID
    other_number: int
    other_title: str
    other_state: str
    other_address: str | None
    other_created_at: datetime
    score: float
    components: dict[str, float]
    status: Literal["proposed", "merged", "dismissed"]
    created_at: datetime
    decided_at: datetime | None


class HotspotOut(BaseModel):
    """热点问题: reports about one problem at one place in the period, and its heat."""

    category: CategoryRef
    lon: float = Field(description="the centre of the reports")
    lat: float
    address: str | None = Field(description="the address given most often")
    district: AreaRef | None
    street: AreaRef | None
    title: str = Field(description="the title of the first report")
    reports: int
    reporters: int = Field(description="distinct reporters (accounts or caller phones)")
    first_at: datetime
    last_at: datetime
    score: float
    growth: float = Field(description="later half of the period vs earlier half, (n+1)/(m+1)")
    case_ids: list[uuid.UUID]
    case_numbers: list[int]


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    parent_code: str | None = None
    name_zh: str = Field(min_length=1, max_length=100)
    name_en: str = Field(min_length=1, max_length=150)
    kind: Literal["component", "event", "appeal"]
    department_kind: str | None = Field(default=None, max_length=32)
    register_hours: float | None = Field(default=None, gt=0, le=10_000)
    dispatch_hours: float | None = Field(default=None, gt=0, le=10_000)
    handle_hours: float | None = Field(default=None, gt=0, le=10_000)
    priority: Priority = "normal"
    keywords: list[str] = Field(default_factory=list, max_length=50)
    active: bool = True
    # Duplicate search; left out: the parent group's values (docs/duplicates.md).
    duplicate_radius_m: float | None = Field(default=None, ge=10, le=2000)
    duplicate_window_hours: float | None = Field(default=None, ge=1, le=720)


class CategoryUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_zh: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, min_length=1, max_length=150)
    department_kind: str | None = Field(default=None, max_length=32)
    register_hours: float | None = Field(default=None, gt=0, le=10_000)
    dispatch_hours: float | None = Field(default=None, gt=0, le=10_000)
    handle_hours: float | None = Field(default=None, gt=0, le=10_000)
    priority: Priority | None = None
    keywords: list[str] | None = None
    active: bool | None = None
    duplicate_radius_m: float | None = Field(default=None, ge=10, le=2000)
    duplicate_window_hours: float | None = Field(default=None, ge=1, le=720)


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    parent_code: str | None = None
    name_zh: str
    name_en: str
    kind: str
    department_kind: str | None
    register_hours: float | None
    dispatch_hours: float | None
    handle_hours: float | None
    priority: str
    keywords: list[str]
    active: bool
    duplicate_radius_m: float
    duplicate_window_hours: float


class RouteIn(BaseModel):
    area_code: str
    department_code: str


class RouteOut(BaseModel):
    category_code: str
    area_code: str
    department: DepartmentRef


class CalendarDayOut(BaseModel):
    """One date of the working calendar: whether it is a working day, and why."""

    day: date
    working: bool
    override: Literal["holiday", "workday"] | None = Field(
        description="a holiday or make-up working day set by an admin; null: the weekly pattern"
    )
    name: str


class CalendarDayIn(BaseModel):
    day: datetime | str
    working: bool
    name: str = Field(default="", max_length=100)


class Suggestion(BaseModel):
    """The department the routing rules pick for a case, and why."""

    department: DepartmentRef | None
    rule: Literal["route", "kind", "none"]
    explanation: str
