"""When things happen in the demo history: report arrivals by hour, weekday and holiday, and
the delays of each kind of worker (the 24-hour operations centre, departments in office hours,
citizens while awake). Pure functions of a random generator and a working calendar."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from cityops.cases.sla import (
    CHINA_2025_HOLIDAYS,
    CHINA_2025_WORKDAYS,
    CHINA_2026_HOLIDAYS,
    CHINA_2026_WORKDAYS,
    WorkingCalendar,
)

HOLIDAYS = CHINA_2025_HOLIDAYS | CHINA_2026_HOLIDAYS
WORKDAYS = CHINA_2025_WORKDAYS | CHINA_2026_WORKDAYS

# Reports per local hour (relative weights) for each channel; the shares split a day's volume.
Channel = Literal["citizen", "gridworker", "hotline", "open311"]
"""How a report comes in (a subset of the case sources)."""

_HOURLY: dict[Channel, tuple[int, ...]] = {
    "citizen": (2, 1, 1, 0, 0, 1, 2, 4, 7, 9, 9, 8, 6, 6, 7, 8, 8, 7, 7, 8, 8, 7, 5, 3),
    "open311": (2, 1, 1, 0, 0, 1, 2, 4, 7, 9, 9, 8, 6, 6, 7, 8, 8, 7, 7, 8, 8, 7, 5, 3),
    "hotline": (1, 1, 0, 0, 0, 0, 1, 3, 8, 10, 10, 9, 6, 7, 9, 9, 9, 8, 6, 5, 4, 3, 2, 1),
    "gridworker": (0, 0, 0, 0, 0, 0, 0, 0, 4, 10, 10, 8, 3, 2, 6, 9, 9, 6, 0, 0, 0, 0, 0, 0),
}
SOURCE_SHARE: dict[Channel, float] = {
    "citizen": 0.45,
    "gridworker": 0.25,
    "hotline": 0.22,
    "open311": 0.08,
}
_DAY_OFF_FACTOR = 0.95  # citizens report a little less on days off ...
_DAY_OFF_PATROL = 0.3  # ... and only the grid workers on duty patrol
_WAKING = (7, 23)  # citizens act between 07:00 and 23:00


@dataclass(frozen=True)
class Arrival:
    """A report to come: when, and through which channel."""

    at: datetime
    source: Channel


def holiday_name(day: date) -> str:
    """The name of a public holiday or make-up working day of 2025/2026."""
    if day in WORKDAYS:
        return "调休上班"
    if day.month == 2 or (day.month == 1 and day.day > 20):
        return "春节"
    if day.month == 5 and day.day > 20:
        return "端午节"
    names = {1: "元旦", 4: "清明节", 5: "劳动节", 6: "端午节", 9: "中秋节", 10: "国庆节"}
    return names.get(day.month, "法定节假日")


def calendar_for(timezone: str, periods: str, weekdays: str) -> WorkingCalendar:
    """The working calendar of the settings plus the national holidays of 2025 and 2026."""
    return WorkingCalendar.from_config(timezone, periods, weekdays, HOLIDAYS, WORKDAYS)


def duty_calendar(office: WorkingCalendar) -> WorkingCalendar:
    """Office hours on every day: services on duty at weekends and holidays (环卫, 抢修, 网格)."""
    return WorkingCalendar(tz=office.tz, periods=office.periods, weekdays=frozenset(range(7)))


def plan_arrivals(
    start: datetime,
    end: datetime,
    *,
    per_day: float,
    calendar: WorkingCalendar,
    rng: random.Random,
) -> list[Arrival]:
    """Reports between ``start`` and ``end``, hour by hour, following the daily pattern of
    each channel, fewer on days off, with some day-to-day noise."""
    arrivals: list[Arrival] = []
    day_noise: dict[date, float] = {}
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        local = hour.astimezone(calendar.tz)
        day = local.date()
        working = calendar.is_working_day(day)
        noise = day_noise.setdefault(day, rng.uniform(0.85, 1.15))
        for source, share in SOURCE_SHARE.items():
            weights = _HOURLY[source]
            rate = per_day * share * noise * weights[local.hour] / sum(weights)
            if not working:
                rate *= _DAY_OFF_PATROL if source == "gridworker" else _DAY_OFF_FACTOR
            for _ in range(_poisson(rate, rng)):
                at = hour + timedelta(seconds=rng.uniform(0, 3600))
                if start <= at < end:
                    arrivals.append(Arrival(at, source))
        hour += timedelta(hours=1)
    arrivals.sort(key=lambda arrival: arrival.at)
    return arrivals


def _poisson(rate: float, rng: random.Random) -> int:
    """Knuth's method; rates here are small (a few reports an hour)."""
    limit, count, product = math.exp(-rate), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def centre_delay(
    at: datetime, rng: random.Random, tz: ZoneInfo, low: float, high: float
) -> datetime:
    """The 24-hour operations centre acts within ``low``–``high`` minutes, slower at night."""
    minutes = rng.uniform(low, high)
    if not 8 <= at.astimezone(tz).hour < 22:
        minutes *= 3
    return at + timedelta(minutes=minutes)


def office_delay(
    at: datetime, rng: random.Random, calendar: WorkingCalendar, low: float, high: float
) -> datetime:
    """A department acts after ``low``–``high`` working hours (nights and days off skipped)."""
    return calendar.add_working_hours(at, rng.uniform(low, high))


def waking_delay(
    at: datetime, rng: random.Random, tz: ZoneInfo, low: float, high: float
) -> datetime:
    """A citizen acts ``low``–``high`` hours later, moved to the morning if it falls at night."""
    when = (at + timedelta(hours=rng.uniform(low, high))).astimezone(tz)
    first, last = _WAKING
    if when.hour >= last:
        when += timedelta(days=1)
    if when.hour >= last or when.hour < first:
        when = when.replace(hour=first, minute=0) + timedelta(minutes=rng.uniform(0, 90))
    return when
