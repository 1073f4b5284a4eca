"""The working calendar: the weekly pattern from settings plus holiday overrides from the DB."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.models import CalendarDay
from cityops.cases.schemas import CalendarDayOut
from cityops.cases.sla import WorkingCalendar
from cityops.core.auth import Actor
from cityops.core.cache import cached
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

CALENDAR = "cases.calendar"
MAX_CALENDAR_DAYS = 366


def working_calendar(rt: Runtime, session: Session) -> WorkingCalendar:
    """The calendar in force (a cached snapshot, dropped when a calendar day changes)."""

    def load(session: Session) -> WorkingCalendar:
        rows = session.execute(select(CalendarDay.day, CalendarDay.working)).all()
        holidays: list[date] = [day for day, working in rows if not working]
        workdays: list[date] = [day for day, working in rows if working]
        settings = rt.settings
        return WorkingCalendar.from_config(
            settings.timezone,
            settings.working_periods,
            settings.working_weekdays,
            holidays,
            workdays,
        )

    return cached(session, CALENDAR, load)


def calendar_days(rt: Runtime, *, actor: Actor, since: date, until: date) -> list[CalendarDayOut]:
    """Every date from ``since`` to ``until`` (both included): working or not, and the
    holiday or make-up working day that overrides the weekly pattern, if any."""
    actor.require(Perm.org_read)
    if until < since:
        raise invalid("until", "must not be before since")
    span = (until - since).days + 1
    if span > MAX_CALENDAR_DAYS:
        raise invalid("until", text("at most {days} days at a time", days=MAX_CALENDAR_DAYS))
    with rt.db.read() as session:
        calendar = working_calendar(rt, session)
        rows = session.execute(
            select(CalendarDay.day, CalendarDay.working, CalendarDay.name).where(
                CalendarDay.day >= since, CalendarDay.day <= until
            )
        )
        overrides = {day: (working, name) for day, working, name in rows}
    days = []
    for offset in range(span):
        day = since + timedelta(days=offset)
        working, name = overrides.get(day, (None, ""))
        override = None if working is None else ("workday" if working else "holiday")
        days.append(
            CalendarDayOut(
                day=day, working=calendar.is_working_day(day), override=override, name=name
            )
        )
    return days
