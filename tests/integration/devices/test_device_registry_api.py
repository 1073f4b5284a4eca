"""Device types and registration over the API: create, read, list, change; who may; bad input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.devices import IN_GRID, OTHER_DISTRICT, OTHER_GRID, make_device
from factories.org import bearer, make_user

ActorFn = Callable[[str], Any]
BODY = {
    "id": "wl-000123",
    "type": "water_level",
    "name": "湘江大桥下水位计",
    "location": {"lon": IN_GRID[0], "lat": IN_GRID[1]},
    "address": "湘江中路 1 号",
    "installed_on": "2025-06-01",
}


def create(api: Api, body: dict[str, Any], who: str = "admin") -> Any:
    return api.client.post("/api/v1/devices", json=body, headers=api.headers(who))


def test_device_types_list_metrics_with_units_and_the_common_ones(api: Api) -> None:
    response = api.get("operator", "/api/v1/device-types")
    assert response.status_code == 200
    types = {t["code"]: t for t in response.json()}
    air = types["air_quality"]
    metrics = {m["code"]: m for m in air["metrics"]}
    assert metrics["pm25"]["unit"] == "µg/m³"
    assert metrics["pm25"]["common"] is False
    assert metrics["battery"]["common"] is True
    assert "rssi" in metrics
    assert air["interval_seconds"] == 300
    assert air["name_zh"] == "空气质量监测站"
    assert api.get(None, "/api/v1/device-types").status_code == 401
    assert api.get("citizen", "/api/v1/device-types").status_code == 403


def test_register_resolves_the_place_and_the_owner_and_is_audited(api: Api, events: Any) -> None:
    response = create(api, BODY)
    assert response.status_code == 201, response.text
    device = response.json()
    assert device["id"] == "wl-000123"
    assert device["type"]["code"] == "water_level"
    assert device["location"]["district"]["code"] == "990101"
    assert device["location"]["grid"]["level"] == "grid"
    # No department named: the water bureau (city-level) owns water-level gauges.
    assert device["department"]["code"] == "shuiwu"
    assert device["status"] == "active"
    assert device["installed_on"] == "2025-06-01"
    assert device["health"] == {"state": "never_seen", "last_seen_at": None, "offline_after": None}
    assert api.get("operator", "/api/v1/devices/wl-000123").json() == device
    audit = api.audit("wl-000123")
    assert [a["action"] for a in audit] == ["devices:device:registered"]
    assert "devices:device:registered" in events.tags()


def test_a_district_branch_owns_what_its_kind_covers(api: Api) -> None:
    body = {**BODY, "id": "mh-000001", "type": "manhole_cover"}
    assert create(api, body).json()["department"]["code"] == "shizheng-990101"
    body = {
        **body,
        "id": "mh-000002",
        "location": {"lon": OTHER_DISTRICT[0], "lat": OTHER_DISTRICT[1]},
    }
    assert create(api, body).json()["department"]["code"] == "shizheng-990102"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"id": "ab"}, "id", "string_pattern_mismatch"),
        ({"id": "wl 0001"}, "id", "string_pattern_mismatch"),
        ({"id": "x" * 65}, "id", "string_pattern_mismatch"),
        ({"type": "teapot"}, "type", "unknown_type"),
        ({"name": "  "}, "name", "value_error"),
        ({"location": {"lon": 200, "lat": 28}}, "location.lon", "less_than_equal"),
        ({"location": {"lon": 100.0, "lat": 28.1}}, "location", "outside_city"),
        ({"department_code": "nope"}, "department_code", "unknown_department"),
        ({"department_code": "shizheng-990102"}, "department_code", "out_of_jurisdiction"),
        ({"installed_on": "June"}, "installed_on", "date_from_datetime_parsing"),
        ({"status": "broken"}, "status", "literal_error"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
)
def test_bad_input_names_the_field(api: Api, change: dict[str, Any], field: str, code: str) -> None:
    assert fields(create(api, {**BODY, **change})) == {field: code}


def test_a_taken_id_is_a_conflict_naming_the_field(api: Api) -> None:
    assert create(api, BODY).status_code == 201
    response = create(api, BODY)
    assert error(response, 409)["fields"][0]["field"] == "id"


@pytest.mark.parametrize(
    "who", ["operator", "dispatcher", "leader", "dataofficer", "handler-shuiwu"]
)
def test_only_admins_register(api: Api, who: str) -> None:
    assert error(create(api, BODY, who), 403)["code"] == "permission_denied"
    assert create(api, BODY, None).status_code == 401  # type: ignore[arg-type]


def test_patch_moves_renames_and_changes_status_with_history(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "mh-000009", "manhole_cover")
    url = "/api/v1/devices/mh-000009"
    moved = api.client.patch(
        url,
        json={"location": {"lon": OTHER_DISTRICT[0], "lat": OTHER_DISTRICT[1]}, "name": "新名"},
        headers=api.headers("admin"),
    )
    assert moved.status_code == 200, moved.text
    # The district branch that owned it has no jurisdiction there: the other district's has.
    assert moved.json()["location"]["district"]["code"] == "990102"
    assert moved.json()["department"]["code"] == "shizheng-990102"
    assert moved.json()["name"] == "新名"
    status = api.client.patch(url, json={"status": "maintenance"}, headers=api.headers("admin"))
    assert status.json()["status"] == "maintenance"
    health = api.get("admin", f"{url}/health").json()
    assert [e["kind"] for e in health["events"]] == ["maintenance"]
    actions = [a["action"] for a in api.audit("mh-000009")]
    assert actions.count("devices:device:updated") == 2
    assert fields(api.client.patch(url, json={"status": None}, headers=api.headers("admin"))) == {
        "status": "required"
    }
    assert (
        api.client.patch(url, json={"name": "x"}, headers=api.headers("operator")).status_code
        == 403
    )


def test_moving_outside_the_owner_jurisdiction_with_a_named_department_is_refused(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "mh-000010", "manhole_cover")
    response = api.client.patch(
        "/api/v1/devices/mh-000010",
        json={
            "location": {"lon": OTHER_DISTRICT[0], "lat": OTHER_DISTRICT[1]},
            "department_code": "shizheng-990101",
        },
        headers=api.headers("admin"),
    )
    assert fields(response) == {"department_code": "out_of_jurisdiction"}


def test_unknown_device_is_404(api: Api) -> None:
    assert error(api.get("admin", "/api/v1/devices/nope-000"), 404)["code"] == "not_found"


def _seed_list(rt: Runtime, actor: ActorFn) -> None:
    make_device(rt, actor, "aq-000001", "air_quality")
    make_device(rt, actor, "aq-000002", "air_quality", at=OTHER_DISTRICT, name="二号站")
    make_device(rt, actor, "mh-000001", "manhole_cover", at=OTHER_GRID)
    make_device(rt, actor, "mh-000002", "manhole_cover", at=OTHER_DISTRICT, status="retired")
    make_device(rt, actor, "gp-000001", "gas_pressure")


def ids(page: dict[str, Any]) -> list[str]:
    return [d["id"] for d in page["items"]]


def test_list_filters_sorts_and_pages(rt: Runtime, actor: ActorFn, api: Api) -> None:
    _seed_list(rt, actor)
    get = lambda **p: api.get("operator", "/api/v1/devices", **p).json()  # noqa: E731
    assert ids(get()) == ["aq-000001", "aq-000002", "gp-000001", "mh-000001", "mh-000002"]
    assert ids(get(type="air_quality")) == ["aq-000001", "aq-000002"]
    assert ids(get(status="retired")) == ["mh-000002"]
    assert ids(get(department="ranqi")) == ["gp-000001"]
    assert ids(get(district="990102")) == ["aq-000002", "mh-000002"]
    assert ids(get(q="二号")) == ["aq-000002"]
    assert ids(get(q="MH-00000")) == ["mh-000001", "mh-000002"]
    assert ids(get(online=True)) == []
    assert len(ids(get(online=False))) == 5
    page = get(sort="-id", page=2, page_size=2)
    assert ids(page) == ["gp-000001", "aq-000002"]
    assert page["total"] == 5


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"status": "broken"}, "status"),
        ({"type": "teapot"}, "type"),
        ({"department": "nope"}, "department"),
        ({"district": "nope"}, "district"),
        ({"page_size": 501}, "page_size"),
        ({"online": "maybe"}, "online"),
    ],
)
def test_list_rejects_bad_filters(api: Api, params: dict[str, Any], field: str) -> None:
    assert field in fields(api.get("operator", "/api/v1/devices", **params))


def test_handlers_see_their_department_only(rt: Runtime, actor: ActorFn, api: Api) -> None:
    _seed_list(rt, actor)
    page = api.get("handler-shizheng-990101", "/api/v1/devices").json()
    assert ids(page) == ["mh-000001"]
    denied = api.get("handler-shizheng-990101", "/api/v1/devices/aq-000001")
    assert error(denied, 403)["code"] == "out_of_jurisdiction"
    assert api.get("handler-huanbao", "/api/v1/devices/aq-000002").status_code == 200


def test_area_bound_staff_see_their_area_only(rt: Runtime, actor: ActorFn, api: Api) -> None:
    _seed_list(rt, actor)
    make_user(rt, actor, "op-990102", "operator", area="990102")
    api.logins["op-990102"] = bearer(rt, "op-990102")
    assert ids(api.get("op-990102", "/api/v1/devices").json()) == ["aq-000002", "mh-000002"]
    assert api.get("op-990102", "/api/v1/devices/aq-000001").status_code == 403


@pytest.mark.parametrize("who", ["citizen", "gridworker"])
def test_roles_without_devices_read_are_refused(api: Api, who: str) -> None:
    assert error(api.get(who, "/api/v1/devices"), 403)["code"] == "permission_denied"
    assert api.get(None, "/api/v1/devices").status_code == 401


def test_list_queries_do_not_grow_with_the_page(rt: Runtime, actor: ActorFn, api: Api) -> None:
    from sqlalchemy import event

    _seed_list(rt, actor)
    api.get("operator", "/api/v1/devices")  # warm the reference caches
    statements: list[str] = []

    def listener(*args: Any) -> None:
        statements.append(args[2])

    counts = []
    for size in (1, 5):
        statements.clear()
        event.listen(rt.db.engine, "before_cursor_execute", listener)
        try:
            page = api.get("operator", "/api/v1/devices", page_size=size).json()
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", listener)
        assert len(page["items"]) == size
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1]
