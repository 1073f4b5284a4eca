"""绩效评估: the KPIs of the case loop per city, department, category or district.

Loads the few columns the figures need in one query, scoped to what the actor may see,
computes them with the pure ``kpi`` module and names the groups (one query per kind).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from cityops.cases.calendar import working_calendar
from cityops.cases.kpi import (
    GROUPINGS,
    PERCENTILE_METHOD,
    TIMED_STATES,
    CaseFacts,
    Durations,
    GroupBy,
    KpiSet,
    Period,
    Ratio,
    kpi_tables,
)
from cityops.cases.models import Case, Category
from cityops.cases.queries import scope_cases
from cityops.cases.workflow import State
from cityops.core.auth import Actor
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.roles import Perm

__all__ = [
    "DEFAULT_DAYS",
    "KpiDurations",
    "KpiFigures",
    "KpiReport",
    "KpiRow",
    "case_kpis",
    "flat_row",
    "report_csv",
]

DEFAULT_DAYS = 30

# Names of the rows that are not an organisation unit. There is no message catalogue yet;
# these move there when one exists.
_TOTAL_NAMES = ("全市", "Whole city")
_NONE_NAMES: dict[str, tuple[str, str]] = {
    "department": ("未派单", "Not dispatched"),
    "category": ("未分类", "Uncategorised"),
    "district": ("未定位", "No district"),
}
_FACT_COLUMNS = tuple(getattr(Case, f.name) for f in dataclasses.fields(CaseFacts))
_MILESTONES = (
    Case.created_at,
    Case.registered_at,
    Case.first_dispatched_at,
    Case.handled_at,
    Case.verified_at,
    Case.closed_at,
    Case.evaluated_at,
)


# --- schemas -------------------------------------------------------------------------------


class KpiDurations(BaseModel):
    """One stage's duration: how many cases, median and p90 in working and wall-clock hours."""

    count: int
    median_working_hours: float | None
    p90_working_hours: float | None
    median_hours: float | None
    p90_hours: float | None


class KpiFigures(BaseModel):
    """The figures of one row; the rates are fractions (0..1), None when nothing to measure."""

    reported: int
    closed: int
    by_state: dict[str, int]
    registration: KpiDurations
    dispatch: KpiDurations
    handling: KpiDurations
    handled: int
    on_time: int
    on_time_rate: float | None
    dispatched: int
    returned: int
    return_rate: float | None
    verified: int
    verify_failures: int
    verification_pass_rate: float | None
    reopened: int
    reopen_rate: float | None
    rating_count: int
    satisfaction: float | None
    overdue_open: int


class KpiRow(BaseModel):
    """One group (department, category, district, or the whole scope) and its figures."""

    id: uuid.UUID | None
    code: str | None
    name_zh: str
    name_en: str
    figures: KpiFigures


class KpiReport(BaseModel):
    """The KPIs of ``[since, until)``; open cases are judged overdue at ``as_of``."""

    since: datetime
    until: datetime
    as_of: datetime
    group_by: GroupBy
    timezone: str
    percentile_method: str = PERCENTILE_METHOD
    total: KpiRow
    rows: list[KpiRow]


@dataclasses.dataclass(frozen=True)
class _Ref:
    id: uuid.UUID | None
    code: str | None
    name_zh: str
    name_en: str


# --- the service ---------------------------------------------------------------------------


def case_kpis(
    rt: Runtime,
    *,
    actor: Actor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy,
) -> KpiReport:
    """The case-loop KPIs the actor may see, for ``[since, until)`` (default: the last 30 days).

    Naive datetimes are read in the city's time zone. ``group_by`` is ``city`` (one row),
    ``department`` (current department), ``category`` (leaf category) or ``district``.
    """
    actor.require(Perm.kpi_read)
    if group_by not in GROUPINGS:
        raise invalid("group_by", text("must be one of {choices}", choices=", ".join(GROUPINGS)))
    period = _period(rt, since, until)
    with rt.db.read() as session:
        facts = _load_facts(session, actor, period)
        calendar = working_calendar(rt, session)
        figures, groups = kpi_tables(facts, calendar, period, group_by)
        total = _row(_scope_ref(session, actor), figures)
        rows = [total] if group_by == "city" else _group_rows(session, group_by, groups)
    return KpiReport(
        since=period.since,
        until=period.until,
        as_of=period.as_of,
        group_by=group_by,
        timezone=rt.settings.timezone,
        total=total,
        rows=rows,
    )


def _period(rt: Runtime, since: datetime | None, until: datetime | None) -> Period:
    zone = ZoneInfo(rt.settings.timezone)
    now = rt.clock.now()
    end = _utc(until, zone) if until is not None else now
    start = _utc(since, zone) if since is not None else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise invalid("since", "since must be before until", "invalid_period")
    return Period(since=start, until=end, as_of=min(end, now))


def _utc(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware UTC datetime; a naive one is wall-clock time in the city's zone."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def _relevant(period: Period) -> ColumnElement[bool]:
    """Cases with a milestone in the period, or still in a timed stage (for overdue)."""
    timed = [state.value for state in State if state in TIMED_STATES]
    return or_(*(column >= period.since for column in _MILESTONES), Case.state.in_(timed))


def _load_facts(session: Session, actor: Actor, period: Period) -> list[CaseFacts]:
    """One query for every case the figures may need, limited to the actor's jurisdiction."""
    query = select(*_FACT_COLUMNS).where(Case.created_at < period.until, _relevant(period))
    rows = session.execute(scope_cases(query, actor)).all()
    return [CaseFacts(**dict(row._mapping)) for row in rows]


# --- naming the rows -----------------------------------------------------------------------


def _scope_ref(session: Session, actor: Actor) -> _Ref:
    """The whole city, or the area the actor's jurisdiction covers."""
    if actor.area_path is None or actor.role in ("admin", "system"):
        return _Ref(None, None, *_TOTAL_NAMES)
    area = org.get_area_by_code(session, actor.area_path.rsplit("/", 1)[-1])
    if area is None:
        return _Ref(None, None, *_TOTAL_NAMES)
    return _Ref(area.id, area.code, area.name_zh, area.name_en)


def _refs(session: Session, group_by: str, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _Ref]:
    """Codes and names of the groups, one query."""
    if not ids:
        return {}
    if group_by == "department":
        found: Iterable[Any] = org.department_refs(session, ids).values()
    elif group_by == "district":
        found = org.area_refs(session, ids).values()
    else:
        found = session.execute(
            select(Category.id, Category.code, Category.name_zh, Category.name_en).where(
                Category.id.in_(set(ids))
            )
        ).all()
    return {r.id: _Ref(r.id, r.code, r.name_zh, r.name_en) for r in found}


def _group_rows(
    session: Session, group_by: str, groups: dict[uuid.UUID | None, KpiSet]
) -> list[KpiRow]:
    refs = _refs(session, group_by, [key for key in groups if key is not None])
    rows = [
        _row(refs.get(key) if key is not None else None, figures, group_by, key)
        for key, figures in groups.items()
    ]
    return sorted(rows, key=lambda row: (row.code is None, row.code or "", str(row.id or "")))


def _row(
    ref: _Ref | None, figures: KpiSet, group_by: str = "city", key: uuid.UUID | None = None
) -> KpiRow:
    if ref is None:  # no group (None key), or a group whose row has gone
        name_zh, name_en = _NONE_NAMES.get(group_by, _TOTAL_NAMES)
        ref = _Ref(key, None, name_zh, name_en)
    return KpiRow(
        id=ref.id,
        code=ref.code,
        name_zh=ref.name_zh,
        name_en=ref.name_en,
        figures=_figures(figures),
    )


# --- presenting the figures ----------------------------------------------------------------


def _hours(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _fraction(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _durations(value: Durations) -> KpiDurations:
    return KpiDurations(
        count=value.count,
        median_working_hours=_hours(value.median_working_hours),
        p90_working_hours=_hours(value.p90_working_hours),
        median_hours=_hours(value.median_hours),
        p90_hours=_hours(value.p90_hours),
    )


def _ratio(value: Ratio) -> float | None:
    return _fraction(value.rate)


def _figures(k: KpiSet) -> KpiFigures:
    return KpiFigures(
        reported=k.reported,
        closed=k.closed,
        by_state=k.by_state,
        registration=_durations(k.registration),
        dispatch=_durations(k.dispatch),
        handling=_durations(k.handling),
        handled=k.on_time.whole,
        on_time=k.on_time.part,
        on_time_rate=_ratio(k.on_time),
        dispatched=k.returned.whole,
        returned=k.returned.part,
        return_rate=_ratio(k.returned),
        verified=k.verification.part,
        verify_failures=k.verification.whole - k.verification.part,
        verification_pass_rate=_ratio(k.verification),
        reopened=k.reopened.part,
        reopen_rate=_ratio(k.reopened),
        rating_count=k.rating_count,
        satisfaction=_hours(k.satisfaction),
        overdue_open=k.overdue_open,
    )


# --- flat rows and CSV ---------------------------------------------------------------------


def flat_row(row: KpiRow) -> dict[str, Any]:
    """One row as flat columns: durations as ``<stage>_<figure>``, states as ``state_<name>``."""
    flat: dict[str, Any] = {
        "id": str(row.id) if row.id else "",
        "code": row.code or "",
        "name_zh": row.name_zh,
        "name_en": row.name_en,
    }
    for name, value in row.figures.model_dump().items():
        if name == "by_state":
            flat.update({f"state_{state}": count for state, count in value.items()})
        elif isinstance(value, dict):
            flat.update({f"{name}_{key}": figure for key, figure in value.items()})
        else:
            flat[name] = value
    return flat


def report_csv(report: KpiReport) -> str:
    """The rows (then the total, unless grouped by city) as CSV text, without a BOM."""
    rows = report.rows if report.group_by == "city" else [*report.rows, report.total]
    flat = [flat_row(row) for row in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(flat_row(report.total)), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in item.items()} for item in flat)
    return buffer.getvalue()
