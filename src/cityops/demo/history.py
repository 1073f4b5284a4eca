"""Generates the demo city's case history by replaying it: a frozen clock moves from one event
to the next (reports arriving, people acting on cases, SLA scans), and every change goes
through the case service verbs, so timelines, audit records and time limits are real.

The history ends at the runtime's current time, so its newest cases are still open.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import partial

from cityops.cases import service as cases
from cityops.cases.schemas import CaseFilter
from cityops.cases.sla import WorkingCalendar
from cityops.cases.tasks import scan_sla
from cityops.cases.uploads import store_upload
from cityops.core.auth import SYSTEM, Actor
from cityops.core.clock import FrozenClock
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams
from cityops.core.runtime import Runtime
from cityops.demo import phrases
from cityops.demo.flows import Track, report
from cityops.demo.messages import REPORTS
from cityops.demo.photos import photo_bytes
from cityops.demo.places import CityMap
from cityops.demo.plan import plan_fates
from cityops.demo.staff import Cast
from cityops.demo.timing import calendar_for, duty_calendar, plan_arrivals
from cityops.org import service as org

PER_DAY = 52
"""Average reports per working day (days off have fewer)."""

SCAN_HOURS = (time(9, 0), time(14, 0), time(20, 0))
"""Local times at which the SLA scan runs in the replay (the live app scans every few seconds)."""

STATES = (
    "reported",
    "registered",
    "rejected",
    "dispatched",
    "returned",
    "accepted",
    "handled",
    "verified",
    "closed",
    "evaluated",
    "merged",
    "cancelled",
)

QUICK = 8
"""Handling hours up to which a category counts as quick (fixed within a working day)."""

SEVEN_DAY_KINDS = frozenset(
    {"chengguan", "shuiwu", "shizheng", "gongdian", "ranqi", "yingji", "gongan", "yuanlin"}
)
"""Departments with staff on duty at weekends and holidays; the others keep office days."""

OPEN = ("reported", "registered", "dispatched", "returned", "accepted", "handled", "verified")

Progress = Callable[[str], None]


@dataclass(frozen=True)
class HistoryStats:
    """What the replay produced."""

    cases: int
    by_state: dict[str, int]
    overdue_open: int  # open cases past their time limit now
    overdue_ever: int  # cases that went past a time limit at some point
    photos: int


class Simulation:
    """The replay: a queue of timed actions over a runtime whose clock it moves."""

    def __init__(
        self,
        rt: Runtime,
        *,
        cast: Cast,
        cmap: CityMap,
        start: datetime,
        end: datetime,
        seed: int,
    ) -> None:
        self.clock = FrozenClock(start)
        self.rt = dataclasses.replace(rt, clock=self.clock)
        self.cast, self.cmap, self.start, self.end = cast, cmap, start, end
        self.rng = random.Random(seed)
        settings = rt.settings
        self.calendar = calendar_for(
            settings.timezone, settings.working_periods, settings.working_weekdays
        )
        self.duty = duty_calendar(self.calendar)
        self.tz = self.calendar.tz
        self.categories = {c.code: c for c in cases.list_categories(rt)}
        missing = sorted(t.code for t in REPORTS if t.code not in self.categories)
        if missing:
            raise ValueError(f"demo report texts name unknown categories: {', '.join(missing)}")
        self.texts = {t.code: t for t in REPORTS}
        departments = org.list_departments(rt, actor=SYSTEM)
        self.department_names = {d.code: d.name_zh for d in departments}
        self.tracks: list[Track] = []
        self.photos = 0
        self._queue: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self.clock.now()

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        """Run ``action`` at ``when``; what falls after the end of the history never happens."""
        if when <= self.end:
            heapq.heappush(self._queue, (when, next(self._order), action))

    def work_calendar(self, department_kind: str | None) -> WorkingCalendar:
        """When a department of ``department_kind`` works."""
        return self.duty if department_kind in SEVEN_DAY_KINDS else self.calendar

    def photo(self, actor: Actor, caption: str, *, png: bool = False) -> uuid.UUID:
        self.photos += 1
        data = photo_bytes(self.rng, caption, png=png)
        return store_upload(self.rt, actor=actor, data=data).id

    def run(self, progress: Progress | None = None) -> None:
        arrivals = plan_arrivals(
            self.start, self.end, per_day=PER_DAY, calendar=self.calendar, rng=self.rng
        )
        quick = frozenset(
            code for code in self.texts if (self.categories[code].handle_hours or 40) <= QUICK
        )
        fates = plan_fates(
            arrivals,
            codes=list(self.texts),
            weights=[t.weight for t in self.texts.values()],
            quick=quick,
            end=self.end,
            rng=self.rng,
        )
        for arrival, fate in zip(arrivals, fates, strict=True):
            self.at(arrival.at, partial(report, self, arrival, fate))
        for when in self._local_times(SCAN_HOURS):
            self.at(when, self._scan)
        if progress is not None:
            for midnight in self._local_times((time(0, 0),)):
                self.at(midnight, partial(self._report_progress, progress))
        while self._queue:
            when, _, action = heapq.heappop(self._queue)
            self.clock.set(when)
            action()
        self.clock.set(self.end)
        scan_sla(self.rt)

    def _local_times(self, times: tuple[time, ...]) -> Iterator[datetime]:
        day = self.start.astimezone(self.tz).date()
        while True:
            for clock_time in times:
                when = datetime.combine(day, clock_time, tzinfo=self.tz)
                if when > self.end:
                    return
                if when >= self.start:
                    yield when
            day += timedelta(days=1)

    def _report_progress(self, progress: Progress) -> None:
        day = self.now().astimezone(self.tz).date()
        progress(f"  {day:%Y-%m-%d}: {len(self.tracks)} cases so far")

    def _scan(self) -> None:
        """The SLA scan, then the operations centre urges and escalates overdue cases."""
        scan_sla(self.rt)
        operator, rng = self.cast.operator, self.rng
        overdue = cases.list_cases(
            self.rt,
            actor=operator,
            filters=CaseFilter(sla_status="overdue", state=["dispatched", "accepted"]),
            params=PageParams(page_size=MAX_PAGE_SIZE),
        )
        for case in overdue.items:
            if case.urge_count < 3 and rng.random() < 0.35:
                note = rng.choice(phrases.URGE_NOTES)
                cases.urge_case(self.rt, actor=operator, case_id=case.id, note=note)
            if case.priority != "normal" and case.escalation_level < 2 and rng.random() < 0.2:
                reason = rng.choice(phrases.ESCALATE_REASONS)
                cases.escalate_case(self.rt, actor=operator, case_id=case.id, reason=reason)

    def stats(self) -> HistoryStats:
        def count(filters: CaseFilter) -> int:
            params = PageParams(page_size=1)
            return cases.list_cases(self.rt, actor=SYSTEM, filters=filters, params=params).total

        by_state = {state: count(CaseFilter(state=[state])) for state in STATES}
        return HistoryStats(
            cases=sum(by_state.values()),
            by_state=by_state,
            overdue_open=count(CaseFilter(sla_status="overdue", state=list(OPEN))),
            overdue_ever=count(CaseFilter(sla_status="overdue")),
            photos=self.photos,
        )


def generate_history(
    rt: Runtime,
    *,
    cast: Cast,
    cmap: CityMap,
    start: datetime,
    end: datetime,
    seed: int,
    progress: Progress | None = None,
) -> HistoryStats:
    """Replay the cases from ``start`` to ``end`` (deterministic for a given seed and span)."""
    simulation = Simulation(rt, cast=cast, cmap=cmap, start=start, end=end, seed=seed)
    simulation.run(progress)
    return simulation.stats()
