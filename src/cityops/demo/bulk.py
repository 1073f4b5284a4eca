"""A large case history written in bulk, for load tests and benchmarks (``cityops demo --cases``).

The replayed history (:mod:`cityops.demo.history`) calls the case service for every step, which
makes about fifty cases a second: right for a demo month, far too slow for the 100,000 cases
a benchmark of the command screen needs. This module plans each case's course up front with
the same rules the verbs apply and writes the rows with SQLAlchemy Core ``executemany`` in
batches, on SQLite and PostgreSQL alike:

- cases spread over every grid of the city (a uniform point inside the grid's polygon, with
  its district, street, community and grid), reported through the four channels at realistic
  hours over the last ``days`` days, with a category (citizens often leave it to the operator),
  the routed department and reporter;
- the course of each case up to ``end``: register (or reject, cancel, merge into an earlier
  report nearby), dispatch (some to the wrong department and returned), accept, handle (some
  late), verify (some fail and go back), close, evaluate; older cases have mostly finished,
  the newest are still open at every stage;
- time limits in working hours from the city's calendar (holidays included), restarted where
  the verbs restart them; a stage that ran past its limit gets the ``sla_overdue`` entry and
  escalation the SLA scan would have written, and the case stays ``overdue`` as it would;
- one timeline entry (``cases_events``) per step, with the actor, note and data the verb
  records.

Not written: photos, audit records (these cases were never acted on; the audit log records
actions), urges, escalations by hand, reassignments and reopenings. ``sla_status`` is
``overdue`` or ``ok``; the live SLA scan marks warnings itself once the server runs.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import shapely
from shapely.geometry import shape
from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.orm import Session

from cityops.cases.calendar import working_calendar
from cityops.cases.directory import CategoryInfo, categories
from cityops.cases.dispatch import suggest_department
from cityops.cases.models import CASE_NUMBER_SEQ, Case, CaseEvent, Counter
from cityops.cases.sla import TimeLimits, WorkingCalendar
from cityops.cases.transitions import limits_for
from cityops.cases.workflow import State
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.demo import phrases
from cityops.demo.history import STATES, HistoryStats
from cityops.demo.messages import DAYS, REPORTS
from cityops.demo.staff import INTEGRATION_USER
from cityops.demo.timing import SOURCE_SHARE, Channel
from cityops.org.models import Area, User

BATCH = 2000
"""Cases per transaction (their timeline entries go in the same one)."""

DEFAULT_DAYS = 90

# Shares along the loop (of all reports, or of those reaching the step).
REJECT, CANCEL, MERGE = 0.05, 0.03, 0.04
NO_CATEGORY = 0.3  # citizens leave the category to the operator this often
WRONG_DISPATCH = 0.06
LATE_REGISTER, LATE_DISPATCH, LATE_HANDLE = 0.02, 0.03, 0.10
VERIFY_FAILS = 0.07
RATES = 0.75
RATINGS = (5, 4, 3, 2, 1)
RATING_WEIGHTS = (60, 24, 8, 5, 3)
UNHAPPY_WEIGHTS = (25, 25, 20, 18, 12)
SCAN_LAG = timedelta(minutes=5)  # the live SLA scan notices a passed limit within minutes
MERGE_WINDOW = timedelta(hours=24)
_MERGE_INTO = frozenset({"reported", "registered", "dispatched", "returned", "accepted", "handled"})
_DONE = frozenset({"closed", "evaluated", "rejected", "merged", "cancelled"})
_CHANNELS: tuple[Channel, ...] = tuple(SOURCE_SHARE)
_CHANNEL_CUM = list(itertools.accumulate(SOURCE_SHARE[c] for c in _CHANNELS))
# Reports per local hour (relative): the citizens' daily pattern of the replayed history.
_HOURLY = (2, 1, 1, 0, 0, 1, 2, 4, 7, 9, 9, 8, 6, 6, 7, 8, 8, 7, 7, 8, 8, 7, 5, 3)
# The time limit running in each timed state (as the SLA scan reads them).
_STAGE_OF = {
    "reported": "register",
    "registered": "dispatch",
    "returned": "dispatch",
    "dispatched": "handle",
    "accepted": "handle",
}

Progress = Callable[[str], None]
_CASES = cast(Table, Case.__table__)
_EVENTS = cast(Table, CaseEvent.__table__)


class _Stop(Exception):
    """The next step of a case falls after the end of the history."""


@dataclass(frozen=True)
class _Grid:
    id: uuid.UUID
    path: str
    district_id: uuid.UUID | None
    street_id: uuid.UUID | None
    community_id: uuid.UUID | None
    district_path: str
    street_name: str
    community_name: str
    address_prefix: str
    geometry: Any = field(repr=False)


@dataclass(frozen=True)
class _Person:
    id: uuid.UUID | None
    username: str
    role: str


_SYSTEM = _Person(None, "system", "system")


@dataclass
class _Reference:
    """What the planner needs from the database, read once."""

    grids: list[_Grid]
    categories: list[CategoryInfo]
    weights: list[float]
    departments: dict[tuple[uuid.UUID, str], uuid.UUID | None]
    handlers: dict[uuid.UUID, _Person]
    gridworkers: dict[uuid.UUID, _Person]
    people: dict[str, list[_Person]]
    calendar: WorkingCalendar
    all_departments: list[uuid.UUID] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cum_weights = list(itertools.accumulate(self.weights))
        self.all_departments = sorted({d for d in self.departments.values() if d is not None})

    def person(self, role: str, rng: random.Random) -> _Person:
        found = self.people.get(role)
        return rng.choice(found) if found else _SYSTEM

    def department(self, category: CategoryInfo, grid: _Grid) -> uuid.UUID | None:
        return self.departments.get((category.id, grid.district_path))


@dataclass
class _Planned:
    """One case: its row and timeline as dictionaries ready for ``executemany``."""

    row: dict[str, Any]
    events: list[dict[str, Any]]
    grid: _Grid
    overdue_ever: bool = False
    merged_into: _Planned | None = None

    def number_merges(self) -> None:
        """Name the case numbers in the merge entries, once the batch has its numbers."""
        target = self.merged_into
        if target is None:
            return
        for event in self.events:
            if event["action"] == "merge":
                event["note"] = event["note"].format(number=target.row["number"])
                event["data"]["into_number"] = target.row["number"]
        for event in target.events:
            if event["action"] == "merge" and event["data"].get("merged_case_id") == str(
                self.row["id"]
            ):
                event["note"] = event["note"].format(number=target.row["number"])
                event["data"]["merged_case_number"] = self.row["number"]

    @property
    def state(self) -> str:
        return str(self.row["state"])

    def state_at(self, moment: datetime) -> str:
        state = "reported"
        for event in self.events:
            if event["at"] > moment:
                break
            state = event["to_state"]
        return state


def bulk_cases(
    rt: Runtime,
    *,
    count: int,
    days: int = DEFAULT_DAYS,
    end: datetime | None = None,
    seed: int = 2026,
    batch: int = BATCH,
    progress: Progress | None = None,
) -> HistoryStats:
    """Write ``count`` cases reported over the ``days`` days before ``end`` (default: the
    runtime clock's now) into a database that holds an organisation (areas with grids, the
    catalogue, departments and users). Deterministic for the same seed, end and organisation,
    apart from the ids."""
    if count < 0 or days < 1 or batch < 1:
        raise ValueError("count must be >= 0, days and batch >= 1")
    say = progress or (lambda _message: None)
    end = end or rt.clock.now()
    start = end - timedelta(days=days)
    rng = random.Random(seed)
    with rt.db.read() as session:
        ref = _reference(rt, session)
    planner = _Planner(ref, rng, end)
    arrivals = _arrivals(rng, ref.calendar, start, end, count)
    by_state = dict.fromkeys(STATES, 0)
    overdue_open = overdue_ever = written = 0
    started = time.perf_counter()
    for chunk in _chunks(arrivals, batch):
        planned = planner.plan_batch(chunk)
        with rt.db.transaction() as tx:
            first = _reserve_numbers(tx.session, len(planned))
            for offset, case in enumerate(planned):
                case.row["number"] = first + offset
            for case in planned:
                case.number_merges()
            # The tables, not the mapped classes: one executemany each, no ORM bookkeeping.
            tx.session.execute(insert(_CASES), [case.row for case in planned])
            events = [event for case in planned for event in case.events]
            tx.session.execute(insert(_EVENTS), events)
        for case in planned:
            by_state[case.state] += 1
            overdue_ever += case.overdue_ever
            overdue_open += case.state not in _DONE and case.row["sla_status"] == "overdue"
        written += len(planned)
        rate = written / max(time.perf_counter() - started, 1e-9)
        say(f"  {written} of {count} cases written ({rate:.0f}/s)")
    return HistoryStats(
        cases=written,
        by_state=by_state,
        overdue_open=overdue_open,
        overdue_ever=overdue_ever,
        photos=0,
    )


def _chunks(items: list[datetime], size: int) -> Iterator[list[datetime]]:
    for index in range(0, len(items), size):
        yield items[index : index + size]


# --- reference data ------------------------------------------------------------------------


def _reference(rt: Runtime, session: Session) -> _Reference:
    areas = {
        row.id: row
        for row in session.execute(
            select(Area.id, Area.code, Area.name_zh, Area.level, Area.path, Area.geometry)
        )
    }
    by_code = {row.code: row for row in areas.values()}
    grids: list[_Grid] = []
    for row in areas.values():
        if row.level != "grid":
            continue
        chain = {by_code[c].level: by_code[c] for c in row.path.split("/") if c in by_code}
        district, street, community = (chain.get(x) for x in ("district", "street", "community"))
        grids.append(
            _Grid(
                id=row.id,
                path=row.path,
                district_id=district.id if district else None,
                street_id=street.id if street else None,
                community_id=community.id if community else None,
                district_path=district.path if district else row.path,
                street_name=street.name_zh if street else "",
                community_name=community.name_zh if community else row.name_zh,
                address_prefix=(district.name_zh if district else "")
                + (street.name_zh if street else ""),
                geometry=shape(row.geometry),
            )
        )
    if not grids:
        raise ValueError("the database has no grids: seed an organisation first")
    grids.sort(key=lambda grid: grid.path)
    directory = categories(session)
    leaves = sorted(
        (
            c
            for c in directory.by_id.values()
            if c.active and not c.is_group and (c.handle_hours or c.department_kind)
        ),
        key=lambda c: c.code,
    )
    if not leaves:
        raise ValueError("the database has no categories: import the catalogue first")
    texts = {text.code: text.weight for text in REPORTS}
    weights = [float(texts.get(c.code, 1)) for c in leaves]
    districts = sorted({grid.district_path for grid in grids})
    departments: dict[tuple[uuid.UUID, str], uuid.UUID | None] = {}
    for category in leaves:
        for path in districts:
            suggestion = suggest_department(session, category, path)
            departments[category.id, path] = (
                suggestion.department.id if suggestion.department else None
            )
    users = session.execute(
        select(User.id, User.username, User.role, User.department_id, User.area_id)
        .where(User.active.is_(True))
        .order_by(User.username)
    ).all()
    handlers: dict[uuid.UUID, _Person] = {}
    gridworkers: dict[uuid.UUID, _Person] = {}
    people: dict[str, list[_Person]] = {}
    for user in users:
        person = _Person(user.id, user.username, user.role)
        if user.role == "handler" and user.department_id is not None:
            handlers.setdefault(user.department_id, person)
        if user.role == "gridworker" and user.area_id is not None:
            gridworkers.setdefault(user.area_id, person)
        key = "open311" if user.username == INTEGRATION_USER else user.role
        people.setdefault(key, []).append(person)
    return _Reference(
        grids=grids,
        categories=leaves,
        weights=weights,
        departments=departments,
        handlers=handlers,
        gridworkers=gridworkers,
        people=people,
        calendar=working_calendar(rt, session),
    )


# --- arrivals ------------------------------------------------------------------------------


def _arrivals(
    rng: random.Random, calendar: WorkingCalendar, start: datetime, end: datetime, count: int
) -> list[datetime]:
    """``count`` report times in ``[start, end)`` following the citizens' daily pattern, a
    little quieter on days off."""
    if count == 0:
        return []
    hours: list[datetime] = []
    weights: list[float] = []
    hour = start.replace(minute=0, second=0, microsecond=0)
    pattern = _HOURLY
    while hour < end:
        local = hour.astimezone(calendar.tz)
        weight = pattern[local.hour] * (1.0 if calendar.is_working_day(local.date()) else 0.8)
        hours.append(hour)
        weights.append(float(weight))
        hour += timedelta(hours=1)
    cumulative = list(itertools.accumulate(weights))
    total = cumulative[-1]
    times: list[datetime] = []
    while len(times) < count:
        index = bisect.bisect_right(cumulative, rng.random() * total)
        moment = hours[min(index, len(hours) - 1)] + timedelta(seconds=rng.uniform(0, 3600))
        if start <= moment < end:
            times.append(moment)
    times.sort()
    return times


# --- planning one case ---------------------------------------------------------------------


class _Planner:
    def __init__(self, ref: _Reference, rng: random.Random, end: datetime) -> None:
        self.ref, self.rng, self.end = ref, rng, end
        self.calendar = ref.calendar
        self._points: dict[uuid.UUID, list[tuple[float, float]]] = {}
        self._recent: dict[uuid.UUID, _Planned] = {}

    def plan_batch(self, arrivals: Sequence[datetime]) -> list[_Planned]:
        self._recent = {}  # merge targets stay in the batch being written
        planned = []
        for at in arrivals:
            grid = self.rng.choice(self.ref.grids)
            case = self._plan(at, grid)
            self._recent[grid.id] = case
            planned.append(case)
        return planned

    def _point(self, grid: _Grid) -> tuple[float, float]:
        """A uniform point inside the grid (rejection sampling, drawn in vectors)."""
        pool = self._points.setdefault(grid.id, [])
        while not pool:
            west, south, east, north = grid.geometry.bounds
            xs = [self.rng.uniform(west, east) for _ in range(64)]
            ys = [self.rng.uniform(south, north) for _ in range(64)]
            inside = shapely.contains_xy(grid.geometry, xs, ys)
            pool.extend(
                (round(x, 6), round(y, 6)) for x, y, ok in zip(xs, ys, inside, strict=True) if ok
            )
            # Rounding may move a point onto the edge; keep only those still inside.
            keep = shapely.contains_xy(grid.geometry, [p[0] for p in pool], [p[1] for p in pool])
            pool[:] = [p for p, ok in zip(pool, keep, strict=True) if ok]
        return pool.pop()

    def _plan(self, created: datetime, grid: _Grid) -> _Planned:
        rng, ref = self.rng, self.ref
        category = rng.choices(ref.categories, cum_weights=ref.cum_weights)[0]
        channel = rng.choices(_CHANNELS, cum_weights=_CHANNEL_CUM)[0]
        reporter, source = self._reporter(channel, grid)
        lon, lat = self._point(grid)
        limits = limits_for(category)
        place = f"{grid.street_name}{rng.randint(1, 400)}号附近"
        fill: dict[str, Any] = {
            "place": place,
            "road": grid.street_name,
            "community": grid.community_name,
            "n": rng.randint(2, 9),
            "days": rng.choice(DAYS),
        }
        title, description = _text(category, fill, rng)
        hotline = channel == "hotline"
        no_category = channel == "citizen" and rng.random() < NO_CATEGORY
        row: dict[str, Any] = {
            "id": new_id(created),
            "title": title,
            "description": description,
            "category_id": None if no_category else category.id,
            "state": State.reported.value,
            "priority": category.priority,
            "source": source,
            "lon": lon,
            "lat": lat,
            "address": grid.address_prefix + place,
            "area_path": grid.path,
            "district_id": grid.district_id,
            "street_id": grid.street_id,
            "community_id": grid.community_id,
            "grid_id": grid.id,
            "department_id": None,
            "assignee_id": None,
            "reporter_id": reporter.id,
            "reporter_name": phrases.caller_name(rng) if hotline else None,
            "reporter_phone": phrases.mobile_number(rng) if hotline else None,
            "client_ref": None,
            "attributes": {},
            "report_photos": [],
            "register_due_at": self.calendar.add_working_hours(created, limits.register_hours),
            "dispatch_due_at": None,
            "handle_due_at": None,
            "sla_status": "ok",
            "escalation_level": 0,
            "urge_count": 0,
            "return_count": 0,
            "verify_fail_count": 0,
            "reopen_count": 0,
            "returned_seconds": 0.0,
            "registered_at": None,
            "first_dispatched_at": None,
            "dispatched_at": None,
            "returned_at": None,
            "accepted_at": None,
            "handled_at": None,
            "verified_at": None,
            "closed_at": None,
            "evaluated_at": None,
            "rating": None,
            "rating_comment": None,
            "merged_into_id": None,
            "duplicate_count": 0,
            "version": 1,
            "created_at": created,
            "updated_at": created,
        }
        case = _Planned(row=row, events=[], grid=grid)
        course = _Course(self, case, category, limits, reporter)
        course.event("report", None, created, reporter, None, {"source": source})
        with contextlib.suppress(_Stop):
            course.run(channel)
        course.finish()
        return case

    def _reporter(self, channel: Channel, grid: _Grid) -> tuple[_Person, str]:
        ref, rng = self.ref, self.rng
        if channel == "gridworker":
            worker = ref.gridworkers.get(grid.id) or ref.person("gridworker", rng)
            return worker, "gridworker"
        if channel == "hotline":
            return ref.person("operator", rng), "hotline"
        if channel == "open311" and ref.people.get("open311"):
            return ref.person("open311", rng), "open311"
        return ref.person("citizen", rng), "citizen"

    def merge_target(self, case: _Planned, at: datetime) -> _Planned | None:
        target = self._recent.get(case.grid.id)
        if target is None or at - target.row["created_at"] > MERGE_WINDOW:
            return None
        return target if target.state_at(at) in _MERGE_INTO else None


def _text(category: CategoryInfo, fill: dict[str, Any], rng: random.Random) -> tuple[str, str]:
    for text in REPORTS:
        if text.code == category.code:
            title = rng.choice(text.titles).format_map(fill)
            return title[:200], rng.choice(text.texts).format_map(fill)
    return (
        f"{fill['community']}{category.name_zh}"[:200],
        f"{fill['place']}{category.name_zh}，请尽快处理",
    )


class _Course:
    """The steps of one case in time order, as the verbs would apply them."""

    def __init__(
        self,
        planner: _Planner,
        case: _Planned,
        category: CategoryInfo,
        limits: TimeLimits,
        reporter: _Person,
    ) -> None:
        self.p, self.case, self.category, self.limits = planner, case, category, limits
        self.rng, self.cal, self.end = planner.rng, planner.calendar, planner.end
        self.reporter = reporter
        self.row = case.row
        self.now: datetime = case.row["created_at"]
        self.marked_overdue = False

    # -- the course --

    def run(self, channel: Channel) -> None:
        rng, ref, row = self.rng, self.p.ref, self.row
        operator = ref.person("operator", rng)
        fate = rng.random()
        if fate < CANCEL:
            by_reporter = channel == "citizen"
            actor = self.reporter if by_reporter else operator
            reasons = phrases.CANCEL_BY_REPORTER if by_reporter else phrases.CANCEL_BY_OPERATOR
            at = self._after_minutes(5, 40)
            self.step("cancel", "cancelled", at, actor, rng.choice(reasons), closed=True)
            return
        intake = self._centre(3, 45, LATE_REGISTER, row["register_due_at"])
        if fate < CANCEL + REJECT:
            reason = rng.choice(phrases.REJECT_REASONS)
            self.step("reject", "rejected", intake, operator, reason, closed=True)
            return
        if fate < CANCEL + REJECT + MERGE:
            target = self.p.merge_target(self.case, intake)
            if target is not None:
                self._merge(target, intake, operator)
                return
        chosen = row["category_id"] is None  # the operator picks the category a citizen left
        data: dict[str, Any] = {"category_changed_from": None} if chosen else {}
        self.step("register", "registered", intake, operator, None, data)
        row.update(registered_at=self.now, category_id=self.category.id)
        self._restart("dispatch", intake)
        department = ref.department(self.category, self.case.grid)
        if department is None:
            return  # nobody covers it: it waits at dispatch
        dispatcher = ref.person("dispatcher", rng)
        at = self._centre(5, 60, LATE_DISPATCH, row["dispatch_due_at"])
        if rng.random() < WRONG_DISPATCH:
            wrong = self._other_department(department)
            self._dispatch(at, dispatcher, wrong)
            handler = ref.handlers.get(wrong, operator)
            returned = self._office(0.5, 4)
            reason = rng.choice(phrases.RETURN_REASONS).format(dept="责任部门")
            self.step(
                "return", "returned", returned, handler, reason, {"department_id": str(wrong)}
            )
            row.update(department_id=None, assignee_id=None, returned_at=self.now)
            row["return_count"] += 1
            self._restart("dispatch", self.now)
            at = self._centre(5, 60, LATE_DISPATCH, row["dispatch_due_at"])
        self._dispatch(at, dispatcher, department)
        handler = ref.handlers.get(department, operator)
        accepted = self._office(0.2, 3)
        note = rng.choice(phrases.ACCEPT_NOTES) if rng.random() < 0.3 else None
        self.step("accept", "accepted", accepted, handler, note)
        row.update(accepted_at=self.now, assignee_id=handler.id)
        self._handle(handler, late=rng.random() < LATE_HANDLE)
        verifier = ref.gridworkers.get(self.case.grid.id) or ref.person("gridworker", rng)
        if rng.random() < VERIFY_FAILS:
            at = self._office(0.5, 6)
            reason = rng.choice(phrases.VERIFY_FAILED)
            self.step("verify", "accepted", at, verifier, reason, {"passed": False})
            row["verify_fail_count"] += 1
            self._handle(handler, late=False)
        at = self._office(0.5, 6)
        note = rng.choice(phrases.VERIFY_PASSED) if rng.random() < 0.7 else None
        self.step("verify", "verified", at, verifier, note, {"passed": True})
        row["verified_at"] = self.now
        at = self._after_minutes(5, 120)
        note = rng.choice(phrases.CLOSE_NOTES) if rng.random() < 0.5 else None
        self.step("close", "closed", at, operator, note, closed=True)
        if channel in ("citizen", "open311") and rng.random() < RATES:
            unhappy = row["return_count"] or row["verify_fail_count"] or self.marked_overdue
            rating = rng.choices(RATINGS, UNHAPPY_WEIGHTS if unhappy else RATING_WEIGHTS)[0]
            comment = rng.choice(phrases.COMMENTS[rating]) if rng.random() < 0.5 else None
            at = self.now + timedelta(hours=rng.uniform(2, 48))
            self.step("evaluate", "evaluated", at, self.reporter, comment, {"rating": rating})
            row.update(evaluated_at=self.now, rating=rating, rating_comment=comment)

    def finish(self) -> None:
        """Where the case stands at the end: a running limit already passed is overdue."""
        self._check_limit(self.end)

    # -- the verbs' changes --

    def _dispatch(self, at: datetime, actor: _Person, department: uuid.UUID) -> None:
        data = {"department_id": str(department), "rule": "kind"}
        row, was_returned = self.row, self.row["state"] == "returned"
        self.step("dispatch", "dispatched", at, actor, None, data)
        at = self.now
        if was_returned and row["returned_at"] is not None:
            row["returned_seconds"] += (at - row["returned_at"]).total_seconds()
        row.update(department_id=department, assignee_id=None, dispatched_at=at)
        row["first_dispatched_at"] = row["first_dispatched_at"] or at
        self._restart("handle", at)
        row["escalation_level"] = 0

    def _handle(self, handler: _Person, *, late: bool) -> None:
        due = self.row["handle_due_at"]
        hours = self.limits.handle_hours
        if late and due is not None:
            at = self.cal.add_working_hours(due, hours * self.rng.uniform(0.05, 0.8))
        else:
            at = self.cal.add_working_hours(self.now, hours * self.rng.uniform(0.1, 0.6))
            if due is not None and at > due:  # a short limit: finished just in time
                at = max(self.now + timedelta(minutes=1), due - timedelta(minutes=10))
        text = next((t for t in REPORTS if t.code == self.category.code), None)
        fixes = text.fixes if text else ("已处置完毕",)
        note = self.rng.choice(fixes).format(n=self.rng.randint(2, 9))
        self.step("handle", "handled", at, handler, note)
        self.row["handled_at"] = self.now

    def _merge(self, target: _Planned, at: datetime, operator: _Person) -> None:
        row = self.row
        # Numbers are given when the batch is written: number_merges fills them in then.
        note = self.rng.choice(phrases.MERGE_NOTES)
        self.step(
            "merge", "merged", at, operator, note, {"into": str(target.row["id"])}, closed=True
        )
        row["merged_into_id"] = target.row["id"]
        self.case.merged_into = target
        target.row["duplicate_count"] += 1
        state = target.state_at(self.now)
        data = {"merged_case_id": str(row["id"])}
        target.events.append(
            _event(target.row, "merge", state, state, self.now, operator, note, data)
        )
        target.events.sort(key=lambda event: event["at"])

    def _restart(self, stage: str, at: datetime) -> None:
        hours = self.limits.dispatch_hours if stage == "dispatch" else self.limits.handle_hours
        self.row[f"{stage}_due_at"] = self.cal.add_working_hours(at, hours)
        self.row["sla_status"] = "ok"
        self.marked_overdue = False

    def _other_department(self, department: uuid.UUID) -> uuid.UUID:
        others = [d for d in self.p.ref.all_departments if d != department]
        return self.rng.choice(others) if others else department

    # -- time --

    def _after_minutes(self, low: float, high: float) -> datetime:
        return self.now + timedelta(minutes=self.rng.uniform(low, high))

    def _centre(self, low: float, high: float, late: float, due: datetime | None) -> datetime:
        """The 24-hour operations centre: minutes later, slower at night; now and then late."""
        if due is not None and self.rng.random() < late:
            return due + timedelta(minutes=self.rng.uniform(10, 180))
        minutes = self.rng.uniform(low, high)
        if not 8 <= self.now.astimezone(self.cal.tz).hour < 22:
            minutes *= 3
        at = self.now + timedelta(minutes=minutes)
        return min(at, due - timedelta(minutes=1)) if due is not None and due > self.now else at

    def _office(self, low: float, high: float) -> datetime:
        """A department or grid worker: some working hours later."""
        return self.cal.add_working_hours(self.now, self.rng.uniform(low, high))

    # -- the timeline --

    def step(
        self,
        action: str,
        to_state: str,
        at: datetime,
        actor: _Person,
        note: str | None,
        data: dict[str, Any] | None = None,
        *,
        closed: bool = False,
    ) -> None:
        at = max(at, self.now + timedelta(seconds=1))
        if at > self.end:
            raise _Stop()
        self._check_limit(at)
        from_state = self.row["state"]
        self.row["state"] = to_state
        self.row["updated_at"] = at
        if closed:
            self.row["closed_at"] = at
        self.event(action, from_state, at, actor, note, data or {})
        self.now = at

    def event(
        self,
        action: str,
        from_state: str | None,
        at: datetime,
        actor: _Person,
        note: str | None,
        data: dict[str, Any],
    ) -> None:
        self.case.events.append(
            _event(self.row, action, from_state, self.row["state"], at, actor, note, data)
        )

    def _check_limit(self, moment: datetime) -> None:
        """The SLA scan's mark when the running stage's limit passed before ``moment``."""
        stage = _STAGE_OF.get(self.row["state"])
        if stage is None or self.marked_overdue:
            return
        due = self.row[f"{stage}_due_at"]
        if due is None or due >= moment:
            return
        at = min(due + SCAN_LAG, moment - timedelta(seconds=1))
        at = max(at, self.now)
        self.marked_overdue = self.case.overdue_ever = True
        self.row["sla_status"] = "overdue"
        self.row["escalation_level"] += 1
        self.row["updated_at"] = at
        state = self.row["state"]
        data = {"stage": stage, "escalation_level": self.row["escalation_level"]}
        self.case.events.append(
            _event(self.row, "sla_overdue", state, state, at, _SYSTEM, None, data)
        )


def _event(
    row: dict[str, Any],
    action: str,
    from_state: str | None,
    to_state: str,
    at: datetime,
    actor: _Person,
    note: str | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": new_id(at),  # ids of the past: the live feed reads ids as times
        "case_id": row["id"],
        "at": at,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor.id,
        "actor_name": actor.username,
        "actor_role": actor.role,
        "note": note,
        "data": data,
    }


# --- case numbers --------------------------------------------------------------------------


def _reserve_numbers(session: Session, count: int) -> int:
    """The first of ``count`` consecutive case numbers, taken from the sequence (PostgreSQL)
    or the counter row (SQLite) so later reports continue after them."""
    if count == 0:
        return 1
    if session.get_bind().dialect.name == "postgresql":
        first = int(session.execute(CASE_NUMBER_SEQ.next_value()).scalar_one())
        last = first + count - 1
        session.execute(select(func.setval(CASE_NUMBER_SEQ.name, last)))
        return first
    value = session.execute(
        update(Counter)
        .where(Counter.name == "case")
        .values(value=Counter.value + count)
        .returning(Counter.value)
    ).scalar()
    if value is None:
        session.execute(insert(Counter).values(name="case", value=count))
        return 1
    return int(value) - count + 1
