"""GET /api/v1/cases: pagination, sorting, every filter, and a constant number of SQL
statements however many cases a page holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cityops.cases.tasks import scan_sla
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.api import Api, fields
from factories.cases import OTHER_DISTRICT, OTHER_GRID, make_case, make_photo, report
from factories.db import count_statements

ActorFn = Callable[[str], Any]


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


@pytest.fixture
def seven(rt: Runtime, actor: ActorFn, clock: FrozenClock) -> list[str]:
    """Seven reports one minute apart, oldest first."""
    made = []
    for _ in range(7):
        made.append(str(report(rt, actor).id))
        clock.advance(minutes=1)
    return made


def test_pages(api: Api, seven: list[str]) -> None:
    newest_first = list(reversed(seven))

    pages = [api.cases(page=n, page_size=3) for n in (1, 2, 3, 4)]

    assert [p["total"] for p in pages] == [7, 7, 7, 7]
    assert [(p["page"], p["page_size"]) for p in pages] == [(1, 3), (2, 3), (3, 3), (4, 3)]
    assert [_ids(p) for p in pages] == [newest_first[0:3], newest_first[3:6], newest_first[6:], []]


def test_sorting(api: Api, seven: list[str]) -> None:
    by_number = api.cases(sort="number")["items"]
    by_number_desc = api.cases(sort="-number")["items"]

    numbers = [c["number"] for c in by_number]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 7
    assert [c["number"] for c in by_number_desc] == sorted(numbers, reverse=True)
    assert _ids(api.cases(sort="created_at")) == seven
    assert _ids(api.cases(sort="state,-created_at")) == list(reversed(seven))


@pytest.mark.parametrize("sort", ["colour", "-colour", "number,reporter_phone", "-"])
def test_unknown_sort_key(api: Api, sort: str) -> None:
    response = api.get("admin", "/api/v1/cases", sort=sort)

    assert fields(response) == {"sort": "invalid"}


def test_filters(rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock) -> None:
    rubbish = make_case(rt, actor, "dispatched", description="小区门口垃圾堆积无人清运")
    clock.advance(hours=1)
    stalls = make_case(rt, actor, "registered", category="E-05-01", description="占道经营的摊贩")
    clock.advance(hours=1)
    east = make_case(
        rt,
        actor,
        "accepted",
        lon=OTHER_DISTRICT[0],
        lat=OTHER_DISTRICT[1],
        description="二区的井盖缺失",
        category="B-01-01",
    )
    clock.advance(hours=1)
    north = make_case(
        rt,
        actor,
        "reported",
        lon=OTHER_GRID[0],
        lat=OTHER_GRID[1],
        category=None,
        description="路面有一个大坑",
    )

    def ids(**params: Any) -> set[str]:
        return set(_ids(api.cases(**params)))

    every = {str(c.id) for c in (rubbish, stalls, east, north)}
    assert ids() == every
    assert ids(state="dispatched") == {str(rubbish.id)}
    assert ids(state=["dispatched", "accepted"]) == {str(rubbish.id), str(east.id)}
    assert ids(category="E-01-02") == {str(rubbish.id)}
    assert ids(category="E-05") == {str(stalls.id)}  # a group means all its categories
    assert ids(category="B-01-01") == {str(east.id)}
    assert ids(district="990102") == {str(east.id)}
    assert ids(district="990101") == every - {str(east.id)}
    assert ids(district="99010100100102") == {str(north.id)}  # any level of area
    assert ids(department="chengguan-990101") == {str(rubbish.id)}
    assert ids(department="shuiwu") == {str(east.id)}
    assert ids(q="垃圾") == {str(rubbish.id)}
    assert ids(q="井盖") == {str(east.id)}
    assert ids(q=str(stalls.number)) == {str(stalls.id)}
    assert ids(q="没有这样的案件") == set()
    assert ids(source="citizen") == every
    started = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    assert ids(since="2026-03-02T11:00:00+08:00") == {str(stalls.id), str(east.id), str(north.id)}
    assert ids(until="2026-03-02T03:00:00Z") == {str(rubbish.id)}
    assert ids(since="2026-03-02T11:00:00+08:00", until="2026-03-02T12:00:00+08:00") == {
        str(stalls.id)
    }
    assert ids(since=started.isoformat(), state="reported") == {str(north.id)}
    assert ids(mine="true") == set()  # admin reported none and is assigned none
    assert ids(near_lon=OTHER_GRID[0], near_lat=OTHER_GRID[1], radius_m=300) == {str(north.id)}

    clock.advance(days=7)
    scan_sla(rt)
    assert ids(sla_status="overdue") == every
    assert ids(sla_status="ok") == set()


def test_filters_combine_with_the_actors_scope(rt: Runtime, actor: ActorFn, api: Api) -> None:
    ours = make_case(rt, actor, "dispatched")
    make_case(rt, actor, "dispatched", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])

    page = api.cases("handler-chengguan-990101", state="dispatched")

    assert (page["total"], _ids(page)) == (1, [str(ours.id)])
    assert api.cases("handler-chengguan-990101", district="990102")["total"] == 0


def _varied_cases(rt: Runtime, actor: ActorFn, count: int) -> None:
    """Cases that differ in every related row a list shows: department, assignee, reporter,
    area, category, photos."""
    states = ["accepted", "reported", "handled", "dispatched"]
    places = [(112.95, 28.12), OTHER_GRID, OTHER_DISTRICT, (112.92, 28.27)]
    categories = ["E-01-02", "B-01-01", "E-05-01", None]
    reporters = ["citizen", "gridworker", "operator", "citizen"]
    for n in range(count):
        lon, lat = places[n % 4]
        category = categories[(n // 4) % 4]
        state = states[n % 4] if category else "reported"
        photos = [make_photo(rt, actor, "citizen", seed=n).id] if n % 3 == 0 else []
        reporter = reporters[(n // 2) % 4]
        if reporter != "citizen":
            photos = []
        make_case(
            rt, actor, state, lon=lon, lat=lat, category=category, reporter=reporter, photos=photos
        )


@pytest.mark.parametrize("who", ["admin", "operator", "citizen"])
def test_listing_costs_a_constant_number_of_statements(
    rt: Runtime, actor: ActorFn, api: Api, who: str
) -> None:
    _varied_cases(rt, actor, 5)
    api.cases(who, page_size=50)  # warm the reference-data snapshots
    with count_statements(rt) as few:
        small = api.cases(who, page_size=50)
    _varied_cases(rt, actor, 35)
    with count_statements(rt) as many:
        large = api.cases(who, page_size=50)

    assert len(large["items"]) > len(small["items"]) > 0
    if who == "admin":
        assert (small["total"], large["total"]) == (5, 40)
    assert len(many) == len(few), "\n".join(many)
