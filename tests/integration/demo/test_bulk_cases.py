"""Cases written in bulk (cityops.demo.bulk) into the seeded test city: valid rows, timelines
that agree with them, numbers that later reports continue, and the screens' queries on them."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from cityops.cases import service as cases
from cityops.cases.models import Case, CaseEvent
from cityops.cases.schemas import CaseIn
from cityops.cases.schemas import Point as Location
from cityops.core.errors import ValidationFailed
from cityops.core.runtime import Runtime
from cityops.demo.bulk import bulk_cases
from cityops.demo.city import build_demo_city
from cityops.demo.history import STATES
from cityops.org import service as org
from cityops.org.models import Area
from factories.demo import blank_runtime, cheap_hashing

DONE = {"closed", "evaluated", "rejected", "merged", "cancelled"}
STAGE_DUE = {
    "reported": "register_due_at",
    "registered": "dispatch_due_at",
    "returned": "dispatch_due_at",
    "dispatched": "handle_due_at",
    "accepted": "handle_due_at",
}
MILESTONES = (
    "created_at",
    "registered_at",
    "first_dispatched_at",
    "accepted_at",
    "handled_at",
    "verified_at",
    "closed_at",
    "evaluated_at",
)


def _rows(rt: Runtime) -> list[Case]:
    with rt.db.read() as session:
        rows = list(session.scalars(select(Case).order_by(Case.number)))
        session.expunge_all()  # keep the loaded values once the read session ends
        return rows


def _timelines(rt: Runtime) -> dict[uuid.UUID, list[CaseEvent]]:
    found: dict[uuid.UUID, list[CaseEvent]] = {}
    with rt.db.read() as session:
        for event in session.scalars(select(CaseEvent).order_by(CaseEvent.at)):
            found.setdefault(event.case_id, []).append(event)
        session.expunge_all()
    return found


def test_counts_and_states(rt: Runtime) -> None:
    stats = bulk_cases(rt, count=1500, days=60, seed=1)
    rows = _rows(rt)
    assert stats.cases == len(rows) == 1500
    by_state = Counter(row.state for row in rows)
    assert stats.by_state == {state: by_state.get(state, 0) for state in STATES}
    # Older cases have mostly finished; the last day's are mostly still open.
    end = rt.clock.now()
    old = [row for row in rows if row.created_at < end - timedelta(days=14)]
    recent = [row for row in rows if row.created_at > end - timedelta(hours=12)]
    assert sum(row.state in DONE for row in old) >= 0.97 * len(old)
    assert sum(row.state not in DONE for row in recent) >= 0.5 * len(recent)
    for state in ("closed", "evaluated", "rejected", "cancelled", "merged", "dispatched"):
        assert by_state[state], (state, by_state)
    assert 0.4 < (by_state["closed"] + by_state["evaluated"]) / len(rows) < 0.95
    assert {row.source for row in rows} == {"citizen", "gridworker", "hotline"}
    assert min(row.created_at for row in rows) >= end - timedelta(days=60)
    assert max(row.created_at for row in rows) <= end


def test_each_row_agrees_with_its_timeline(rt: Runtime) -> None:
    bulk_cases(rt, count=800, days=30, seed=2)
    timelines = _timelines(rt)
    end = rt.clock.now()
    for row in _rows(rt):
        steps = timelines[row.id]
        assert steps[0].action == "report"
        assert [s.at for s in steps] == sorted(s.at for s in steps)
        moves = [s for s in steps if s.from_state != s.to_state]
        assert moves[-1].to_state == row.state, row.number
        assert all(s.at <= end for s in steps)
        times = [getattr(row, name) for name in MILESTONES if getattr(row, name) is not None]
        assert times == sorted(times), row.number
        assert row.register_due_at is not None
        assert row.register_due_at > row.created_at
        if row.state in ("dispatched", "accepted", "handled", "verified", "closed", "evaluated"):
            assert row.category_id is not None
            assert row.department_id is not None
            assert row.first_dispatched_at is not None
            assert row.handle_due_at is not None
        if row.state in ("closed", "evaluated", "rejected", "merged", "cancelled"):
            assert row.closed_at is not None
        if row.state == "merged":
            assert row.merged_into_id is not None
        if row.state == "evaluated":
            assert row.rating in (1, 2, 3, 4, 5)
        marks = [s for s in steps if s.action == "sla_overdue"]
        due_name = STAGE_DUE.get(row.state)
        if due_name is not None:  # still in a timed stage: overdue exactly when past its limit
            assert (row.sla_status == "overdue") == (getattr(row, due_name) < end), row.number
        if row.sla_status == "overdue":
            assert marks
            assert row.escalation_level >= 1


def test_cases_lie_in_their_grids_and_numbers_continue(
    rt: Runtime, actor: Callable[[str], Any]
) -> None:
    bulk_cases(rt, count=600, days=30, seed=3)
    rows = _rows(rt)
    with rt.db.read() as session:
        grids = {a.id: a for a in session.scalars(select(Area).where(Area.level == "grid"))}
        for row in rows:
            grid = grids[row.grid_id]  # type: ignore[index]
            assert shape(grid.geometry).contains(Point(row.lon, row.lat)), row.number
            assert row.area_path == grid.path
            located = org.locate(rt, session, row.lon, row.lat)
            assert located is not None
            assert located.grid is not None
            assert located.grid.id == row.grid_id
            assert located.district is not None
            assert located.district.id == row.district_id
    assert len({row.grid_id for row in rows}) > 1
    numbers = [row.number for row in rows]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    nxt = cases.report_case(
        rt,
        actor=actor("citizen"),
        data=CaseIn(
            description="路灯不亮",
            location=Location(lon=rows[0].lon, lat=rows[0].lat),
        ),
    )
    assert nxt.number == numbers[-1] + 1


def test_the_command_screen_queries_work_on_them(
    rt: Runtime, client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    bulk_cases(rt, count=700, days=45, seed=4)
    end = rt.clock.now()
    rows = _rows(rt)
    headers = auth("operator")
    answer = client.get("/api/v1/kpi", params={"group_by": "city"}, headers=headers)
    assert answer.status_code == 200, answer.text
    figures = answer.json()["total"]["figures"]
    assert figures["reported"] == sum(row.created_at >= end - timedelta(days=30) for row in rows)
    assert figures["on_time_rate"] is not None
    assert 0.5 < figures["on_time_rate"] <= 1
    assert figures["satisfaction"] is not None
    assert 1 <= figures["satisfaction"] <= 5
    open_states = ["reported", "registered", "dispatched", "returned", "accepted", "handled"]
    open_states.append("verified")
    listed = client.get(
        "/api/v1/cases", params={"state": open_states, "page_size": 1}, headers=headers
    )
    assert listed.status_code == 200
    assert listed.json()["total"] == sum(row.state in open_states for row in rows)
    latest = client.get(
        "/api/v1/cases", params={"page_size": 500, "sort": "-created_at"}, headers=headers
    )
    assert latest.status_code == 200
    assert len(latest.json()["items"]) == 500
    case = rows[-1]
    timeline = client.get(f"/api/v1/cases/{case.id}/timeline", headers=headers)
    assert timeline.status_code == 200
    assert timeline.json()[0]["action"] == "report"


def test_bad_arguments_are_refused(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="count"):
        bulk_cases(rt, count=-1)
    with pytest.raises(ValueError, match="days"):
        bulk_cases(rt, count=10, days=0)
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_an_empty_database_is_refused(tmp_path: Path) -> None:
    with blank_runtime(tmp_path) as runtime, pytest.raises(ValueError, match="no grids"):
        bulk_cases(runtime, count=10)


def test_the_demo_city_takes_a_case_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashing(monkeypatch)
    with blank_runtime(tmp_path, demo_password="demo-pass-123") as runtime:
        with pytest.raises(ValidationFailed) as refused:
            build_demo_city(runtime, days=0, cases=10)
        assert refused.value.fields[0].field == "cases"
        credentials = build_demo_city(runtime, days=7, cases=300)
        assert credentials.stats is not None
        assert credentials.stats.cases == 300
        assert "History:   300 cases" in credentials.describe(runtime.settings)
        assert len(_rows(runtime)) == 300
        assert build_demo_city(runtime, days=7, cases=300).stats is None  # kept as it is
