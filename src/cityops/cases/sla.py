"""Case time limits (SLA) counted in working hours.

Pure logic: no I/O, no database and no global clock. Callers pass ``now``
explicitly so that the rules can be tested and replayed deterministically.

Working time is defined by a :class:`WorkingCalendar`: daily working periods in
the calendar's local time zone, the regular working weekdays, public holidays
and make-up working days (调休). Durations are real elapsed time, measured in
UTC, so a period that straddles a daylight-saving change counts the hours that
actually passed rather than the difference between wall-clock readings.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CHINA_2025_HOLIDAYS",
    "CHINA_2025_WORKDAYS",
    "CHINA_2026_HOLIDAYS",
    "CHINA_2026_WORKDAYS",
    "SlaStatus",
    "TimeLimits",
    "WorkingCalendar",
    "sla_status",
    "stage_due",
]

Period = tuple[time, time]

_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_ISO_WEEKDAY_RE = re.compile(r"[1-7]")


def _require_aware(value: datetime, name: str) -> None:
    # A naive datetime would be silently read as the server's local time by
    # astimezone(); refuse it instead of guessing.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _check_periods(periods: tuple[Period, ...]) -> None:
    if not periods:
        raise ValueError("at least one working period is required")
    previous: Period | None = None
    for begin, end in periods:
        label = f"{begin:%H:%M}-{end:%H:%M}"
        if begin.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"working period {label} must use naive times (the calendar's tz)")
        if begin >= end:
            raise ValueError(
                f"working period {label} is empty or reversed: start must be before end"
            )
        if previous is not None and begin < previous[0]:
            raise ValueError(f"working periods are not sorted: {label} comes after a later period")
        if previous is not None and begin < previous[1]:
            raise ValueError(f"working periods overlap: {label} starts before {previous[1]:%H:%M}")
        previous = (begin, end)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working time of an organisation: daily periods, weekdays, holidays, make-up days.

    Periods are naive local times in ``tz``, sorted and non-overlapping, each
    inside one calendar day (overnight shifts are not supported). ``weekdays``
    uses ``date.weekday()`` numbering (Mon=0 .. Sun=6). A date in ``holidays``
    is off even on a regular weekday; a date in ``workdays`` is a working day
    even at the weekend.
    """

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    periods: tuple[Period, ...] = ((time(9, 0), time(12, 0)), (time(13, 30), time(18, 0)))
    weekdays: frozenset[int] = frozenset(range(5))
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _check_periods(self.periods)
        # Holidays are finite, so a non-empty weekday set guarantees that working
        # time never runs out; without it add_working_hours could loop forever.
        if not self.weekdays:
            raise ValueError("weekdays must not be empty: the calendar would have no working days")
        invalid = sorted(day for day in self.weekdays if day not in range(7))
        if invalid:
            raise ValueError(f"weekdays must be 0 (Mon) .. 6 (Sun), got {invalid}")
        clash = sorted(self.holidays & self.workdays)
        if clash:
            days = ", ".join(day.isoformat() for day in clash)
            raise ValueError(f"dates cannot be both holiday and make-up workday: {days}")

    @classmethod
    def from_config(
        cls,
        tz: str,
        periods: str,
        weekdays: str,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
    ) -> WorkingCalendar:
        """Build a calendar from settings strings.

        ``periods`` looks like ``"09:00-12:00,13:30-18:00"``; ``weekdays`` uses ISO
        numbers (Mon=1 .. Sun=7) as single days and ranges, e.g. ``"1-5"`` or
        ``"1-5,7"``. Raises ValueError with a readable message on bad input.
        """
        return cls(
            tz=_parse_tz(tz),
            periods=_parse_periods(periods),
            weekdays=_parse_weekdays(weekdays),
            holidays=frozenset(holidays),
            workdays=frozenset(workdays),
        )

    def is_working_day(self, d: date) -> bool:
        """Return whether ``d`` is a working day (make-up days and holidays win over weekdays)."""
        if d in self.holidays:
            return False
        if d in self.workdays:
            return True
        return d.weekday() in self.weekdays

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """Return the UTC moment when ``hours`` of working time after ``start`` have passed.

        ``start`` must be timezone-aware (any zone). Outside working time,
        counting begins at the next working period. A result that lands exactly
        on the end of a period is that end (e.g. 12:00), not the next start.
        ``hours <= 0`` returns ``start`` unchanged, converted to UTC.
        """
        _require_aware(start, "start")
        if not math.isfinite(hours):
            raise ValueError(f"hours must be a finite number, got {hours!r}")
        origin = start.astimezone(UTC)
        if hours <= 0:
            return origin
        remaining = timedelta(hours=hours)
        for begin, end in self._windows_from(origin):
            available = end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: working windows never run out")  # pragma: no cover

    def working_hours_between(self, start: datetime, end: datetime) -> float:
        """Return the working hours in ``[start, end)``; 0.0 when ``end <= start``."""
        return self.working_time_between(start, end) / _ONE_HOUR

    def working_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Like :meth:`working_hours_between` but exact, as a ``timedelta``."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        stop = end.astimezone(UTC)
        total = timedelta()
        for begin, finish in self._windows_from(start.astimezone(UTC)):
            if begin >= stop:
                break
            total += min(finish, stop) - begin
        return total

    def _windows_from(self, origin: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Yield working windows in UTC, in order, clipped so none starts before ``origin``.

        Infinite: __post_init__ guarantees that working days keep coming. One
        step per calendar day, so a year-long span costs a few hundred steps.
        """
        day = origin.astimezone(self.tz).date()
        while True:
            if self.is_working_day(day):
                for begin, end in self.periods:
                    window_end = self._instant(day, end)
                    if window_end > origin:
                        yield max(self._instant(day, begin), origin), window_end
            day += _ONE_DAY

    def _instant(self, day: date, clock: time) -> datetime:
        # Local wall-clock time -> UTC; zoneinfo resolves DST gaps and folds
        # with fold=0, which is good enough for working-period boundaries.
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)


def _parse_tz(text: str) -> ZoneInfo:
    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {text!r}: expected an IANA name such as 'Asia/Shanghai'"
        ) from exc


def _parse_time(text: str) -> time:
    match = _TIME_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"bad time {text.strip()!r}: expected HH:MM")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"bad time {text.strip()!r}: hour must be 00-23 and minute 00-59")
    return time(hour, minute)


def _parse_periods(text: str) -> tuple[Period, ...]:
    if not text.strip():
        raise ValueError("working periods are empty: expected e.g. '09:00-12:00,13:30-18:00'")
    periods: list[Period] = []
    for item in text.split(","):
        if item.count("-") != 1:
            raise ValueError(f"bad working period {item.strip()!r}: expected HH:MM-HH:MM")
        begin, end = item.split("-")
        periods.append((_parse_time(begin), _parse_time(end)))
    return tuple(periods)


def _parse_iso_weekday(text: str, item: str) -> int:
    if _ISO_WEEKDAY_RE.fullmatch(text.strip()) is None:
        raise ValueError(
            f"bad weekday {text.strip()!r} in {item.strip()!r}: expected 1 (Mon) to 7 (Sun)"
        )
    return int(text)


def _parse_weekdays(text: str) -> frozenset[int]:
    if not text.strip():
        raise ValueError("working weekdays are empty: expected e.g. '1-5' (ISO, Mon=1 .. Sun=7)")
    days: set[int] = set()
    for item in text.split(","):
        first, dash, last = item.partition("-")
        low = _parse_iso_weekday(first, item)
        high = _parse_iso_weekday(last, item) if dash else low
        if low > high:
            raise ValueError(f"bad weekday range {item.strip()!r}: start is after end")
        # ISO Mon=1 -> date.weekday() Mon=0.
        days.update(range(low - 1, high))
    return frozenset(days)


class SlaStatus(StrEnum):
    """Traffic light of a case against its deadline."""

    ok = "ok"
    warning = "warning"
    overdue = "overdue"


def sla_status(
    *,
    started_at: datetime,
    due_at: datetime | None,
    now: datetime,
    calendar: WorkingCalendar,
    warning_ratio: float = 0.8,
) -> SlaStatus:
    """Classify a case: overdue after ``due_at``, warning once ``warning_ratio`` is used up.

    Overdue compares real time (``now > due_at``; exactly at ``due_at`` is not
    overdue). Warning compares working time: elapsed working time since
    ``started_at`` is at least ``warning_ratio`` of the working time between
    ``started_at`` and ``due_at``. With no working time in that window at all,
    the case is a warning as soon as it exists. No deadline means ok.
    """
    if not 0 < warning_ratio <= 1:
        raise ValueError(f"warning_ratio must be in (0, 1], got {warning_ratio!r}")
    _require_aware(now, "now")
    if due_at is None:
        return SlaStatus.ok
    _require_aware(due_at, "due_at")
    if now > due_at:
        return SlaStatus.overdue
    # Compare exact timedeltas rather than floats so the boundary is stable.
    budget = calendar.working_time_between(started_at, due_at)
    used = calendar.working_time_between(started_at, now)
    return SlaStatus.warning if used >= budget * warning_ratio else SlaStatus.ok


@dataclass(frozen=True)
class TimeLimits:
    """Working-hour limits for the stages of a case: register, dispatch, handle."""

    register_hours: float
    dispatch_hours: float
    handle_hours: float

    def __post_init__(self) -> None:
        for name in ("register_hours", "dispatch_hours", "handle_hours"):
            value = getattr(self, name)
            # NaN compares false with everything, so test finiteness explicitly.
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def stage_due(calendar: WorkingCalendar, start: datetime, hours: float) -> datetime:
    """Return the UTC deadline of a stage that starts at ``start`` and lasts ``hours``."""
    return calendar.add_working_hours(start, hours)


def _day_span(first: date, last: date) -> frozenset[date]:
    """All dates from ``first`` to ``last`` inclusive."""
    return frozenset(first + timedelta(days=n) for n in range((last - first).days + 1))


# State Council arrangement for 2025 (国务院办公厅关于2025年部分节假日安排的通知,
# 2024-11-12), as published. Ranges are the full announced breaks, weekends included.
CHINA_2025_HOLIDAYS: frozenset[date] = frozenset().union(
    _day_span(date(2025, 1, 1), date(2025, 1, 1)),  # New Year
    _day_span(date(2025, 1, 28), date(2025, 2, 4)),  # Spring Festival
    _day_span(date(2025, 4, 4), date(2025, 4, 6)),  # Qingming
    _day_span(date(2025, 5, 1), date(2025, 5, 5)),  # Labour Day
    _day_span(date(2025, 5, 31), date(2025, 6, 2)),  # Dragon Boat
    _day_span(date(2025, 10, 1), date(2025, 10, 8)),  # National Day + Mid-Autumn
)
CHINA_2025_WORKDAYS: frozenset[date] = frozenset(
    {
        date(2025, 1, 26),  # Sun, Spring Festival
        date(2025, 2, 8),  # Sat, Spring Festival
        date(2025, 4, 27),  # Sun, Labour Day
        date(2025, 9, 28),  # Sun, National Day
        date(2025, 10, 11),  # Sat, National Day
    }
)

# State Council arrangement for 2026 (国务院办公厅关于2026年部分节假日安排的通知,
# 2025-11-04), as published.
CHINA_2026_HOLIDAYS: frozenset[date] = frozenset().union(
    _day_span(date(2026, 1, 1), date(2026, 1, 3)),  # New Year
    _day_span(date(2026, 2, 15), date(2026, 2, 23)),  # Spring Festival
    _day_span(date(2026, 4, 4), date(2026, 4, 6)),  # Qingming
    _day_span(date(2026, 5, 1), date(2026, 5, 5)),  # Labour Day
    _day_span(date(2026, 6, 19), date(2026, 6, 21)),  # Dragon Boat
    _day_span(date(2026, 9, 25), date(2026, 9, 27)),  # Mid-Autumn
    _day_span(date(2026, 10, 1), date(2026, 10, 7)),  # National Day
)
CHINA_2026_WORKDAYS: frozenset[date] = frozenset(
    {
        date(2026, 1, 4),  # Sun, New Year
        date(2026, 2, 14),  # Sat, Spring Festival
        date(2026, 2, 28),  # Sat, Spring Festival
        date(2026, 5, 9),  # Sat, Labour Day
        date(2026, 9, 20),  # Sun, National Day
        date(2026, 10, 10),  # Sat, National Day
    }
)
