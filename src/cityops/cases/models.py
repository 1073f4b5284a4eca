"""Tables of the cases module. Foreign keys to org tables are by table name only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.core.db.base import Base, Timestamps, uuid_pk

CASE_NUMBER_SEQ = Sequence("cases_number_seq", metadata=Base.metadata)


class Category(Timestamps, Base):
    """事件类型: two levels (a group and its leaves); leaves carry time limits and routing."""

    __tablename__ = "cases_categories"

    id: Mapped[uuid.UUID] = uuid_pk()
    code: Mapped[str] = mapped_column(String(32), unique=True)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases_categories.id"))
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(150))
    kind: Mapped[str] = mapped_column(String(16))
    department_kind: Mapped[str | None] = mapped_column(String(32))
    register_hours: Mapped[float | None] = mapped_column(Float)
    dispatch_hours: Mapped[float | None] = mapped_column(Float)
    handle_hours: Mapped[float | None] = mapped_column(Float)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    # Duplicate search (docs/duplicates.md): how near and how recent an open case must be.
    duplicate_radius_m: Mapped[float] = mapped_column(Float, default=150.0)
    duplicate_window_hours: Mapped[float] = mapped_column(Float, default=72.0)


class CategoryRoute(Base):
    """The department responsible for a category in an area (most specific area wins)."""

    __tablename__ = "cases_category_routes"
    __table_args__ = (UniqueConstraint("category_id", "area_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    category_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases_categories.id"), index=True)
    area_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_areas.id"))
    area_path: Mapped[str] = mapped_column(String(255))
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("org_departments.id"))


class CalendarDay(Base):
    """A date that overrides the weekly pattern: a holiday, or a make-up working day (调休)."""

    __tablename__ = "cases_calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100), default="")


class Counter(Base):
    """Case numbers on databases without sequences (SQLite serialises the UPDATE)."""

    __tablename__ = "cases_counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


HANDLED = text("handled_at IS NOT NULL")
EVALUATED = text("evaluated_at IS NOT NULL")


class Case(Timestamps, Base):
    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("reporter_id", "client_ref"),
        Index("ix_cases_state_area", "state", "area_path"),
        Index("ix_cases_department_state", "department_id", "state"),
        Index("ix_cases_location", "lon", "lat"),
        # Duplicate candidates: same category, neighbouring cells, recent (docs/duplicates.md).
        Index("ix_cases_duplicate_search", "category_id", "cell", "created_at"),
        # The command screen's on-time rate and satisfaction of a period, read from the index
        # alone (cases.overview.performance); partial, so that a new case costs them nothing.
        Index(
            "ix_cases_handled",
            "handled_at",
            "department_id",
            "handle_due_at",
            sqlite_where=HANDLED,
            postgresql_where=HANDLED,
        ),
        Index(
            "ix_cases_evaluated",
            "evaluated_at",
            "department_id",
            "rating",
            sqlite_where=EVALUATED,
            postgresql_where=EVALUATED,
        ),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases_categories.id"), index=True
    )
    # Every UPDATE of a case moves its row and so touches every index: keep only those that
    # queries use (state alone is served by ix_cases_state_area).
    state: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    source: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    # The ~220 m grid cell of (lon, lat) (``duplicates.cell_of``), the key of duplicate search.
    cell: Mapped[int | None] = mapped_column(BigInteger)
    address: Mapped[str | None] = mapped_column(String(300))
    area_path: Mapped[str] = mapped_column(String(255), index=True)
    district_id: Mapped[uuid.UUID | None]
    street_id: Mapped[uuid.UUID | None]
    community_id: Mapped[uuid.UUID | None]
    grid_id: Mapped[uuid.UUID | None]
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_departments.id"))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_users.id"))
    reporter_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_users.id"), index=True)
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    client_ref: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Ids of the report's photos (as strings), kept on the row so lists need no photo query.
    report_photos: Mapped[list[Any]] = mapped_column(default=list)
    # Time limits and their status.
    register_due_at: Mapped[datetime | None]
    dispatch_due_at: Mapped[datetime | None]
    handle_due_at: Mapped[datetime | None]
    sla_status: Mapped[str] = mapped_column(String(16), default="ok", index=True)
    escalation_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    urge_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    return_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    verify_fail_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    reopen_count: Mapped[int] = mapped_column(SmallInteger, default=0)
    returned_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Milestones.
    registered_at: Mapped[datetime | None]
    first_dispatched_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    handled_at: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None] = mapped_column(index=True)
    evaluated_at: Mapped[datetime | None]
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"))
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    # Set while the current dispatch is the machine's (智能派单): {"model", "confidence", "label"}.
    machine_dispatch: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - optimistic locking


class CaseEvent(Base):
    """One entry of a case's timeline: who did what, when, from which state to which."""

    __tablename__ = "cases_events"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(String(150))
    actor_role: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Upload(Base):
    """A checked image; attached to a case (with the stage it documents) once used."""

    __tablename__ = "cases_uploads"

    id: Mapped[uuid.UUID] = uuid_pk()
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("org_users.id"))
    created_at: Mapped[datetime]
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases.id"), index=True)
    event_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cases_events.id"))
    stage: Mapped[str | None] = mapped_column(String(16))


class DuplicateProposal(Base):
    """A report that may be a duplicate of an earlier open case, with its score."""

    __tablename__ = "cases_duplicates"
    __table_args__ = (UniqueConstraint("case_id", "candidate_id"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    # The later report, and the earlier open case it would be merged into.
    case_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cases.id"), index=True)
    score: Mapped[float] = mapped_column(Float)
    components: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16))  # proposed, merged, dismissed
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[uuid.UUID | None]
