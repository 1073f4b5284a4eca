"""Administration of the catalogue and the working calendar over the API: reading and clearing
a category's routes, reading the calendar for a range, duplicate category codes named as a
field error, and the audit records of each change."""

from __future__ import annotations

from typing import Any

import pytest

from cityops.core.clock import FrozenClock
from factories.api import Api, error, fields

CATEGORY = "E-01-02"


def put_route(api: Api, area: str, department: str, who: str = "admin") -> Any:
    return api.client.put(
        f"/api/v1/categories/{CATEGORY}/routes",
        json={"area_code": area, "department_code": department},
        headers=api.headers(who),
    )


def routes(api: Api, who: str = "admin", code: str = CATEGORY) -> Any:
    return api.get(who, f"/api/v1/categories/{code}/routes")


def test_routes_are_listed_city_wide_first(api: Api) -> None:
    assert routes(api).json() == []
    assert put_route(api, "990101001", "zhujian-990101").status_code == 200
    assert put_route(api, "990100", "huanbao").status_code == 200

    response = routes(api, "dispatcher")

    assert response.status_code == 200, response.text
    assert [(r["area_code"], r["department"]["code"]) for r in response.json()] == [
        ("990100", "huanbao"),
        ("990101001", "zhujian-990101"),
    ]
    assert response.json()[0]["category_code"] == CATEGORY


def test_replacing_a_route_audits_the_department_before_and_after(
    api: Api, clock: FrozenClock
) -> None:
    put_route(api, "990101", "zhujian-990101")
    clock.advance(minutes=1)

    assert put_route(api, "990101", "shizheng-990101").status_code == 200

    [latest, first] = api.get("admin", "/api/v1/audit", action="cases:route:set").json()["items"]
    assert first["before"] == {"area": "990101", "department": None}
    assert latest["before"] == {"area": "990101", "department": "zhujian-990101"}
    assert latest["after"] == {"area": "990101", "department": "shizheng-990101"}
    assert [r["department"]["code"] for r in routes(api).json()] == ["shizheng-990101"]


def test_clearing_a_route(api: Api) -> None:
    put_route(api, "990101", "zhujian-990101")

    response = api.client.delete(
        f"/api/v1/categories/{CATEGORY}/routes/990101", headers=api.headers("admin")
    )

    assert response.status_code == 204, response.text
    assert routes(api).json() == []
    [record] = api.get("admin", "/api/v1/audit", action="cases:route:cleared").json()["items"]
    assert record["before"] == {"area": "990101", "department": "zhujian-990101"}
    again = api.client.delete(
        f"/api/v1/categories/{CATEGORY}/routes/990101", headers=api.headers("admin")
    )
    assert error(again, 404)["code"] == "not_found"


def test_routes_of_an_unknown_category_are_404(api: Api) -> None:
    assert error(routes(api, code="Z-99-99"), 404)["code"] == "not_found"


@pytest.mark.parametrize("who", ["operator", "dispatcher", "leader"])
def test_only_admins_clear_routes(api: Api, who: str) -> None:
    put_route(api, "990101", "zhujian-990101")

    response = api.client.delete(
        f"/api/v1/categories/{CATEGORY}/routes/990101", headers=api.headers(who)
    )

    assert error(response, 403)["code"] == "permission_denied"
    assert len(routes(api).json()) == 1


def test_citizens_and_anonymous_callers_do_not_read_routes(api: Api) -> None:
    assert error(routes(api, "citizen"), 403)["code"] == "permission_denied"
    assert error(routes(api, None), 401)["code"] == "not_authenticated"  # type: ignore[arg-type]


def calendar(api: Api, who: str | None = "admin", **params: str) -> Any:
    return api.get(who, "/api/v1/calendar", **params)


def set_day(api: Api, day: str, who: str = "admin", **params: str) -> Any:
    return api.client.put(f"/api/v1/calendar/{day}", params=params, headers=api.headers(who))


def test_the_calendar_shows_each_day_of_a_range(api: Api) -> None:
    assert set_day(api, "2026-04-06", working="false", name="清明节").status_code == 204
    assert set_day(api, "2026-04-04", working="true", name="调休").status_code == 204

    response = calendar(api, "operator", since="2026-04-01", until="2026-04-07")

    assert response.status_code == 200, response.text
    days = {d["day"]: d for d in response.json()}
    assert list(days) == [f"2026-04-0{n}" for n in range(1, 8)]
    assert days["2026-04-06"] == {
        "day": "2026-04-06",
        "working": False,
        "override": "holiday",
        "name": "清明节",
    }
    assert days["2026-04-04"]["working"] is True  # a Saturday made a working day
    assert days["2026-04-04"]["override"] == "workday"
    assert (days["2026-04-05"]["working"], days["2026-04-05"]["override"]) == (False, None)
    assert (days["2026-04-01"]["working"], days["2026-04-01"]["override"]) == (True, None)


def test_clearing_a_day_goes_back_to_the_weekly_pattern_and_audits_the_change(
    api: Api, clock: FrozenClock
) -> None:
    set_day(api, "2026-04-06", working="false", name="清明节")
    clock.advance(minutes=1)

    assert set_day(api, "2026-04-06").status_code == 204

    [day] = calendar(api, since="2026-04-06", until="2026-04-06").json()
    assert (day["working"], day["override"], day["name"]) == (True, None, "")
    [cleared, marked] = api.get(
        "admin", "/api/v1/audit", action="cases:calendar:set", subject_id="2026-04-06"
    ).json()["items"]
    assert marked["before"] is None
    assert cleared["before"] == {"working": False, "name": "清明节"}
    assert cleared["after"] == {"working": None, "name": ""}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-04-07", "until": "2026-04-01"}, "until"),
        ({"since": "2026-01-01", "until": "2027-01-02"}, "until"),
        ({"until": "2026-04-01"}, "since"),
        ({"since": "April", "until": "2026-04-01"}, "since"),
    ],
    ids=["reversed", "too-long", "missing", "not-a-date"],
)
def test_a_bad_calendar_range_names_the_field(api: Api, params: dict[str, str], field: str) -> None:
    assert list(fields(calendar(api, **params))) == [field]


def test_a_calendar_day_name_is_limited(api: Api) -> None:
    response = set_day(api, "2026-04-06", working="false", name="节" * 101)
    assert list(fields(response)) == ["name"]


def test_citizens_and_anonymous_callers_do_not_read_the_calendar(api: Api) -> None:
    window = {"since": "2026-04-01", "until": "2026-04-07"}
    assert error(calendar(api, "citizen", **window), 403)["code"] == "permission_denied"
    assert error(calendar(api, None, **window), 401)["code"] == "not_authenticated"


def test_a_taken_category_code_is_a_conflict_on_the_code_field(api: Api) -> None:
    response = api.client.post(
        "/api/v1/categories",
        json={"code": CATEGORY, "name_zh": "重复", "name_en": "Dup", "kind": "event"},
        headers=api.headers("admin"),
    )
    assert fields(response, 409) == {"code": "duplicate"}


@pytest.mark.parametrize("field", ["handle_hours", "name_zh", "active"])
def test_a_category_edit_cannot_clear_a_required_field(api: Api, field: str) -> None:
    response = api.client.patch(
        f"/api/v1/categories/{CATEGORY}", json={field: None}, headers=api.headers("admin")
    )

    assert fields(response) == {field: "required"}
    [leaf] = [c for c in api.get("admin", "/api/v1/categories").json() if c["code"] == CATEGORY]
    assert leaf[field] is not None


def test_a_category_time_limit_change_is_audited(api: Api) -> None:
    [leaf] = [c for c in api.get("admin", "/api/v1/categories").json() if c["code"] == CATEGORY]
    response = api.client.patch(
        f"/api/v1/categories/{CATEGORY}", json={"handle_hours": 48}, headers=api.headers("admin")
    )

    assert response.status_code == 200, response.text
    assert response.json()["parent_code"] == "E-01"
    [record] = api.get("admin", "/api/v1/audit", action="cases:category:updated").json()["items"]
    assert record["before"]["parent_code"] == record["after"]["parent_code"] == "E-01"
    assert record["before"]["handle_hours"] == leaf["handle_hours"]
    assert record["after"]["handle_hours"] == 48
