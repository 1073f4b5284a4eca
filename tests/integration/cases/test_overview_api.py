"""The command screen's aggregates: GET /api/v1/overview/points and /overview/trend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.cases import service
from cityops.cases.tasks import scan_sla
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.cases import OTHER_DISTRICT, handler_of, make_case
from factories.org import bearer, make_user

POINTS = "/api/v1/overview/points"
TREND = "/api/v1/overview/trend"
PERFORMANCE = "/api/v1/overview/performance"


def _district_operator(rt: Runtime, api: Api, actor: Callable[[str], Any], district: str) -> str:
    """An operator whose jurisdiction is one district; logged in for ``api``."""
    make_user(rt, actor, "district-op", "operator", area=district)
    api.logins["district-op"] = bearer(rt, "district-op")
    return "district-op"


def _by_number(body: dict[str, Any]) -> dict[int, str]:
    assert body["columns"] == ["number", "lon", "lat", "kind"]
    return {int(p[0]): body["kinds"][int(p[3])] for p in body["points"]}


def test_points_are_open_cases_and_recently_closed_ones(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    late = make_case(rt, actor, "dispatched")
    rt.clock.advance(days=20)  # type: ignore[attr-defined]
    scan_sla(rt)
    fresh = make_case(rt, actor, "reported")
    closed = make_case(rt, actor, "evaluated")
    rejected = make_case(rt, actor, "rejected")
    body = api.get("operator", POINTS).json()
    kinds = _by_number(body)
    assert kinds == {late.number: "overdue", fresh.number: "open", closed.number: "closed"}
    assert rejected.number not in kinds
    assert (body["open"], body["closed"], body["truncated"]) == (2, 1, False)
    [point] = [p for p in body["points"] if p[0] == fresh.number]
    assert point[1:3] == [fresh.location.lon, fresh.location.lat]
    steps = service.timeline(rt, actor=actor("admin"), case_id=rejected.id)
    assert body["cursor"] == str(max(step.id for step in steps))


def test_points_leave_out_what_closed_long_ago_and_stop_at_the_limit(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    closed = make_case(rt, actor, "closed")
    rt.clock.advance(days=4)  # type: ignore[attr-defined]
    newer, newest = make_case(rt, actor, "reported"), make_case(rt, actor, "reported")
    assert closed.number not in _by_number(api.get("operator", POINTS).json())
    assert closed.number in _by_number(api.get("operator", POINTS, closed_days=5).json())
    body = api.get("operator", POINTS, limit=1).json()
    assert _by_number(body) == {newest.number: "open"}
    assert body["truncated"] is True
    assert newer.number in _by_number(api.get("operator", POINTS, limit=2).json())


def test_points_and_trend_are_scoped_to_the_jurisdiction(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    inside = make_case(rt, actor, "reported")
    outside = make_case(rt, actor, "reported", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    assert inside.location.district is not None
    who = _district_operator(rt, api, actor, inside.location.district.code)
    assert set(_by_number(api.get(who, POINTS).json())) == {inside.number}
    assert outside.number in _by_number(api.get("operator", POINTS).json())
    [series] = api.get(who, TREND).json()["series"]
    assert series["total"] == 1
    assert sum(s["total"] for s in api.get("operator", TREND).json()["series"]) == 2


def test_trend_counts_cases_per_city_day_by_top_level_category(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    make_case(rt, actor, "reported")  # E-01-02, Monday 2 March 10:00 in the city
    make_case(rt, actor, "reported", category=None)
    rt.clock.advance(hours=14)  # 00:00 on Tuesday in the city, 16:00 on Monday in UTC
    make_case(rt, actor, "reported")
    body = api.get("operator", TREND, days=3).json()
    assert body["days"] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert body["since"].startswith("2026-02-28T16:00:00")
    by_kind = {(s["kind"], s["code"]): s for s in body["series"]}
    assert by_kind["category", "E-01"]["counts"] == [0, 1, 1]
    assert by_kind["category", "E-01"]["name_zh"] == "市容环境"
    assert by_kind["uncategorised", None]["counts"] == [0, 1, 0]
    [first] = api.get("operator", TREND, days=3, top=1).json()["series"][:1]
    assert first["code"] == "E-01"


def test_trend_folds_the_rest_into_other(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    make_case(rt, actor, "reported")
    make_case(rt, actor, "reported")
    make_case(rt, actor, "reported", category=None)
    series = api.get("operator", TREND, top=1).json()["series"]
    assert [(s["kind"], s["total"]) for s in series] == [("category", 2), ("other", 1)]


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (TREND, {"days": 0}, "days"),
        (TREND, {"days": 91}, "days"),
        (TREND, {"days": "two"}, "days"),
        (TREND, {"top": 0}, "top"),
        (TREND, {"top": 13}, "top"),
        (POINTS, {"closed_days": -1}, "closed_days"),
        (POINTS, {"closed_days": 31}, "closed_days"),
        (POINTS, {"limit": 0}, "limit"),
        (POINTS, {"limit": 200_001}, "limit"),
    ],
)
def test_bad_parameters_name_the_field(
    api: Api, url: str, params: dict[str, Any], field: str
) -> None:
    assert field in fields(api.get("operator", url, **params))


@pytest.mark.parametrize("url", [POINTS, TREND, PERFORMANCE])
@pytest.mark.parametrize("who", ["handler-chengguan-990101", "gridworker", "citizen"])
def test_roles_without_indicators_are_refused(api: Api, url: str, who: str) -> None:
    assert error(api.get(who, url), 403)["code"] == "permission_denied"


@pytest.mark.parametrize("url", [POINTS, TREND])
def test_anonymous_is_refused(api: Api, url: str) -> None:
    assert error(api.get(None, url), 401)["code"] == "not_authenticated"


def test_performance_gives_the_figures_of_the_kpi_report(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    make_case(rt, actor, "evaluated")
    make_case(rt, actor, "evaluated", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    late = make_case(rt, actor, "accepted")
    make_case(rt, actor, "dispatched")
    rt.clock.advance(days=20)  # type: ignore[attr-defined]
    service.handle_case(rt, actor=actor(handler_of(late)), case_id=late.id, note="已处理")
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]  # the period ends before "now"
    body = api.get("operator", PERFORMANCE).json()
    kpi = api.get("operator", "/api/v1/kpi", group_by="department").json()
    assert (body["since"], body["until"]) == (kpi["since"], kpi["until"])
    figures = kpi["total"]["figures"]
    total = body["total"]
    assert (total["handled"], total["on_time"]) == (3, 2)
    assert total["on_time_rate"] == pytest.approx(figures["on_time_rate"])
    assert total["satisfaction"] == pytest.approx(figures["satisfaction"])
    assert total["rating_count"] == figures["rating_count"] == 2
    rows = {r["code"]: r["figures"] for r in kpi["rows"] if r["figures"]["handled"]}
    assert [d["code"] for d in body["departments"]] == sorted(
        rows, key=lambda code: (-rows[code]["on_time_rate"], -rows[code]["handled"], code)
    )
    for department in body["departments"]:
        assert department["on_time_rate"] == pytest.approx(rows[department["code"]]["on_time_rate"])
    assert body["departments"][-1]["on_time_rate"] < 1


def test_performance_takes_days_and_refuses_handlers(api: Api) -> None:
    assert "days" in fields(api.get("operator", PERFORMANCE, days=0))
    assert "days" in fields(api.get("operator", PERFORMANCE, days=367))
    assert error(api.get("handler-chengguan-990101", PERFORMANCE), 403)["code"] == (
        "permission_denied"
    )


def test_performance_rates_a_period_by_its_handling_and_its_ratings_apart(
    rt: Runtime, api: Api, actor: Callable[[str], Any]
) -> None:
    """A case handled before the period and rated in it counts for the satisfaction only: in
    the total, not in the department ranking (which lists departments that handled cases)."""
    earlier = make_case(rt, actor, "closed")
    rt.clock.advance(days=40)  # type: ignore[attr-defined]
    service.evaluate_case(rt, actor=actor("citizen"), case_id=earlier.id, rating=4)
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]
    api.logins["operator"] = bearer(rt, "operator")  # the first token has expired meanwhile
    body = api.get("operator", PERFORMANCE).json()
    total = body["total"]
    assert (total["handled"], total["on_time"], total["on_time_rate"]) == (0, 0, None)
    assert (total["rating_count"], total["satisfaction"]) == (1, 4.0)
    assert body["departments"] == []
    later = make_case(rt, actor, "handled")
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]
    body = api.get("operator", PERFORMANCE).json()
    assert (body["total"]["handled"], body["total"]["rating_count"]) == (1, 1)
    [department] = body["departments"]
    # Both cases are the same department's: its row joins this period's handling to the rating.
    assert department["code"] == handler_of(later).removeprefix("handler-")
    assert (department["handled"], department["on_time"]) == (1, 1)
    assert (department["rating_count"], department["satisfaction"]) == (1, 4.0)
