"""The alarms API as each role uses it: the list with filters, sorting and pages; one alarm with
its readings; acknowledge and clear and the transitions they may not make (409); who may do
what (403); rule administration and per-device overrides; bad input (422 naming the field)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.alarms import service
from cityops.core.runtime import Runtime
from factories.alarms import FAR_GAUGE, GAUGE, WATER, Feed, directory, water_rule
from factories.api import Api, error, fields

ActorFn = Callable[[str], Any]
ALARMS = "/api/v1/alarms"
RULES = "/api/v1/alarm-rules"


@pytest.fixture
def two_alarms(rt: Runtime, actor: ActorFn) -> dict[str, str]:
    """A warning at the water bureau's gauge, then a critical at district 990102's."""
    water_rule(rt, actor, case_severity=None, case_category=None)
    feed = Feed(rt)
    [own] = feed.send(GAUGE, 0.35, every=1)
    [far] = feed.send(FAR_GAUGE, 0.62, every=5)
    return {"gauge": str(own.raised[0]), "far": str(far.raised[0])}


def _ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def _post(api: Api, who: str, url: str, body: dict[str, Any] | None = None) -> Any:
    return api.client.post(url, json=body if body is not None else {}, headers=api.headers(who))


# --- reading -----------------------------------------------------------------------------------


def test_the_list_filters_sorts_and_pages(api: Api, two_alarms: dict[str, str]) -> None:
    gauge, far = two_alarms["gauge"], two_alarms["far"]
    newest_first = api.get("operator", ALARMS).json()
    assert _ids(newest_first) == [far, gauge]
    assert newest_first["total"] == 2
    assert _ids(api.get("operator", ALARMS, sort="severity").json()) == [gauge, far]
    assert _ids(api.get("operator", ALARMS, severity="critical").json()) == [far]
    assert _ids(api.get("operator", ALARMS, device_id=GAUGE.device_id).json()) == [gauge]
    assert _ids(api.get("operator", ALARMS, department="shizheng-990102").json()) == [far]
    assert _ids(api.get("operator", ALARMS, device_type=WATER, state="active").json()) == [
        far,
        gauge,
    ]
    assert _ids(api.get("operator", ALARMS, device_type="noise_meter").json()) == []
    assert _ids(api.get("operator", ALARMS, state="cleared").json()) == []
    second = api.get("operator", ALARMS, page_size=1, page=2).json()
    assert (_ids(second), second["total"]) == ([gauge], 2)
    far_alarm = api.get("operator", f"{ALARMS}/{far}").json()
    assert _ids(api.get("operator", ALARMS, since=far_alarm["raised_at"]).json()) == [far]
    assert _ids(api.get("operator", ALARMS, until=far_alarm["raised_at"]).json()) == [gauge]


def test_one_alarm_comes_with_its_readings_history_and_zoned_times(
    api: Api, two_alarms: dict[str, str]
) -> None:
    alarm = api.get("operator", f"{ALARMS}/{two_alarms['gauge']}").json()
    assert alarm["state"] == "active"
    assert alarm["severity"] == "warning"
    assert alarm["rule_code"] == "wl-high"
    assert alarm["rule_name_zh"] == "道路积水超警戒"
    assert alarm["device_name"] == GAUGE.name
    assert alarm["readings"][0]["reading"] == 0.35
    assert alarm["raised_at"].endswith(("Z", "+00:00"))
    assert [h["action"] for h in alarm["history"]] == ["raise"]
    assert alarm["allowed_actions"] == ["acknowledge", "clear"]
    assert api.get("leader", f"{ALARMS}/{two_alarms['gauge']}").json()["allowed_actions"] == []


def test_a_handler_sees_only_the_alarms_of_its_departments_devices(
    api: Api, two_alarms: dict[str, str]
) -> None:
    assert _ids(api.get("handler-shuiwu", ALARMS).json()) == [two_alarms["gauge"]]
    assert _ids(api.get("handler-shizheng-990102", ALARMS).json()) == [two_alarms["far"]]
    other = api.get("handler-shuiwu", f"{ALARMS}/{two_alarms['far']}")
    assert error(other, 403)["code"] == "out_of_jurisdiction"
    refused = _post(api, "handler-shuiwu", f"{ALARMS}/{two_alarms['far']}/acknowledge")
    assert error(refused, 403)["code"] == "out_of_jurisdiction"
    assert (
        _post(api, "handler-shuiwu", f"{ALARMS}/{two_alarms['gauge']}/acknowledge").status_code
        == 200
    )


def test_an_unknown_alarm_is_404(api: Api) -> None:
    missing = api.get("operator", f"{ALARMS}/01890000-0000-7000-8000-000000000000")
    assert error(missing, 404)["code"] == "not_found"


# --- acknowledge and clear ---------------------------------------------------------------------


def test_acknowledge_then_clear_and_the_transitions_that_are_refused(
    api: Api, two_alarms: dict[str, str]
) -> None:
    url = f"{ALARMS}/{two_alarms['gauge']}"
    acked = _post(api, "operator", f"{url}/acknowledge", {"note": "已通知排水所"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by"] == "operator"
    again = _post(api, "operator", f"{url}/acknowledge")
    assert error(again, 409)["code"] == "invalid_transition"
    assert fields(_post(api, "operator", f"{url}/clear")) == {"note": "missing"}
    assert fields(_post(api, "operator", f"{url}/clear", {"note": "   "})) == {
        "note": "value_error"
    }
    cleared = _post(api, "operator", f"{url}/clear", {"note": "现场确认已排水"})
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["state"], body["clear_note"], body["cleared_by"]) == (
        "cleared",
        "现场确认已排水",
        "operator",
    )
    assert [h["action"] for h in body["history"]] == ["raise", "acknowledge", "clear"]
    for action, payload in (("clear", {"note": "再次解除"}), ("acknowledge", {})):
        refused = _post(api, "operator", f"{url}/{action}", payload)
        assert error(refused, 409)["code"] == "invalid_transition"
    audit = api.get("admin", "/api/v1/audit", subject_id=two_alarms["gauge"]).json()["items"]
    assert {r["action"] for r in audit} == {
        "alarms:alarm:raised",
        "alarms:alarm:acknowledged",
        "alarms:alarm:cleared",
    }


def test_an_acknowledge_with_an_unknown_field_is_refused(
    api: Api, two_alarms: dict[str, str]
) -> None:
    refused = _post(api, "operator", f"{ALARMS}/{two_alarms['gauge']}/acknowledge", {"x": 1})
    assert fields(refused) == {"x": "extra_forbidden"}


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("operator", 200),
        ("dispatcher", 200),
        ("leader", 200),
        ("dataofficer", 200),
        ("handler-shuiwu", 200),
        ("gridworker", 403),
        ("citizen", 403),
    ],
)
def test_who_may_read_alarms_and_rules(api: Api, who: str, status: int) -> None:
    assert api.get(who, ALARMS).status_code == status
    assert api.get(who, RULES).status_code == status


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("operator", 200),
        ("handler-shuiwu", 200),
        ("dispatcher", 403),
        ("leader", 403),
        ("dataofficer", 403),
        ("gridworker", 403),
        ("citizen", 403),
    ],
)
@pytest.mark.parametrize("action", ["acknowledge", "clear"])
def test_who_may_acknowledge_and_clear(
    api: Api, two_alarms: dict[str, str], who: str, status: int, action: str
) -> None:
    response = _post(api, who, f"{ALARMS}/{two_alarms['gauge']}/{action}", {"note": "已处理"})
    assert response.status_code == status, response.text
    if status == 403:
        assert error(response, 403)["code"] == "permission_denied"


def test_the_alarm_api_needs_a_login(api: Api) -> None:
    assert error(api.get(None, ALARMS), 401)["code"] == "not_authenticated"


# --- rule administration -----------------------------------------------------------------------

RULE = {
    "code": "wl-high",
    "name_zh": "道路积水超警戒",
    "name_en": "Road flooding above the warning line",
    "device_type": WATER,
    "kind": "threshold",
    "metric": "level",
    "levels": [{"severity": "warning", "above": 0.3}, {"severity": "critical", "above": 0.5}],
    "deadband": 0.05,
    "case_severity": "critical",
    "case_category": "E-04-06",
}


def test_an_admin_creates_changes_and_deletes_a_rule(api: Api) -> None:
    created = _post(api, "admin", RULES, RULE)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["levels"][1] == {"severity": "critical", "above": 0.5, "below": None}
    url = f"{RULES}/{rule['id']}"
    changed = api.client.patch(
        url,
        json={"deadband": 0.08, "case_severity": None, "case_category": None},
        headers=api.headers("admin"),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["deadband"], changed.json()["case_category"]) == (0.08, None)
    assert changed.json()["levels"] == rule["levels"]  # what was not sent stays
    assert [r["code"] for r in api.get("leader", RULES, device_type=WATER).json()] == ["wl-high"]
    assert api.get("leader", RULES, device_type="noise_meter").json() == []
    assert api.client.delete(url, headers=api.headers("admin")).status_code == 204
    assert error(api.get("admin", url), 404)["code"] == "not_found"


def test_a_rule_with_alarms_is_switched_off_not_deleted(
    api: Api, rt: Runtime, actor: ActorFn
) -> None:
    rule = water_rule(rt, actor)
    Feed(rt).send(GAUGE, 0.4)
    refused = api.client.delete(f"{RULES}/{rule.id}", headers=api.headers("admin"))
    assert error(refused, 409)["code"] == "rule_in_use"
    off = api.client.patch(
        f"{RULES}/{rule.id}", json={"enabled": False}, headers=api.headers("admin")
    )
    assert off.json()["enabled"] is False


@pytest.mark.parametrize("who", ["operator", "dispatcher", "handler-shuiwu", "leader", "citizen"])
def test_only_admins_manage_rules(api: Api, rt: Runtime, actor: ActorFn, who: str) -> None:
    rule = water_rule(rt, actor)
    url = f"{RULES}/{rule.id}"
    headers = api.headers(who)
    assert error(_post(api, who, RULES, {**RULE, "code": "x"}), 403)
    assert error(api.client.patch(url, json={"deadband": 0.1}, headers=headers), 403)
    assert error(api.client.delete(url, headers=headers), 403)
    override = f"{url}/overrides/{GAUGE.device_id}"
    assert error(api.client.put(override, json={"enabled": False}, headers=headers), 403)
    assert error(api.client.delete(override, headers=headers), 403)


def test_per_device_overrides_are_set_listed_and_removed(
    api: Api, rt: Runtime, actor: ActorFn
) -> None:
    rule = water_rule(rt, actor)
    url = f"{RULES}/{rule.id}/overrides"
    body = {"levels": [{"severity": "warning", "above": 0.8}], "note": "低洼点位，常年积水"}
    put = api.client.put(f"{url}/{GAUGE.device_id}", json=body, headers=api.headers("admin"))
    assert put.status_code == 200, put.text
    assert put.json()["levels"] == [{"severity": "warning", "above": 0.8, "below": None}]
    assert put.json()["deadband"] is None
    replaced = api.client.put(
        f"{url}/{GAUGE.device_id}", json={"enabled": False}, headers=api.headers("admin")
    )
    assert (replaced.json()["enabled"], replaced.json()["levels"]) == (False, None)
    listed = api.get("operator", url).json()
    assert [o["device_id"] for o in listed] == [GAUGE.device_id]
    assert api.get("operator", f"{RULES}/{rule.id}").json()["overrides"] == 1
    gone = api.client.delete(f"{url}/{GAUGE.device_id}", headers=api.headers("admin"))
    assert gone.status_code == 204
    again = api.client.delete(f"{url}/{GAUGE.device_id}", headers=api.headers("admin"))
    assert error(again, 404)["code"] == "not_found"


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"levels": [{"severity": "warning", "above": 3}, {"severity": "critical", "above": 2}]},
            {"levels": "invalid"},
        ),
        ({"levels": [{"severity": "huge", "above": 3}]}, {"levels.0.severity": "literal_error"}),
        ({"levels": [{"severity": "warning"}]}, {"levels.0": "required"}),
        (
            {"levels": [{"severity": "warning", "above": 1, "below": 2}]},
            {"levels.0.below": "invalid"},
        ),
        ({"levels": []}, {"levels": "too_short"}),
        ({"levels": None}, {"levels": "required"}),
        ({"deadband": -1}, {"deadband": "greater_than_equal"}),
        ({"kind": "sustained"}, {"for_seconds": "invalid"}),
        ({"kind": "sustained", "for_seconds": -5}, {"for_seconds": "greater_than_equal"}),
        ({"kind": "rate"}, {"window_seconds": "invalid"}),
        ({"kind": "rate", "window_seconds": 0}, {"window_seconds": "greater_than"}),
        ({"kind": "no_data", "metric": None}, {"silence_seconds": "invalid", "levels": "invalid"}),
        ({"kind": "flood"}, {"kind": "literal_error"}),
        ({"metric": "water level"}, {"metric": "string_pattern_mismatch"}),
        ({"metric": None}, {"metric": "required"}),
        ({"code": "wl high"}, {"code": "string_pattern_mismatch"}),
        ({"name_zh": "  "}, {"name_zh": "value_error"}),
        ({"case_category": "Z-99-99"}, {"case_category": "unknown_category"}),
        ({"case_category": "E-04"}, {"case_category": "unknown_category"}),
        ({"case_category": None}, {"case_category": "invalid"}),
        ({"colour": "red"}, {"colour": "extra_forbidden"}),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    api: Api, changes: dict[str, Any], expected: dict[str, str]
) -> None:
    assert fields(_post(api, "admin", RULES, {**RULE, **changes})) == expected


def test_metric_names_are_checked_against_the_device_type(api: Api, rt: Runtime) -> None:
    service.attach(rt, directory())
    refused = _post(api, "admin", RULES, {**RULE, "metric": "depth"})
    assert fields(refused) == {"metric": "unknown_metric"}
    unknown_type = _post(api, "admin", RULES, {**RULE, "device_type": "tide_gauge"})
    assert fields(unknown_type) == {"device_type": "unknown"}
    assert _post(api, "admin", RULES, RULE).status_code == 201


def test_a_rule_code_is_taken_once(api: Api) -> None:
    assert _post(api, "admin", RULES, RULE).status_code == 201
    assert fields(_post(api, "admin", RULES, RULE), 409) == {"code": "duplicate"}


def test_a_change_that_breaks_an_override_is_refused(api: Api, rt: Runtime, actor: ActorFn) -> None:
    rule = water_rule(rt, actor)
    band = {"levels": [{"severity": "warning", "above": 0.6, "below": 0.5}]}
    url = f"{RULES}/{rule.id}/overrides/{GAUGE.device_id}"
    refused = api.client.put(url, json=band, headers=api.headers("admin"))
    assert fields(refused) == {"deadband": "invalid"}  # 0.05 × 2 leaves no normal range
    ok = api.client.put(url, json={"deadband": 0.01, **band}, headers=api.headers("admin"))
    assert ok.status_code == 200, ok.text
    widened = api.client.patch(
        f"{RULES}/{rule.id}", json={"kind": "sustained"}, headers=api.headers("admin")
    )
    assert fields(widened) == {"kind": "extra_forbidden"}  # the kind of a rule is fixed
    for body, field, code in (
        ({"name_zh": None}, "name_zh", "value_error"),
        ({"name_en": " "}, "name_en", "value_error"),
        ({"metric": "battery"}, "metric", "extra_forbidden"),
        ({"levels": None}, "levels", "required"),
        ({"for_seconds": 0, "deadband": -0.1}, "deadband", "greater_than_equal"),
        ({"case_category": None}, "case_category", "invalid"),
    ):
        refused = api.client.patch(f"{RULES}/{rule.id}", json=body, headers=api.headers("admin"))
        assert fields(refused) == {field: code}, body


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (ALARMS, {"state": "open"}, "state.0"),
        (ALARMS, {"severity": "huge"}, "severity.0"),
        (ALARMS, {"since": "2026-03-02T10:00:00"}, "since"),
        (ALARMS, {"sort": "colour"}, "sort"),
        (ALARMS, {"page_size": 0}, "page_size"),
        (ALARMS, {"since": "2026-03-03T00:00:00Z", "until": "2026-03-02T00:00:00Z"}, "until"),
        (f"{ALARMS}/not-an-id", {}, "alarm_id"),
    ],
)
def test_bad_list_parameters_name_the_field(
    api: Api, url: str, params: dict[str, Any], field: str
) -> None:
    assert list(fields(api.get("operator", url, **params))) == [field]


def test_a_bad_device_id_in_an_override_path_names_it(
    api: Api, rt: Runtime, actor: ActorFn
) -> None:
    rule = water_rule(rt, actor)
    url = f"{RULES}/{rule.id}/overrides/bad id!"
    refused = api.client.put(url, json={"enabled": False}, headers=api.headers("admin"))
    assert fields(refused) == {"device_id": "string_pattern_mismatch"}
