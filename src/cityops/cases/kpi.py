"""Key performance indicators of the case loop (绩效评估), from plain case records.

Pure logic: no I/O and no global clock. The service loads :class:`CaseFacts` (the current
row of each case) and passes the :class:`Period` and the working calendar explicitly.

Every figure is attributed to the period in which its event happened, ``[since, until)``:

- ``by_state``: the current state of the cases reported (created) in the period.
- ``reported``: cases created in the period; ``closed``: cases closed or evaluated now whose
  ``closed_at`` lies in the period (rejected, merged and cancelled cases are not "closed").
- durations, each in working hours (via the calendar) and in wall-clock hours, over the cases
  whose stage *ended* in the period: registration ``created_at → registered_at``; dispatch
  ``registered_at → first_dispatched_at``; handling ``first_dispatched_at → handled_at``
  minus the time spent back at dispatch after a return (``returned_seconds``). The handling
  clock starts at the *first* dispatch, because later dispatches (after a return, a
  reassignment or a reopening) overwrite ``dispatched_at``; a reopened case's handling time
  therefore includes its rework. In working hours the returned time is removed as the span
  ``[returned_at, returned_at + returned_seconds)``: exact for one return, an approximation
  when a case was returned several times (only the last return time is kept on the row).
- ``on_time_rate`` (按时办结率): of the cases handled in the period, the share handled by
  their ``handle_due_at``; a case without a deadline cannot be late and counts as on time.
- ``return_rate`` (退回率): of the cases first dispatched in the period, the share returned
  at least once.
- ``verification_pass_rate`` (核查通过率): over the cases verified in the period,
  ``verified / (verified + their failed checks)``; failures of a case not yet verified count
  once it passes.
- ``reopen_rate`` (重办率): of the cases closed in the period, the share reopened at least once.
- ``satisfaction``: the mean rating of the cases evaluated in the period, with ``rating_count``.
- ``overdue_open``: cases created before ``until`` that are still in a timed stage and past
  that stage's deadline at ``period.as_of`` (the same stages as the SLA scan; a handled case
  awaiting verification is not overdue).

Groups are the case's *current* department, leaf category and district: a case back at
dispatch after a return has no department until it is dispatched again, and its return then
counts for the department it went to (the row keeps no history of earlier departments).

Percentiles use linear interpolation between the closest ranks (``statistics.quantiles`` with
``method="inclusive"``, the same as numpy's default and Excel's PERCENTILE.INC); the median
is ``statistics.median``, which agrees with it. Figures with nothing to measure are ``None``.
"""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cityops.cases.sla import WorkingCalendar
from cityops.cases.workflow import DONE_STATES, State

__all__ = [
    "GROUPINGS",
    "PERCENTILE_METHOD",
    "TIMED_STATES",
    "CaseFacts",
    "Durations",
    "GroupBy",
    "KpiSet",
    "Period",
    "Ratio",
    "compute_kpis",
    "group_key",
    "kpi_tables",
    "kpis_by_group",
    "percentile",
]

GroupBy = Literal["city", "department", "category", "district"]
GROUPINGS: tuple[GroupBy, ...] = ("city", "department", "category", "district")
PERCENTILE_METHOD = "linear"
# States with a running time limit: the ones the SLA scan watches (tasks._STAGE_STATES).
TIMED_STATES = frozenset(
    {State.reported, State.registered, State.returned, State.dispatched, State.accepted}
)

_HOUR = 3600.0
Span = tuple[float, float]  # (working hours, wall-clock hours) of one stage of one case


@dataclass(frozen=True)
class Period:
    """The half-open window ``[since, until)``; ``as_of`` is when open cases are judged."""

    since: datetime
    until: datetime
    as_of: datetime

    def __post_init__(self) -> None:
        for name in ("since", "until", "as_of"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")
        if self.since >= self.until:
            raise ValueError("since must be before until")

    def contains(self, moment: datetime | None) -> bool:
        """True when ``moment`` is set and lies in ``[since, until)``."""
        return moment is not None and self.since <= moment < self.until


@dataclass(frozen=True)
class CaseFacts:
    """The columns of one case that the KPIs read (all datetimes timezone-aware)."""

    state: str
    created_at: datetime
    registered_at: datetime | None = None
    first_dispatched_at: datetime | None = None
    returned_at: datetime | None = None
    handled_at: datetime | None = None
    verified_at: datetime | None = None
    closed_at: datetime | None = None
    evaluated_at: datetime | None = None
    register_due_at: datetime | None = None
    dispatch_due_at: datetime | None = None
    handle_due_at: datetime | None = None
    return_count: int = 0
    verify_fail_count: int = 0
    reopen_count: int = 0
    returned_seconds: float = 0.0
    rating: int | None = None
    department_id: uuid.UUID | None = None
    category_id: uuid.UUID | None = None
    district_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Durations:
    """How long one stage took: median and p90, in working and in wall-clock hours."""

    count: int
    median_working_hours: float | None
    p90_working_hours: float | None
    median_hours: float | None
    p90_hours: float | None


@dataclass(frozen=True)
class Ratio:
    """``part`` out of ``whole``; ``rate`` is None when there is nothing to measure."""

    part: int
    whole: int

    @property
    def rate(self) -> float | None:
        return self.part / self.whole if self.whole else None


@dataclass(frozen=True)
class KpiSet:
    """The figures of one group of cases over one period (see the module docstring).

    ``on_time`` is on-time / handled, ``returned`` returned / first dispatched,
    ``verification`` verified / (verified + failed checks), ``reopened`` reopened / closed.
    """

    by_state: dict[str, int]
    reported: int
    closed: int
    registration: Durations
    dispatch: Durations
    handling: Durations
    on_time: Ratio
    returned: Ratio
    verification: Ratio
    reopened: Ratio
    rating_count: int
    satisfaction: float | None
    overdue_open: int


# --- statistics ----------------------------------------------------------------------------


def percentile(values: Sequence[float], percent: int) -> float | None:
    """The ``percent`` percentile (1..99) by linear interpolation; None without values."""
    if not 1 <= percent <= 99:
        raise ValueError(f"percent must be 1..99, got {percent!r}")
    if not values:
        return None
    if len(values) == 1:  # statistics.quantiles needs two points before Python 3.13
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def _durations(spans: Sequence[Span]) -> Durations:
    """Summarise (working hours, wall hours) pairs."""
    working = [w for w, _ in spans]
    wall = [h for _, h in spans]
    return Durations(
        count=len(spans),
        median_working_hours=statistics.median(working) if working else None,
        p90_working_hours=percentile(working, 90),
        median_hours=statistics.median(wall) if wall else None,
        p90_hours=percentile(wall, 90),
    )


# --- stage durations -----------------------------------------------------------------------


def _span(calendar: WorkingCalendar, start: datetime, end: datetime) -> Span:
    return calendar.working_hours_between(start, end), (end - start).total_seconds() / _HOUR


def _registration(case: CaseFacts, calendar: WorkingCalendar) -> Span | None:
    if case.registered_at is None:
        return None
    return _span(calendar, case.created_at, case.registered_at)


def _dispatch(case: CaseFacts, calendar: WorkingCalendar) -> Span | None:
    if case.registered_at is None or case.first_dispatched_at is None:
        return None
    return _span(calendar, case.registered_at, case.first_dispatched_at)


def _handling(case: CaseFacts, calendar: WorkingCalendar) -> Span | None:
    """First dispatch → handled, less the time the case sat back at dispatch."""
    start, end = case.first_dispatched_at, case.handled_at
    if start is None or end is None or end < start:
        return None
    working, wall = _span(calendar, start, end)
    if case.returned_seconds > 0:
        wall -= case.returned_seconds / _HOUR
        if case.returned_at is not None:
            back = case.returned_at + timedelta(seconds=case.returned_seconds)
            working -= calendar.working_hours_between(case.returned_at, back)
    return max(working, 0.0), max(wall, 0.0)


@dataclass(frozen=True)
class _Measured:
    """A case with the durations of the stages it ended in the period (None otherwise)."""

    case: CaseFacts
    registration: Span | None
    dispatch: Span | None
    handling: Span | None


def _measure(case: CaseFacts, calendar: WorkingCalendar, period: Period) -> _Measured:
    """Work out the calendar arithmetic of one case once, for the total and its group."""
    inside = period.contains
    return _Measured(
        case,
        _registration(case, calendar) if inside(case.registered_at) else None,
        _dispatch(case, calendar) if inside(case.first_dispatched_at) else None,
        _handling(case, calendar) if inside(case.handled_at) else None,
    )


# --- counts --------------------------------------------------------------------------------


def _by_state(reported: Sequence[CaseFacts]) -> dict[str, int]:
    counts = dict.fromkeys((s.value for s in State), 0)
    for case in reported:
        counts[case.state] = counts.get(case.state, 0) + 1
    return counts


def _on_time(case: CaseFacts) -> bool:
    due = case.handle_due_at
    return due is None or (case.handled_at is not None and case.handled_at <= due)


def _stage_due(case: CaseFacts) -> datetime | None:
    """The deadline of the timed stage the case is in now (mirrors the SLA scan)."""
    if case.state == State.reported:
        return case.register_due_at
    if case.state in (State.registered, State.returned):
        return case.dispatch_due_at
    if case.state in (State.dispatched, State.accepted):
        return case.handle_due_at
    return None


def _overdue(cases: Iterable[CaseFacts], period: Period) -> int:
    count = 0
    for case in cases:
        due = _stage_due(case)
        if case.created_at < period.until and due is not None and period.as_of > due:
            count += 1
    return count


def _is_closed_in(case: CaseFacts, period: Period) -> bool:
    return case.state in DONE_STATES and period.contains(case.closed_at)


# --- the figures ---------------------------------------------------------------------------


def compute_kpis(facts: Iterable[CaseFacts], calendar: WorkingCalendar, period: Period) -> KpiSet:
    """All figures of one group; ``facts`` may hold cases outside the period (they are skipped)."""
    return _aggregate([_measure(case, calendar, period) for case in facts], period)


def _aggregate(measured: Sequence[_Measured], period: Period) -> KpiSet:
    cases = [m.case for m in measured]
    inside = period.contains
    reported = [c for c in cases if inside(c.created_at)]
    closed = [c for c in cases if _is_closed_in(c, period)]
    handled = [c for c in cases if inside(c.handled_at)]
    dispatched = [c for c in cases if inside(c.first_dispatched_at)]
    verified = [c for c in cases if inside(c.verified_at)]
    rated = [c.rating for c in cases if inside(c.evaluated_at) and c.rating is not None]
    return KpiSet(
        by_state=_by_state(reported),
        reported=len(reported),
        closed=len(closed),
        registration=_durations([m.registration for m in measured if m.registration]),
        dispatch=_durations([m.dispatch for m in measured if m.dispatch]),
        handling=_durations([m.handling for m in measured if m.handling]),
        on_time=Ratio(sum(1 for c in handled if _on_time(c)), len(handled)),
        returned=Ratio(sum(1 for c in dispatched if c.return_count > 0), len(dispatched)),
        verification=Ratio(
            len(verified), len(verified) + sum(c.verify_fail_count for c in verified)
        ),
        reopened=Ratio(sum(1 for c in closed if c.reopen_count > 0), len(closed)),
        rating_count=len(rated),
        satisfaction=statistics.fmean(rated) if rated else None,
        overdue_open=_overdue(cases, period),
    )


# --- grouping ------------------------------------------------------------------------------


def group_key(case: CaseFacts, group_by: GroupBy) -> uuid.UUID | None:
    """The id a case is grouped under: its current department, leaf category or district."""
    if group_by == "department":
        return case.department_id
    if group_by == "category":
        return case.category_id
    if group_by == "district":
        return case.district_id
    return None


def kpis_by_group(
    facts: Iterable[CaseFacts], calendar: WorkingCalendar, period: Period, group_by: GroupBy
) -> dict[uuid.UUID | None, KpiSet]:
    """Figures per group (``None``: no department / category / district); ``city``: one group."""
    return kpi_tables(facts, calendar, period, group_by)[1]


def kpi_tables(
    facts: Iterable[CaseFacts], calendar: WorkingCalendar, period: Period, group_by: GroupBy
) -> tuple[KpiSet, dict[uuid.UUID | None, KpiSet]]:
    """The total and the figures per group, measuring each case once."""
    measured = [_measure(case, calendar, period) for case in facts]
    groups: dict[uuid.UUID | None, list[_Measured]] = {}
    for item in measured:
        groups.setdefault(group_key(item.case, group_by), []).append(item)
    by_group = {key: _aggregate(items, period) for key, items in groups.items()}
    return _aggregate(measured, period), by_group
