"""Administration of the organisation over the API: editing departments (``PATCH
/api/v1/departments/{id}``), duplicate usernames and codes named as field errors, and the
user list's sort keys."""

from __future__ import annotations

from typing import Any

import pytest

from factories.api import Api, error, fields

DEPARTMENT = "chengguan-990101"


def department(api: Api, code: str = DEPARTMENT) -> dict[str, Any]:
    listed = api.get("admin", "/api/v1/departments").json()
    [found] = [d for d in listed if d["code"] == code]
    return found  # type: ignore[no-any-return]


def patch(api: Api, who: str, department_id: str, body: dict[str, Any]) -> Any:
    return api.client.patch(
        f"/api/v1/departments/{department_id}", json=body, headers=api.headers(who)
    )


def test_an_admin_renames_and_moves_a_department(api: Api) -> None:
    target = department(api)

    response = patch(
        api,
        "admin",
        target["id"],
        {
            "name_zh": "第1区城管执法局",
            "name_en": "District 1 Enforcement",
            "area_code": "990101001",
        },
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name_zh"], body["name_en"]) == ("第1区城管执法局", "District 1 Enforcement")
    assert body["code"] == DEPARTMENT
    assert body["kind"] == "chengguan"
    assert department(api)["name_zh"] == "第1区城管执法局"  # the cached list sees the change
    [record] = api.get(
        "admin", "/api/v1/audit", action="org:department:updated", subject_id=target["id"]
    ).json()["items"]
    assert record["before"]["area_code"] == "990101"
    assert record["after"]["area_code"] == "990101001"
    assert record["before"]["name_en"] == "District 1 Urban Management Bureau"
    assert record["actor_name"] == "admin"


def test_a_department_can_be_recoded_and_deactivated(api: Api) -> None:
    target = department(api)

    response = patch(api, "admin", target["id"], {"code": "cg-d1", "active": False})

    assert response.status_code == 200, response.text
    assert department(api, "cg-d1")["active"] is False
    codes = [d["code"] for d in api.get("admin", "/api/v1/departments").json()]
    assert DEPARTMENT not in codes


@pytest.mark.parametrize("who", ["operator", "dispatcher", "handler-chengguan-990101", "leader"])
def test_only_admins_edit_departments(api: Api, who: str) -> None:
    target = department(api)

    response = patch(api, who, target["id"], {"name_zh": "改名"})

    assert error(response, 403)["code"] == "permission_denied"
    assert department(api)["name_zh"] == target["name_zh"]


def test_editing_a_department_needs_a_login(api: Api) -> None:
    assert error(patch(api, None, department(api)["id"], {"name_zh": "x"}), 401)


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"area_code": "nowhere"}, "area_code", "invalid"),
        ({"code": "has space"}, "code", "string_pattern_mismatch"),
        ({"name_zh": ""}, "name_zh", "string_too_short"),
        ({"name_en": None}, "name_en", "required"),
        ({"colour": "red"}, "colour", "extra_forbidden"),
    ],
    ids=["unknown-area", "bad-code", "empty-name", "null-name", "unknown-field"],
)
def test_a_bad_department_edit_names_the_field(
    api: Api, body: dict[str, Any], field: str, code: str
) -> None:
    target = department(api)

    response = patch(api, "admin", target["id"], body)

    assert fields(response) == {field: code}
    assert department(api) == target


def test_a_taken_department_code_is_a_conflict_on_the_code_field(api: Api) -> None:
    target = department(api)

    response = patch(api, "admin", target["id"], {"code": "chengguan-990102"})

    assert error(response, 409)["code"] == "duplicate"
    assert fields(response, 409) == {"code": "duplicate"}
    created = api.client.post(
        "/api/v1/departments",
        json={
            "code": DEPARTMENT,
            "name_zh": "重复",
            "name_en": "Dup",
            "kind": "chengguan",
            "area_code": "990101",
        },
        headers=api.headers("admin"),
    )
    assert fields(created, 409) == {"code": "duplicate"}


def test_an_unknown_department_is_404(api: Api) -> None:
    response = patch(api, "admin", "00000000-0000-0000-0000-000000000000", {"name_zh": "x"})
    assert error(response, 404)["code"] == "not_found"


def test_a_taken_username_is_a_conflict_on_the_username_field(api: Api) -> None:
    response = api.client.post(
        "/api/v1/users",
        json={
            "username": "operator",
            "display_name": "Again",
            "password": "long-enough-pw",
            "role": "operator",
        },
        headers=api.headers("admin"),
    )

    assert fields(response, 409) == {"username": "duplicate"}


@pytest.mark.parametrize(
    ("sort", "key", "descending"),
    [("display_name", "display_name", False), ("-role", "role", True)],
)
def test_users_sort_by_the_listed_keys(api: Api, sort: str, key: str, descending: bool) -> None:
    response = api.get("admin", "/api/v1/users", sort=f"{sort},username", page_size=500)

    assert response.status_code == 200, response.text
    values = [user[key] for user in response.json()["items"]]
    assert values == sorted(values, reverse=descending)
    assert len(set(values)) > 1


def test_an_unknown_user_sort_key_names_sort(api: Api) -> None:
    assert fields(api.get("admin", "/api/v1/users", sort="password_hash")) == {"sort": "invalid"}
