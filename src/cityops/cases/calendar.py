"""The working calendar: the weekly pattern from settings plus holiday overrides from the DB."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.models import CalendarDay
from cityops.cases.sla import WorkingCalendar
from cityops.core.cache import cached
from cityops.core.runtime import Runtime

CALENDAR = "cases.calendar"


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
