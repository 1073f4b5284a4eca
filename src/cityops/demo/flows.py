"""The steps of one demo case, each a call of a case service verb by the person who does it in
real life, followed by scheduling the next step at a realistic time.

report → intake (register / reject / merge) → dispatch (→ return → dispatch) → accept →
handle → verify (fail → handle again) → close → evaluate (unhappy → reopen → accept …).
A step does nothing more when the case has reached the state its fate stops at.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from cityops.cases import service as cases
from cityops.cases.schemas import CaseIn, CaseOut, CategoryOut, Point, Reporter
from cityops.cases.sla import WorkingCalendar
from cityops.core.auth import Actor
from cityops.demo import phrases
from cityops.demo.messages import DAYS, ReportText
from cityops.demo.places import Spot
from cityops.demo.plan import Fate
from cityops.demo.seed import DISTRICT_KINDS, department_code
from cityops.demo.timing import Arrival, centre_delay, office_delay, waking_delay

if TYPE_CHECKING:
    from cityops.demo.history import Simulation

MERGE_TARGETS = frozenset(
    {"reported", "registered", "dispatched", "returned", "accepted", "handled"}
)
_DUPLICATE_WINDOW = timedelta(hours=48)


@dataclass
class Track:
    """What the generator remembers about one case it created."""

    id: uuid.UUID
    number: int
    state: str
    fate: Fate
    spot: Spot
    text: ReportText
    category: CategoryOut
    reporter: Actor
    reported_at: datetime
    department: str | None = None
    duplicate_of: Track | None = field(default=None, repr=False)
    returned: int = 0
    verify_failed: int = 0
    reopened: bool = False

    def update(self, out: CaseOut) -> None:
        self.state = out.state
        self.department = out.department.code if out.department else None

    @property
    def district(self) -> str:
        return self.spot.grid.district_code

    @property
    def urgent(self) -> bool:
        return self.category.priority == "urgent"


# --- discover ------------------------------------------------------------------------------


def report(sim: Simulation, arrival: Arrival, fate: Fate) -> None:
    """发现: a citizen, grid worker, hotline operator or the Open311 app reports a problem."""
    rng = sim.rng
    target = _duplicate_target(sim) if fate.duplicate else None
    fate.duplicate = target is not None
    text = target.text if target else sim.texts[fate.code]
    reporter, spot = _reporter_and_spot(sim, arrival.source, target)
    fill = {
        "place": spot.place,
        "road": spot.road,
        "community": spot.community,
        "n": rng.randint(2, 9),
        "days": rng.choice(DAYS),
    }
    local = sim.now().astimezone(sim.tz)
    photos = [sim.photo(reporter, f"{text.code} {local:%Y-%m-%d %H:%M}")] if fate.photo else []
    data = CaseIn(
        title=rng.choice(text.titles).format_map(fill),
        description=rng.choice(text.texts).format_map(fill),
        category_code=None if fate.no_category else text.code,
        location=Point(lon=spot.lon, lat=spot.lat),
        address=spot.address,
        photos=photos,
        source=arrival.source,
        reporter=_contact(sim, arrival.source),
        attributes=_attributes(sim, arrival.source, local),
    )
    out = cases.report_case(sim.rt, actor=reporter, data=data)
    track = Track(
        id=out.id,
        number=out.number,
        state=out.state,
        fate=fate,
        spot=spot,
        text=text,
        category=sim.categories[text.code],
        reporter=reporter,
        reported_at=sim.now(),
        duplicate_of=target,
    )
    sim.tracks.append(track)
    if out.state == "merged":  # a repeat report merged at intake: nothing left to do
        return
    if fate.cancel and reporter.role == "citizen":
        sim.at(sim.now() + timedelta(minutes=rng.uniform(5, 40)), lambda: cancel(sim, track))
    elif fate.stop_at != "reported":
        sim.at(centre_delay(sim.now(), rng, sim.tz, 3, 45), lambda: intake(sim, track))


def _duplicate_target(sim: Simulation) -> Track | None:
    since = sim.now() - _DUPLICATE_WINDOW
    # A problem others have reported again draws more reports (a 热点问题 forms): most
    # repeats go to the latest such problem still open, the rest to another recent case.
    for track in reversed(sim.tracks[-300:]):
        if track.reported_at < since:
            break
        target = track.duplicate_of
        if target is not None and target.state in MERGE_TARGETS and sim.rng.random() < 0.6:
            return target
    for track in reversed(sim.tracks[-300:]):
        if track.reported_at < since:
            return None
        if track.state in MERGE_TARGETS and track.duplicate_of is None and sim.rng.random() < 0.3:
            return track
    return None


def _reporter_and_spot(sim: Simulation, source: str, target: Track | None) -> tuple[Actor, Spot]:
    rng, cast, cmap = sim.rng, sim.cast, sim.cmap
    spot = cmap.near(target.spot, rng) if target else None
    if source == "gridworker":
        if spot is None and rng.random() < 0.4:
            grid_code, worker = rng.choice(sorted(cast.gridworkers.items()))
            return worker, cmap.spot_in(cmap.grids[grid_code], rng)
        spot = spot or cmap.spot_in(cmap.random_grid(rng), rng)
        return cast.supervisors[spot.grid.district_code], spot
    spot = spot or cmap.spot_in(cmap.random_grid(rng), rng)
    if source == "hotline":
        return cast.intake(spot.grid.district_code, rng), spot
    if source == "open311":
        return cast.open311, spot
    weights = [3 if c.username == "citizen" else 1 for c in cast.citizens]
    return rng.choices(cast.citizens, weights)[0], spot


def _contact(sim: Simulation, source: str) -> Reporter | None:
    if source == "hotline" or (source == "open311" and sim.rng.random() < 0.5):
        return Reporter(name=phrases.caller_name(sim.rng), phone=phrases.mobile_number(sim.rng))
    return None


def _attributes(sim: Simulation, source: str, local: datetime) -> dict[str, Any]:
    if source == "hotline":
        return {"channel": "12345", "call_id": f"{local:%Y%m%d}{sim.rng.randrange(10**5):05d}"}
    if source == "open311":
        return {"client": "长沙市民云"}
    return {}


# --- register, dispatch --------------------------------------------------------------------


def intake(sim: Simulation, track: Track) -> None:
    """立案 / 不予立案 / 合并 by the operator on duty."""
    rng, fate = sim.rng, track.fate
    actor = sim.cast.intake(track.district, rng)
    target = track.duplicate_of
    if fate.reject:
        reason = rng.choice(phrases.REJECT_REASONS)
        track.update(cases.reject_case(sim.rt, actor=actor, case_id=track.id, reason=reason))
        return
    if target is not None and target.state in MERGE_TARGETS:
        note = rng.choice(phrases.MERGE_NOTES).format(number=target.number)
        out = cases.merge_case(sim.rt, actor=actor, case_id=track.id, into=target.id, note=note)
        track.update(out)
        return
    code = track.text.code if fate.no_category else None
    track.update(cases.register_case(sim.rt, actor=actor, case_id=track.id, category_code=code))
    if track.state == "merged":  # registering with its category found the open case it repeats
        return
    if fate.cancel:
        sim.at(centre_delay(sim.now(), rng, sim.tz, 30, 240), lambda: cancel(sim, track))
    elif fate.stop_at != "registered":
        sim.at(centre_delay(sim.now(), rng, sim.tz, 2, 30), lambda: dispatch(sim, track))


def dispatch(sim: Simulation, track: Track) -> None:
    """派单 by the dispatcher: by the routing rules, or (by mistake) to the wrong department."""
    rng = sim.rng
    wrong = track.fate.wrong_dispatch and track.returned == 0
    note = None
    if track.returned:
        note = rng.choice(phrases.REDISPATCH_NOTES).format(dept=_right_department_name(sim, track))
    out = cases.dispatch_case(
        sim.rt,
        actor=sim.cast.dispatcher,
        case_id=track.id,
        department_code=_wrong_department(sim, track) if wrong else None,
        note=note,
    )
    track.update(out)
    if track.fate.stop_at == "dispatched":
        return
    if wrong:
        when = office_delay(sim.now(), rng, sim.duty, 0.1, 2)  # a wrong case is sent back fast
        sim.at(when, lambda: return_(sim, track))
    else:
        sim.at(_accept_time(sim, track), lambda: accept(sim, track))


def _right_department_name(sim: Simulation, track: Track) -> str:
    kind = track.category.department_kind or "chengguan"
    code = department_code(kind, track.district if kind in DISTRICT_KINDS else None)
    return sim.department_names.get(code, code)


def _wrong_department(sim: Simulation, track: Track) -> str:
    kinds = [kind for kind in DISTRICT_KINDS if kind != track.category.department_kind]
    return department_code(sim.rng.choice(kinds), track.district)


def return_(sim: Simulation, track: Track) -> None:
    """退回 by the wrongly chosen department, naming the right one."""
    rng = sim.rng
    reason = rng.choice(phrases.RETURN_REASONS).format(dept=_right_department_name(sim, track))
    handler = sim.cast.handlers[track.department or ""]
    track.update(cases.return_case(sim.rt, actor=handler, case_id=track.id, reason=reason))
    track.returned += 1
    if track.fate.stop_at != "returned":
        sim.at(centre_delay(sim.now(), rng, sim.tz, 10, 90), lambda: dispatch(sim, track))


# --- handle, verify ------------------------------------------------------------------------


def _calendar(sim: Simulation, track: Track) -> WorkingCalendar:
    """When the case's current department works (the right one's kind if not dispatched)."""
    kind = (track.department or "").split("-")[0] or track.category.department_kind
    return sim.work_calendar(kind)


def _accept_time(sim: Simulation, track: Track) -> datetime:
    if track.urgent:
        return sim.now() + timedelta(minutes=sim.rng.uniform(5, 30))
    return office_delay(sim.now(), sim.rng, _calendar(sim, track), 0.05, 1.5)


def accept(sim: Simulation, track: Track) -> None:
    """签收 by the department's handler."""
    rng = sim.rng
    note = rng.choice(phrases.ACCEPT_NOTES) if rng.random() < 0.3 else None
    handler = sim.cast.handlers[track.department or ""]
    track.update(cases.accept_case(sim.rt, actor=handler, case_id=track.id, note=note))
    if track.fate.stop_at == "accepted":
        return
    hours = track.category.handle_hours or 40
    share = rng.uniform(1.15, 2.2) if track.fate.late else rng.uniform(0.15, 0.85)
    if track.urgent:
        when = sim.now() + timedelta(hours=hours * share)
    else:
        when = _calendar(sim, track).add_working_hours(sim.now(), hours * share)
    sim.at(when, lambda: handle(sim, track))


def handle(sim: Simulation, track: Track) -> None:
    """处置: the handler reports the result, often with a photo."""
    rng = sim.rng
    handler = sim.cast.handlers[track.department or ""]
    note = rng.choice(track.text.fixes).format(n=rng.randint(2, 9))
    photos = [sim.photo(handler, f"RESULT {track.number}")] if rng.random() < 0.12 else []
    out = cases.handle_case(sim.rt, actor=handler, case_id=track.id, note=note, photos=photos)
    track.update(out)
    if track.fate.stop_at == "handled":
        return
    if track.urgent:
        when = sim.now() + timedelta(hours=rng.uniform(0.5, 3))
    else:
        when = office_delay(sim.now(), rng, sim.duty, 0.3, 5)
    sim.at(when, lambda: verify(sim, track))


def _verifier(sim: Simulation, track: Track) -> Actor:
    worker = sim.cast.gridworkers.get(track.spot.grid.code)
    if worker is not None:
        return worker
    reporter = track.reporter
    if reporter.role == "citizen" and reporter is not sim.cast.open311 and sim.rng.random() < 0.3:
        return reporter
    return sim.cast.supervisors[track.district]


def verify(sim: Simulation, track: Track) -> None:
    """核查 on site by the grid worker (or the reporter); a failure goes back to the department."""
    rng = sim.rng
    actor = _verifier(sim, track)
    if track.fate.verify_fails and track.verify_failed == 0:
        reason = rng.choice(phrases.VERIFY_FAILED)
        out = cases.verify_case(sim.rt, actor=actor, case_id=track.id, passed=False, note=reason)
        track.update(out)
        track.verify_failed += 1
        when = office_delay(sim.now(), rng, _calendar(sim, track), 1, 8)
        sim.at(when, lambda: handle(sim, track))
        return
    note = rng.choice(phrases.VERIFY_PASSED) if rng.random() < 0.7 else None
    photos = [sim.photo(actor, f"CHECK {track.number}", png=True)] if rng.random() < 0.06 else []
    out = cases.verify_case(
        sim.rt, actor=actor, case_id=track.id, passed=True, note=note, photos=photos
    )
    track.update(out)
    if track.fate.stop_at != "verified":
        sim.at(centre_delay(sim.now(), rng, sim.tz, 10, 90), lambda: close(sim, track))


# --- close, evaluate, reopen, cancel -------------------------------------------------------


def close(sim: Simulation, track: Track) -> None:
    """结案 by the operations centre."""
    rng = sim.rng
    actor = sim.cast.intake(track.district, rng)
    note = rng.choice(phrases.CLOSE_NOTES) if rng.random() < 0.5 else None
    track.update(cases.close_case(sim.rt, actor=actor, case_id=track.id, note=note))
    if track.fate.rating is not None and track.reporter.role == "citizen":
        low, high = (0.3, 6) if rng.random() < 0.6 else (6, 48)  # most rate soon after the SMS
        sim.at(waking_delay(sim.now(), rng, sim.tz, low, high), lambda: evaluate(sim, track))


def evaluate(sim: Simulation, track: Track) -> None:
    """评价 by the reporter; an unhappy one may get the case reopened."""
    rng = sim.rng
    rating = track.fate.rating or 5
    comment = rng.choice(phrases.COMMENTS[rating]) if rng.random() < 0.6 else None
    out = cases.evaluate_case(
        sim.rt, actor=track.reporter, case_id=track.id, rating=rating, comment=comment
    )
    track.update(out)
    if rating <= 2 and track.fate.reopen and not track.reopened:
        sim.at(centre_delay(sim.now(), rng, sim.tz, 60, 240), lambda: reopen(sim, track))


def reopen(sim: Simulation, track: Track) -> None:
    """重新派单 after an unhappy rating: back to the same department, handled again."""
    rng = sim.rng
    actor = sim.cast.intake(track.district, rng)
    reason = rng.choice(phrases.REOPEN_REASONS)
    track.update(cases.reopen_case(sim.rt, actor=actor, case_id=track.id, reason=reason))
    track.reopened = True
    track.fate.late = track.fate.verify_fails = False
    track.fate.rating = rng.choice((3, 4, 4, 5))
    sim.at(_accept_time(sim, track), lambda: accept(sim, track))


def cancel(sim: Simulation, track: Track) -> None:
    """撤销: the citizen withdraws their report, or the operator cancels on the caller's word."""
    rng = sim.rng
    if track.reporter.role == "citizen" and track.state == "reported":
        actor, reason = track.reporter, rng.choice(phrases.CANCEL_BY_REPORTER)
    else:
        actor = sim.cast.intake(track.district, rng)
        reason = rng.choice(phrases.CANCEL_BY_OPERATOR)
    track.update(cases.cancel_case(sim.rt, actor=actor, case_id=track.id, reason=reason))
