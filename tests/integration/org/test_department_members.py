"""GET /api/v1/departments/{code}/members: a department's own staff (and user administrators)
see its active members by name, to hand a case to a colleague; nobody else does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import UserUpdate
from factories.api import Api, error, fields
from factories.org import make_user

ActorFn = Callable[[str], Any]
DEPT = "chengguan-990101"
URL = f"/api/v1/departments/{DEPT}/members"
HANDLER = f"handler-{DEPT}"


@pytest.fixture
def colleagues(rt: Runtime, actor: ActorFn, api: Api) -> list[str]:
    """Two more handlers of the department, one inactive, and one of another department."""
    made = [
        make_user(rt, actor, "zhao-cg", "handler", department=DEPT),
        make_user(rt, actor, "an-cg", "handler", department=DEPT),
        make_user(rt, actor, "gone-cg", "handler", department=DEPT),
        make_user(rt, actor, "zhu-zj", "handler", department="zhujian-990101"),
    ]
    org.update_user(rt, actor=actor("admin"), user_id=made[2].id, data=UserUpdate(active=False))
    return [user.username for user in made]


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["items"]]


def test_a_handler_sees_the_active_members_of_their_department(
    api: Api, colleagues: list[str]
) -> None:
    response = api.get(HANDLER, URL)

    assert _names(response) == ["an-cg", HANDLER, "zhao-cg"]
    body = response.json()
    assert body["total"] == 3
    assert set(body["items"][0]) == {"id", "username", "display_name", "role"}
    assert {item["role"] for item in body["items"]} == {"handler"}


def test_members_page_sort_and_search(api: Api, colleagues: list[str]) -> None:
    first = api.get(HANDLER, URL, page_size=2, sort="-username")
    second = api.get(HANDLER, URL, page_size=2, page=2, sort="-username")

    assert _names(first) == ["zhao-cg", HANDLER]
    assert _names(second) == ["an-cg"]
    assert second.json()["total"] == 3
    assert _names(api.get(HANDLER, URL, q="zhao")) == ["zhao-cg"]
    assert _names(api.get(HANDLER, URL, q="%")) == []


def test_user_administrators_see_any_department(api: Api, colleagues: list[str]) -> None:
    assert _names(api.get("admin", "/api/v1/departments/zhujian-990101/members")) == [
        "handler-zhujian-990101",
        "zhu-zj",
    ]


@pytest.mark.parametrize(
    "who", ["handler-chengguan-990102", "handler-zhujian-990101", "operator", "dispatcher"]
)
def test_staff_of_other_departments_may_not_list_its_members(api: Api, who: str) -> None:
    assert error(api.get(who, URL), 403)["code"] == "out_of_jurisdiction"


def test_a_citizen_may_not_list_members(api: Api) -> None:
    assert error(api.get("citizen", URL), 403)["code"] == "permission_denied"


def test_listing_members_needs_a_login(api: Api) -> None:
    assert api.get(None, URL).status_code == 401


def test_an_unknown_department_is_not_found(api: Api) -> None:
    assert error(api.get("admin", "/api/v1/departments/no-such-dept/members"), 404)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "phone"}, "sort"),
        ({"page_size": 0}, "page_size"),
        ({"page": 0}, "page"),
        ({"q": "x" * 101}, "q"),
    ],
)
def test_bad_parameters_name_the_field(api: Api, params: dict[str, Any], field: str) -> None:
    assert field in fields(api.get(HANDLER, URL, **params))
