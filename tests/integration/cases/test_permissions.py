"""Who may do what, and where: role permissions (403 ``permission_denied``), jurisdiction
(403 ``out_of_jurisdiction``: department, grid, reporter, district) and authentication (401)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cityops.cases.workflow import TRANSITIONS, Action
from cityops.core.runtime import Runtime
from cityops.org.roles import Role, permissions_for
from factories.api import Api, error
from factories.cases import OTHER_DISTRICT, OTHER_GRID, make_case, png_bytes, report
from factories.org import PASSWORD, bearer, make_user

ActorFn = Callable[[str], Any]
ROLES = [r.value for r in Role if r is not Role.admin]

# The intended policy (docs/cases.md), written out so that a change to roles.py shows here.
MAY: dict[Action, set[str]] = {
    Action.register: {"operator", "dispatcher"},
    Action.reject: {"operator", "dispatcher"},
    Action.dispatch: {"operator", "dispatcher"},
    Action.return_: {"handler"},
    Action.recall: {"operator", "dispatcher"},
    Action.accept: {"handler"},
    Action.handle: {"handler"},
    Action.verify: {"gridworker", "citizen"},
    Action.close: {"operator"},
    Action.evaluate: {"citizen", "operator"},
    Action.reopen: {"operator"},
    Action.reassign: {"operator", "dispatcher"},
    Action.assign: {"operator", "dispatcher", "handler"},
    Action.merge: {"operator", "dispatcher"},
    Action.cancel: {"operator", "citizen"},
    Action.urge: {"operator", "dispatcher"},
    Action.escalate: {"operator"},
}
# A state each action is allowed in, and a body it accepts.
SETUP: dict[Action, tuple[str, dict[str, Any]]] = {
    Action.register: ("reported", {}),
    Action.reject: ("reported", {"reason": "不予立案"}),
    Action.dispatch: ("registered", {}),
    Action.return_: ("dispatched", {"reason": "退回"}),
    Action.recall: ("dispatched", {"reason": "撤回派单"}),
    Action.accept: ("dispatched", {}),
    Action.handle: ("accepted", {"note": "已处理"}),
    Action.verify: ("handled", {"passed": True}),
    Action.close: ("verified", {}),
    Action.evaluate: ("closed", {"rating": 5}),
    Action.reopen: ("closed", {"reason": "复发"}),
    Action.reassign: ("dispatched", {"department_code": "zhujian-990101", "reason": "改派"}),
    Action.assign: ("dispatched", {"username": "handler-chengguan-990101"}),
    Action.merge: ("reported", {}),
    Action.cancel: ("reported", {"reason": "撤销"}),
    Action.urge: ("dispatched", {"reason": "督办"}),
    Action.escalate: ("dispatched", {"reason": "升级"}),
}


def _user_for(role: str, case: dict[str, Any]) -> str:
    """A seeded user of ``role`` whose jurisdiction covers the case (so only the role counts)."""
    if role == "handler":
        department = case["department"]["code"] if case["department"] else "chengguan-990101"
        return f"handler-{department}"
    return role


def test_the_policy_is_what_roles_py_grants() -> None:
    for action, transition in TRANSITIONS.items():
        granted = {role for role in ROLES if transition.permission in permissions_for(role)}
        assert granted == MAY[action], action


@pytest.mark.parametrize("action", list(TRANSITIONS), ids=[a.value for a in TRANSITIONS])
def test_roles_without_the_permission_are_refused(
    rt: Runtime, actor: ActorFn, api: Api, action: Action
) -> None:
    state, body = SETUP[action]
    case = make_case(rt, actor, state)
    if action is Action.merge:
        body = {"into": str(report(rt, actor).id)}
    before = (api.case(case.id), api.timeline(case.id))
    refused = {}

    for role in sorted(set(ROLES) - MAY[action]):
        who = _user_for(role, before[0])
        response = api.act(who, case.id, action.value, body)
        if response.status_code != 403 or response.json()["error"]["code"] != "permission_denied":
            refused[who] = (response.status_code, response.text[:200])

    assert refused == {}
    assert (api.case(case.id), api.timeline(case.id)) == before


@pytest.mark.parametrize(
    ("who", "action", "state", "body"),
    [
        ("citizen", "dispatch", "registered", {}),
        ("citizen", "register", "reported", {}),
        ("handler-chengguan-990101", "register", "reported", {}),
        ("handler-chengguan-990101", "close", "verified", {}),
        ("gridworker", "close", "verified", {}),
        ("gridworker", "dispatch", "registered", {}),
        ("dispatcher", "close", "verified", {}),
        ("dispatcher", "accept", "dispatched", {}),
        ("operator", "handle", "accepted", {"note": "代为处理"}),
        ("dataofficer", "register", "reported", {}),
        ("leader", "register", "reported", {}),
        ("leader", "dispatch", "registered", {}),
        ("leader", "urge", "dispatched", {"reason": "领导督办"}),
        ("leader", "close", "verified", {}),
        ("leader", "cancel", "reported", {"reason": "撤销"}),
    ],
)
def test_named_denials(
    rt: Runtime, actor: ActorFn, api: Api, who: str, action: str, state: str, body: dict[str, Any]
) -> None:
    case = make_case(rt, actor, state)

    response = api.act(who, case.id, action, body)

    assert error(response, 403)["code"] == "permission_denied"
    assert api.case(case.id)["state"] == state


@pytest.mark.parametrize("who", ["dispatcher", "handler-chengguan-990101", "leader", "dataofficer"])
def test_roles_that_may_not_report(api: Api, who: str) -> None:
    body = {"description": "路灯不亮", "location": {"lon": 112.95, "lat": 28.12}}
    before = api.count_cases()

    response = api.report(who, body)

    assert error(response, 403)["code"] == "permission_denied"
    assert api.count_cases() == before


@pytest.mark.parametrize(("who", "source"), [("citizen", "hotline"), ("gridworker", "sensor")])
def test_reporting_through_a_channel_of_another_role_is_refused(
    api: Api, who: str, source: str
) -> None:
    body = {
        "description": "路灯不亮",
        "location": {"lon": 112.95, "lat": 28.12},
        "source": source,
        "reporter": {"name": "王女士", "phone": "13900001111"},
    }

    assert error(api.report(who, body), 403)["code"] == "permission_denied"


@pytest.mark.parametrize("who", ["dispatcher", "leader", "dataofficer"])
def test_roles_that_may_not_upload_photos(api: Api, who: str) -> None:
    response = api.client.post(
        "/api/v1/uploads",
        files={"file": ("a.png", png_bytes(1), "image/png")},
        headers=api.headers(who),
    )

    assert error(response, 403)["code"] == "permission_denied"


@pytest.mark.parametrize("who", ["operator", "dispatcher", "citizen", "leader"])
def test_the_audit_trail_is_for_admins_and_data_officers(api: Api, who: str) -> None:
    assert error(api.get(who, "/api/v1/audit"), 403)["code"] == "permission_denied"
    assert api.get("dataofficer", "/api/v1/audit").status_code == 200


def test_only_admins_manage_the_calendar(api: Api) -> None:
    response = api.client.put(
        "/api/v1/calendar/2026-03-09", params={"working": "false"}, headers=api.headers("operator")
    )

    assert error(response, 403)["code"] == "permission_denied"


# --- jurisdiction ---------------------------------------------------------------------------


def test_a_handler_sees_and_acts_only_on_cases_of_their_department(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    ours = make_case(rt, actor, "dispatched")
    theirs = make_case(rt, actor, "dispatched", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    stranger = "handler-chengguan-990102"
    before = (api.case(ours.id), api.timeline(ours.id))

    for url in (f"/api/v1/cases/{ours.id}", f"/api/v1/cases/{ours.id}/timeline"):
        assert error(api.get(stranger, url), 403)["code"] == "out_of_jurisdiction"
    for action, body in [
        ("accept", {}),
        ("return", {"reason": "不是我们的"}),
        ("assign", {"username": stranger}),
    ]:
        response = api.act(stranger, ours.id, action, body)
        assert error(response, 403)["code"] == "out_of_jurisdiction", action
    listed = [c["id"] for c in api.cases(stranger)["items"]]

    assert listed == [str(theirs.id)]
    assert [c["id"] for c in api.cases("handler-chengguan-990101")["items"]] == [str(ours.id)]
    assert (api.case(ours.id), api.timeline(ours.id)) == before


def test_a_handler_loses_the_case_once_it_leaves_the_department(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "accepted")
    handler = "handler-chengguan-990101"

    api.act(
        "dispatcher", case.id, "reassign", {"department_code": "zhujian-990101", "reason": "改派"}
    )

    assert error(api.get(handler, f"/api/v1/cases/{case.id}"), 403)["code"] == "out_of_jurisdiction"
    handled = api.act(handler, case.id, "handle", {"note": "已处理"})
    assert error(handled, 403)["code"] == "out_of_jurisdiction"
    assert api.cases(handler)["total"] == 0


def test_a_grid_worker_verifies_only_inside_their_grid(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    inside = make_case(rt, actor, "handled")
    outside = make_case(rt, actor, "handled", lon=OTHER_GRID[0], lat=OTHER_GRID[1])
    far = make_case(rt, actor, "handled", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])

    for case in (outside, far):
        response = api.act("gridworker", case.id, "verify", {"passed": True})
        assert error(response, 403)["code"] == "out_of_jurisdiction"
        assert api.case(case.id)["state"] == "handled"
        read = api.get("gridworker", f"/api/v1/cases/{case.id}")
        assert error(read, 403)["code"] == "out_of_jurisdiction"

    assert api.act("gridworker", inside.id, "verify", {"passed": True}).status_code == 200
    assert [c["id"] for c in api.cases("gridworker")["items"]] == [str(inside.id)]


def test_a_citizen_reads_and_evaluates_only_their_own_cases(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_user(rt, actor, "citizen2", "citizen")
    api.logins["citizen2"] = bearer(rt, "citizen2")
    mine = make_case(rt, actor, "closed")
    theirs = make_case(rt, actor, "handled", reporter="citizen2")

    assert error(api.get("citizen2", f"/api/v1/cases/{mine.id}"), 403)["code"] == (
        "out_of_jurisdiction"
    )
    timeline = api.get("citizen2", f"/api/v1/cases/{mine.id}/timeline")
    assert error(timeline, 403)["code"] == "out_of_jurisdiction"
    evaluated = api.act("citizen2", mine.id, "evaluate", {"rating": 1})
    assert error(evaluated, 403)["code"] == "out_of_jurisdiction"
    verified = api.act("citizen", theirs.id, "verify", {"passed": False, "note": "没修好"})
    assert error(verified, 403)["code"] == "out_of_jurisdiction"
    assert [c["id"] for c in api.cases("citizen2")["items"]] == [str(theirs.id)]
    assert [c["id"] for c in api.cases("citizen")["items"]] == [str(mine.id)]
    assert api.case(mine.id)["rating"] is None
    assert api.case(theirs.id)["state"] == "handled"
    assert api.act("citizen", mine.id, "evaluate", {"rating": 4}).status_code == 200


def test_an_operator_records_the_callers_rating_of_a_hotline_case(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_user(rt, actor, "operator2", "operator")
    api.logins["operator2"] = bearer(rt, "operator2")
    by_phone = make_case(rt, actor, "closed", reporter="operator")
    online = make_case(rt, actor, "closed")

    refused = api.act("operator2", online.id, "evaluate", {"rating": 2})
    assert error(refused, 403)["code"] == "out_of_jurisdiction"
    recorded = api.act("operator2", by_phone.id, "evaluate", {"rating": 3, "comment": "回访"})
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["rating"] == 3
    assert api.case(online.id)["rating"] is None


def test_the_callers_phone_is_masked_for_those_who_do_not_call_back(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = report(rt, actor, reporter="operator")

    assert api.case(case.id, who="operator")["reporter_phone"] == "13800138000"
    assert api.case(case.id, who="gridworker")["reporter_phone"] == "138****8000"


def test_a_district_operator_works_only_in_their_district(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    client = api.client
    created = client.post(
        "/api/v1/users",
        json={
            "username": "operator-990102",
            "display_name": "二区值班员",
            "password": PASSWORD,
            "role": "operator",
            "area_code": "990102",
        },
        headers=api.headers("admin"),
    )
    assert created.status_code == 201, created.text
    token = client.post(
        "/api/v1/auth/token", data={"username": "operator-990102", "password": PASSWORD}
    ).json()["access_token"]
    api.logins["operator-990102"] = {"Authorization": f"Bearer {token}"}
    elsewhere = make_case(rt, actor, "reported")
    home = make_case(rt, actor, "reported", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])

    refused = api.act("operator-990102", elsewhere.id, "register", {})
    accepted = api.act("operator-990102", home.id, "register", {})

    assert error(refused, 403)["code"] == "out_of_jurisdiction"
    assert api.case(elsewhere.id)["state"] == "reported"
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "registered"
    read = api.get("operator-990102", f"/api/v1/cases/{elsewhere.id}")
    assert error(read, 403)["code"] == "out_of_jurisdiction"
    assert [c["id"] for c in api.cases("operator-990102")["items"]] == [str(home.id)]
    me = client.get("/api/v1/me", headers=api.headers("operator-990102")).json()
    assert me["area_path"] == "/990100/990102"


def test_an_unknown_case_is_404_after_the_permission_check(api: Api) -> None:
    missing = uuid.uuid4()

    assert error(api.get("operator", f"/api/v1/cases/{missing}"), 404)["code"] == "not_found"
    assert error(api.act("operator", missing, "register"), 404)["code"] == "not_found"
    assert error(api.act("leader", missing, "register"), 403)["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v1/cases", None),
        (
            "POST",
            "/api/v1/cases",
            {"description": "路灯不亮", "location": {"lon": 112.95, "lat": 28.12}},
        ),
        ("GET", "/api/v1/cases/{id}", None),
        ("GET", "/api/v1/cases/{id}/timeline", None),
        ("POST", "/api/v1/cases/{id}/register", {}),
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/audit", None),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer cot_not-a-real-token"}, {"X-API-Key": "cok_not-a-real-key"}],
    ids=["none", "bad-token", "bad-api-key"],
)
def test_unauthenticated_requests_are_401(
    rt: Runtime,
    actor: ActorFn,
    api: Api,
    method: str,
    url: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
) -> None:
    case = make_case(rt, actor, "reported")
    before = api.count_cases()

    response = api.client.request(method, url.format(id=case.id), json=body, headers=headers)

    assert error(response, 401)["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.count_cases() == before
    assert api.case(case.id)["state"] == "reported"


def test_unauthenticated_upload_is_401(api: Api) -> None:
    response = api.client.post(
        "/api/v1/uploads", files={"file": ("a.png", png_bytes(2), "image/png")}
    )

    assert error(response, 401)["code"] == "not_authenticated"
