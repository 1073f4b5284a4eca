"""Signing in and out: OAuth2 password tokens (expiry, logout, disabled accounts), integration
API keys, and ``GET /api/v1/me``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from cityops.org.roles import permissions_for
from factories.api import Api, error
from factories.org import PASSWORD, make_user

ActorFn = Callable[[str], Any]
TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture
def client(api: Api) -> TestClient:
    """The shared acceptance-test client (see tests/integration/conftest.py)."""
    return api.client


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post(TOKEN_URL, data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(client: TestClient, headers: dict[str, str]) -> Any:
    return client.get("/api/v1/me", headers=headers)


def test_password_login_gives_a_bearer_token(rt: Runtime, client: TestClient) -> None:
    response = login(client, "operator")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == rt.settings.token_ttl_minutes * 60
    assert body["access_token"].startswith("cot_")
    who = me(client, bearer(body["access_token"]))
    assert who.status_code == 200, who.text
    assert who.json()["user"]["username"] == "operator"
    assert who.json()["permissions"] == sorted(permissions_for("operator"))
    assert who.json()["area_path"] is None


def test_login_takes_form_fields_not_json(client: TestClient) -> None:
    response = client.post(TOKEN_URL, json={"username": "operator", "password": PASSWORD})

    assert response.status_code == 422
    assert {f["field"] for f in response.json()["error"]["fields"]} == {"username", "password"}


@pytest.mark.parametrize(
    ("username", "password"),
    [("operator", "wrong-horse-battery"), ("nobody", PASSWORD), ("operator", "")],
    ids=["wrong-password", "unknown-user", "empty-password"],
)
def test_wrong_credentials_are_401_and_say_the_same(
    client: TestClient, username: str, password: str
) -> None:
    response = login(client, username, password)

    assert response.status_code in (401, 422)
    if response.status_code == 401:
        err = error(response, 401)
        assert err["code"] == "not_authenticated"
        assert err["message"] == "incorrect username or password"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:  # an empty form field is a missing field
        assert response.json()["error"]["fields"][0]["field"] == "password"


def test_logout_revokes_the_token(client: TestClient, api: Api) -> None:
    token = login(client, "dispatcher").json()["access_token"]
    assert me(client, bearer(token)).status_code == 200

    out = client.post("/api/v1/auth/logout", headers=bearer(token))

    assert out.status_code == 204, out.text
    assert error(me(client, bearer(token)), 401)["code"] == "not_authenticated"
    assert client.post("/api/v1/auth/logout", headers=bearer(token)).status_code == 401
    # Other sessions of the same user go on.
    assert me(client, api.headers("dispatcher")).status_code == 200
    [record, *_] = api.get("admin", "/api/v1/audit", action="org:user:logged_out").json()["items"]
    assert record["actor_name"] == "dispatcher"


def test_a_token_expires_after_its_lifetime(
    rt: Runtime, client: TestClient, clock: FrozenClock
) -> None:
    token = login(client, "leader").json()["access_token"]
    ttl = rt.settings.token_ttl_minutes

    clock.advance(minutes=ttl - 1)
    assert me(client, bearer(token)).status_code == 200
    clock.advance(minutes=1)
    assert error(me(client, bearer(token)), 401)["code"] == "not_authenticated"
    # Signing in again gives a fresh token.
    fresh = login(client, "leader").json()["access_token"]
    assert me(client, bearer(fresh)).status_code == 200


def test_a_disabled_user_is_shut_out(
    rt: Runtime, actor: ActorFn, client: TestClient, api: Api
) -> None:
    user = make_user(rt, actor, "temp-operator", "operator")
    token = login(client, user.username).json()["access_token"]
    key = client.post(
        "/api/v1/api-keys",
        json={"name": "temp", "username": user.username},
        headers=api.headers("admin"),
    ).json()["key"]
    assert me(client, {"X-API-Key": key}).status_code == 200

    disabled = client.patch(
        f"/api/v1/users/{user.id}", json={"active": False}, headers=api.headers("admin")
    )

    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False
    assert error(me(client, bearer(token)), 401)["code"] == "not_authenticated"
    assert error(me(client, {"X-API-Key": key}), 401)["code"] == "not_authenticated"
    assert error(login(client, user.username), 401)["code"] == "not_authenticated"
    enabled = client.patch(
        f"/api/v1/users/{user.id}", json={"active": True}, headers=api.headers("admin")
    )
    assert enabled.status_code == 200, enabled.text
    assert (
        me(client, bearer(login(client, user.username).json()["access_token"])).status_code == 200
    )
    assert error(me(client, bearer(token)), 401)["code"] == "not_authenticated"  # stays revoked


def test_changing_the_password_signs_the_user_out(
    rt: Runtime, actor: ActorFn, client: TestClient, api: Api
) -> None:
    user = make_user(rt, actor, "temp-citizen", "citizen")
    token = login(client, user.username).json()["access_token"]

    changed = client.patch(
        f"/api/v1/users/{user.id}",
        json={"password": "another-horse-battery"},
        headers=api.headers("admin"),
    )

    assert changed.status_code == 200, changed.text
    assert me(client, bearer(token)).status_code == 401
    assert login(client, user.username).status_code == 401
    assert login(client, user.username, "another-horse-battery").status_code == 200


def test_an_api_key_works_until_revoked(client: TestClient, api: Api) -> None:
    created = client.post(
        "/api/v1/api-keys",
        json={"name": "hotline-bridge", "username": "operator"},
        headers=api.headers("admin"),
    )
    assert created.status_code == 201, created.text
    key, meta = created.json()["key"], created.json()["api_key"]
    assert key.startswith("cok_")
    assert key[:8] == meta["prefix"]

    who = me(client, {"X-API-Key": key})
    assert who.status_code == 200, who.text
    assert who.json()["user"]["username"] == "operator"
    listed = client.get("/api/v1/api-keys", headers=api.headers("admin")).json()
    assert [k["name"] for k in listed] == ["hotline-bridge"]
    assert "key" not in listed[0]
    cases = client.get("/api/v1/cases", headers={"X-API-Key": key})
    assert cases.status_code == 200, cases.text

    revoked = client.delete(f"/api/v1/api-keys/{meta['id']}", headers=api.headers("admin"))

    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert error(me(client, {"X-API-Key": key}), 401)["code"] == "not_authenticated"
    assert client.get("/api/v1/cases", headers={"X-API-Key": key}).status_code == 401


@pytest.mark.parametrize("who", ["operator", "handler-chengguan-990101", "citizen"])
def test_only_admins_issue_api_keys(client: TestClient, api: Api, who: str) -> None:
    response = client.post(
        "/api/v1/api-keys", json={"name": "mine", "username": who}, headers=api.headers(who)
    )

    assert error(response, 403)["code"] == "permission_denied"


def test_an_api_key_name_is_unique_per_user(client: TestClient, api: Api) -> None:
    body = {"name": "bridge", "username": "operator"}
    assert (
        client.post("/api/v1/api-keys", json=body, headers=api.headers("admin")).status_code == 201
    )

    again = client.post("/api/v1/api-keys", json=body, headers=api.headers("admin"))

    assert error(again, 409)["code"] == "duplicate"


@pytest.mark.parametrize(
    ("username", "area_path", "department"),
    [
        ("admin", None, None),
        ("gridworker", "/990100/990101/990101001/990101001001/99010100100101", None),
        ("handler-chengguan-990102", None, "chengguan-990102"),
        ("handler-shuiwu", None, "shuiwu"),
        ("citizen", None, None),
    ],
)
def test_me_describes_the_user_and_their_jurisdiction(
    api: Api, username: str, area_path: str | None, department: str | None
) -> None:
    response = api.get(username, "/api/v1/me")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"]["username"] == username
    assert "password_hash" not in body["user"]
    assert body["area_path"] == area_path
    assert (body["department"] or {}).get("code") == department
    expected = ["*"] if username == "admin" else sorted(permissions_for(body["user"]["role"]))
    assert body["permissions"] == expected


def test_creating_users_is_for_admins(client: TestClient, api: Api) -> None:
    body = {
        "username": "sneaky",
        "display_name": "Sneaky",
        "password": PASSWORD,
        "role": "admin",
    }

    refused = client.post("/api/v1/users", json=body, headers=api.headers("operator"))

    assert error(refused, 403)["code"] == "permission_denied"
    assert login(client, "sneaky").status_code == 401


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"role": "handler"}, "department_code"),  # a handler needs a department
        ({"role": "gridworker"}, "area_code"),  # a grid worker needs an area
        ({"area_code": "nowhere"}, "area_code"),
        ({"role": "mayor"}, "role"),
        ({"password": "short"}, "password"),
        ({"username": "bad name!"}, "username"),
        ({"email": "not-an-address"}, "email"),
    ],
)
def test_bad_users_are_refused(
    client: TestClient, api: Api, changes: dict[str, Any], field: str
) -> None:
    body = {"username": "newbie", "display_name": "新人", "password": PASSWORD, "role": "citizen"}
    before = client.get("/api/v1/users", headers=api.headers("admin")).json()["total"]

    response = client.post("/api/v1/users", json=body | changes, headers=api.headers("admin"))

    assert response.status_code == 422, response.text
    assert field in {f["field"] for f in response.json()["error"]["fields"]}
    assert client.get("/api/v1/users", headers=api.headers("admin")).json()["total"] == before
