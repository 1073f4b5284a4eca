"""Time limits in working hours (09:00-12:00 and 13:30-18:00, Monday to Friday, Asia/Shanghai,
plus the holidays set by admins) and the SLA scan: warning, overdue, one escalation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.tasks import scan_sla
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.api import Api, error
from factories.cases import make_case, report

ActorFn = Callable[[str], Any]
SH = ZoneInfo("Asia/Shanghai")
NOTHING = {"warning": 0, "overdue": 0}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock time in March 2026 (Monday the 2nd, Friday the 6th, Monday the 9th)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SH)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("reported", "due"),
    [
        (local(6, 17, 0), local(9, 10, 0)),  # Friday: 1 h left, then 1 h on Monday
        (local(6, 17, 30), local(9, 10, 30)),  # Friday: 0.5 h left, then 1.5 h on Monday
        (local(2, 11, 30), local(2, 15, 0)),  # the lunch break does not count
        (local(2, 8, 0), local(2, 11, 0)),  # before the day starts
        (local(7, 10, 0), local(9, 11, 0)),  # on Saturday
        (local(6, 19, 0), local(9, 11, 0)),  # after hours on Friday
    ],
    ids=["fri-17:00", "fri-17:30", "lunch", "early", "saturday", "evening"],
)
def test_the_register_deadline_counts_working_hours(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock, reported: datetime, due: datetime
) -> None:
    clock.set(reported)

    case = report(rt, actor)  # E-01-02: 2 h to register, 2 h to dispatch, 8 h to handle

    assert utc(case.due.register_by) == utc(due)  # type: ignore[arg-type]
    assert api.case(case.id)["due"] == {
        "register_by": utc(due),
        "dispatch_by": None,
        "handle_by": None,
        "stage": "register",
        "status": "ok",
    }


def test_each_stage_gets_its_own_deadline(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = report(rt, actor)  # Monday 10:00
    clock.set(local(2, 10, 30))
    registered = api.act("operator", case.id, "register").json()
    clock.set(local(2, 11, 0))
    dispatched = api.act("dispatcher", case.id, "dispatch").json()

    assert registered["due"]["dispatch_by"] == utc(local(2, 14, 0))
    assert registered["due"]["stage"] == "dispatch"
    # 8 working hours from Monday 11:00: 1 + 4.5 on Monday, 2.5 on Tuesday.
    assert dispatched["due"]["handle_by"] == utc(local(3, 11, 30))
    assert dispatched["due"]["stage"] == "handle"
    assert dispatched["due"]["register_by"] == utc(local(2, 12, 0))


def test_the_scan_warns_then_marks_overdue_and_escalates_once(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock, events: Any
) -> None:
    case = report(rt, actor)  # Monday 10:00, to register by 12:00
    quiet = report(rt, actor, lon=113.05, lat=28.12)
    api.act("operator", quiet.id, "register")  # now due to be dispatched by 12:00 too
    api.act("dispatcher", quiet.id, "dispatch")  # and to be handled by Tuesday 10:30

    clock.set(local(2, 11, 30))  # 75% of the register time used
    assert scan_sla(rt) == NOTHING
    clock.set(local(2, 11, 40))  # over 80%
    events.events.clear()
    assert scan_sla(rt) == {"warning": 1, "overdue": 0}
    assert scan_sla(rt) == NOTHING
    warned = api.case(case.id)
    assert (warned["due"]["status"], warned["escalation_level"]) == ("warning", 0)
    assert [(e.action, e.sla_status) for e in events.events] == [("sla_warning", "warning")]

    clock.set(local(2, 12, 1))
    assert scan_sla(rt) == {"warning": 0, "overdue": 1}
    for later in (local(2, 12, 2), local(2, 17, 0)):
        clock.set(later)
        assert scan_sla(rt) == NOTHING

    overdue = api.case(case.id)
    assert (overdue["state"], overdue["due"]["status"]) == ("reported", "overdue")
    assert overdue["escalation_level"] == 1
    steps = [(e["action"], e["actor_name"], e["data"]) for e in api.timeline(case.id)]
    assert steps[1:] == [
        ("sla_warning", "system", {"stage": "register"}),
        ("sla_overdue", "system", {"stage": "register", "escalation_level": 1}),
    ]
    [audit] = api.audit(case.id, "cases:case:sla_overdue")
    assert audit["actor_name"] == "system"
    assert (audit["before"]["sla_status"], audit["before"]["escalation_level"]) == ("warning", 0)
    assert (audit["after"]["sla_status"], audit["after"]["escalation_level"]) == ("overdue", 1)
    assert [c["id"] for c in api.cases(sla_status="overdue")["items"]] == [str(case.id)]
    assert api.case(quiet.id)["due"]["status"] == "ok"
    assert api.case(quiet.id)["escalation_level"] == 0


def test_the_department_clock_warns_and_goes_overdue(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = make_case(rt, actor, "accepted")  # dispatched Monday 10:00, due Tuesday 10:30
    # 80% of 8 working hours is 6.4 h: 2 h in the morning, then 13:30 + 4.4 h = 17:54.
    clock.set(local(2, 17, 50))
    assert scan_sla(rt) == NOTHING
    clock.set(local(2, 17, 55))
    assert scan_sla(rt) == {"warning": 1, "overdue": 0}
    clock.set(local(3, 10, 31))
    assert scan_sla(rt) == {"warning": 0, "overdue": 1}

    out = api.case(case.id)
    assert (out["due"]["stage"], out["due"]["status"], out["escalation_level"]) == (
        "handle",
        "overdue",
        1,
    )
    assert api.timeline(case.id)[-1]["data"] == {"stage": "handle", "escalation_level": 1}


def test_a_new_stage_starts_a_fresh_clock(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = report(rt, actor)
    clock.set(local(2, 12, 30))
    assert scan_sla(rt) == {"warning": 0, "overdue": 1}

    registered = api.act("operator", case.id, "register").json()

    assert registered["due"] | {"register_by": None} == {
        "register_by": None,
        "dispatch_by": utc(local(2, 15, 30)),
        "handle_by": None,
        "stage": "dispatch",
        "status": "ok",
    }
    assert scan_sla(rt) == NOTHING


@pytest.mark.parametrize("state", ["handled", "verified", "closed", "rejected", "cancelled"])
def test_the_scan_leaves_cases_without_a_running_clock(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock, state: str
) -> None:
    case = make_case(rt, actor, state)
    clock.set(local(20, 10, 0))

    assert scan_sla(rt) == NOTHING
    assert api.case(case.id)["due"]["status"] == "ok"


def _set_day(api: Api, day: str, working: bool | None, who: str = "admin") -> None:
    params = {} if working is None else {"working": str(working).lower(), "name": "测试"}
    response = api.client.put(f"/api/v1/calendar/{day}", params=params, headers=api.headers(who))
    assert response.status_code == 204, response.text


def test_holidays_and_make_up_days_move_the_deadlines(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    clock.set(local(6, 17, 0))

    _set_day(api, "2026-03-09", working=False)  # Monday off
    over_the_holiday = report(rt, actor)
    _set_day(api, "2026-03-07", working=True)  # Saturday worked
    on_the_make_up_day = report(rt, actor)
    _set_day(api, "2026-03-09", working=None)
    _set_day(api, "2026-03-07", working=None)
    back_to_normal = report(rt, actor)

    assert over_the_holiday.due.register_by == local(10, 10, 0)
    assert on_the_make_up_day.due.register_by == local(7, 10, 0)
    assert back_to_normal.due.register_by == local(9, 10, 0)
    changes = [record["after"] for record in api.audit("2026-03-09", "cases:calendar:set")]
    assert sorted(changes, key=lambda change: str(change["working"])) == [
        {"working": False, "name": "测试"},
        {"working": None, "name": ""},
    ]


def test_a_holiday_keeps_the_scan_quiet(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    clock.set(local(6, 17, 0))
    _set_day(api, "2026-03-09", working=False)
    case = report(rt, actor)  # due Tuesday 10:00

    # Without the holiday it would be overdue since 10:00; with it, 1 of its 2 h is used.
    clock.set(local(9, 15, 0))
    assert scan_sla(rt) == NOTHING
    assert api.case(case.id)["due"]["status"] == "ok"
    clock.set(local(10, 9, 50))
    assert scan_sla(rt) == {"warning": 1, "overdue": 0}
    clock.set(local(10, 10, 1))
    assert scan_sla(rt) == {"warning": 0, "overdue": 1}


def test_calendar_days_are_validated(api: Api) -> None:
    response = api.client.put(
        "/api/v1/calendar/2026-02-30", params={"working": "false"}, headers=api.headers("admin")
    )

    assert error(response, 422)["fields"][0]["field"] == "day"


def test_a_returned_case_is_timed_from_its_return(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = make_case(rt, actor, "dispatched")  # Monday 10:00
    clock.set(local(2, 10, 10))
    returned = api.act("handler-chengguan-990101", case.id, "return", {"reason": "非本部门"})
    assert returned.json()["due"]["dispatch_by"] == utc(local(2, 13, 40))

    # 80% of 2 h is 1 h 36 min after 10:10: 11:46.
    clock.set(local(2, 11, 45))
    assert scan_sla(rt) == NOTHING
    clock.set(local(2, 11, 47))
    assert scan_sla(rt) == {"warning": 1, "overdue": 0}
    clock.set(local(2, 13, 41))
    assert scan_sla(rt) == {"warning": 0, "overdue": 1}
    assert api.timeline(case.id)[-1]["data"] == {"stage": "dispatch", "escalation_level": 1}
