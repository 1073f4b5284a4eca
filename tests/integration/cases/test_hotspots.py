"""热点问题 over HTTP: a burst of similar reports at one place forms a hot spot, old or
scattered reports do not, the ranking follows the heat score, and only the operations staff
and leaders see them, within their jurisdiction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.cases import IN_GRID, OTHER_DISTRICT, report

ActorFn = Callable[[str], Any]
LON, LAT = IN_GRID
COVER = [
    "人民路口井盖丢了很危险",
    "人民路路口井盖丢失，很危险",
    "人民路口的井盖丢了",
    "人民路口井盖没了很危险",
]
LIGHT = ["解放路路灯不亮了", "解放路的路灯晚上不亮", "解放路路灯坏了不亮"]
REPORTERS = ("citizen", "gridworker", "operator", "citizen")


def _burst(
    rt: Runtime,
    actor: ActorFn,
    clock: FrozenClock,
    texts: list[str],
    *,
    lon: float = LON,
    lat: float = LAT,
    step: float = 0.0001,
    category: str = "E-01-02",
) -> list[str]:
    ids = []
    for i, description in enumerate(texts):
        clock.advance(hours=2)
        case = report(
            rt,
            actor,
            reporter=REPORTERS[i % len(REPORTERS)],
            description=description,
            lon=lon + i * step,
            lat=lat,
            category=category,
        )
        ids.append(str(case.id))
    return ids


def _hotspots(api: Api, who: str = "leader", **params: Any) -> list[dict[str, Any]]:
    response = api.get(who, "/api/v1/hotspots", **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_burst_of_similar_reports_is_a_hot_spot(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    ids = _burst(rt, actor, clock, COVER)
    (hot,) = _hotspots(api)
    assert sorted(hot["case_ids"]) == sorted(ids)
    assert hot["reports"] == 4
    assert hot["reporters"] == 3
    assert hot["category"]["code"] == "E-01-02"
    assert hot["district"]["code"] == "990101"
    assert abs(hot["lon"] - (LON + 0.00015)) < 1e-6
    assert hot["first_at"] < hot["last_at"]
    assert hot["last_at"].endswith("Z") or "+" in hot["last_at"]
    assert hot["score"] > 0


def test_old_scattered_or_lonely_reports_are_not(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    _burst(rt, actor, clock, COVER)  # ten days before the answer: outside the 7 days
    clock.advance(days=10)
    _burst(rt, actor, clock, LIGHT, step=0.01)  # 1 km apart
    _burst(rt, actor, clock, ["公园里有人遛狗不牵绳", "公园长椅坏了"])  # two reports only
    assert _hotspots(api) == []
    assert len(_hotspots(api, days=14)) == 1


def test_ranking_follows_the_score(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    lights = _burst(rt, actor, clock, LIGHT, lat=LAT + 0.01, category="B-01-18")
    covers = _burst(rt, actor, clock, COVER)
    ranked = _hotspots(api)
    assert [len(h["case_ids"]) for h in ranked] == [4, 3]
    assert sorted(ranked[0]["case_ids"]) == sorted(covers)
    assert sorted(ranked[1]["case_ids"]) == sorted(lights)
    assert ranked[0]["score"] > ranked[1]["score"]
    assert len(_hotspots(api, limit=1)) == 1


def test_merged_duplicates_count_as_reports(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    rt.settings = rt.settings.model_copy(update={"duplicate_auto_merge": True})
    ids = _burst(rt, actor, clock, [COVER[0], COVER[0], COVER[1]])
    assert [api.case(i)["state"] for i in ids].count("merged") >= 1
    (hot,) = _hotspots(api)
    assert hot["reports"] == 3


def test_district_filter_and_jurisdiction(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    _burst(rt, actor, clock, COVER)
    _burst(
        rt, actor, clock, LIGHT, lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1], category="B-01-18"
    )
    assert len(_hotspots(api, "operator")) == 2
    only = _hotspots(api, "operator", district="990102")
    assert [h["category"]["code"] for h in only] == ["B-01-18"]
    assert error(api.get("operator", "/api/v1/hotspots", district="nowhere"), 422)


@pytest.mark.parametrize("who", ["citizen", "handler-chengguan-990101", "gridworker"])
def test_who_may_not_see_hot_spots(api: Api, who: str) -> None:
    assert error(api.get(who, "/api/v1/hotspots"), 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"days": 0}, "days"),
        ({"days": 91}, "days"),
        ({"limit": 0}, "limit"),
        ({"days": "x"}, "days"),
    ],
)
def test_bad_parameters(api: Api, params: dict[str, Any], field: str) -> None:
    assert field in fields(api.get("leader", "/api/v1/hotspots", **params))
