"""Routes of the organisation module: login, areas, location lookup, departments, users, keys."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.security import OAuth2PasswordRequestForm

from cityops.core.errors import NotAuthenticated, invalid
from cityops.core.pagination import Page
from cityops.org import service
from cityops.org.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    AreaIn,
    AreaOut,
    DepartmentIn,
    DepartmentOut,
    DepartmentUpdate,
    Location,
    Me,
    TokenOut,
    UserIn,
    UserOut,
    UserRef,
    UserUpdate,
)
from cityops.web.deps import BearerToken, CurrentActor, Paging, RuntimeDep

router = APIRouter(prefix="/api/v1")


@router.post("/auth/token", response_model=TokenOut, tags=["auth"])
def token(rt: RuntimeDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
    """OAuth2 password flow: form fields ``username`` and ``password``."""
    return service.login(rt, username=form.username, password=form.password)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
def logout(rt: RuntimeDep, actor: CurrentActor, bearer: BearerToken) -> None:
    if not bearer:
        raise NotAuthenticated("log out with the bearer token to revoke")
    service.logout(rt, actor=actor, token=bearer)


@router.get("/me", response_model=Me, tags=["auth"])
def me(rt: RuntimeDep, actor: CurrentActor) -> Me:
    return service.get_me(rt, actor=actor)


@router.get("/areas", response_model=list[AreaOut], tags=["org"])
def areas(
    rt: RuntimeDep, actor: CurrentActor, level: str | None = None, parent: str | None = None
) -> list[AreaOut]:
    return service.list_areas(rt, actor=actor, level=level, parent_code=parent)


@router.get("/areas.geojson", tags=["org"])
def areas_geojson(rt: RuntimeDep, level: str | None = None) -> dict[str, Any]:
    """Boundaries as a GeoJSON FeatureCollection (public map data)."""
    return service.areas_geojson(rt, level=level)


@router.post("/areas", response_model=AreaOut, status_code=201, tags=["org"])
def create_area(rt: RuntimeDep, actor: CurrentActor, body: AreaIn) -> AreaOut:
    return service.create_area(rt, actor=actor, data=body)


@router.get("/locate", response_model=Location, tags=["org"])
def locate(
    rt: RuntimeDep,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> Location:
    """The district, street, community and grid of a WGS84 point."""
    with rt.db.read() as session:
        found = service.locate(rt, session, lon, lat)
    if found is None:
        raise invalid("lon", "the point lies outside the city's areas", "outside_city")
    return found


@router.get("/departments", response_model=list[DepartmentOut], tags=["org"])
def departments(
    rt: RuntimeDep, actor: CurrentActor, kind: str | None = None
) -> list[DepartmentOut]:
    return service.list_departments(rt, actor=actor, kind=kind)


@router.get("/departments/{code}/members", response_model=Page[UserRef], tags=["org"])
def department_members(
    rt: RuntimeDep,
    actor: CurrentActor,
    code: str,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UserRef]:
    """The active users of a department (names and roles), for its own staff: whom a case
    can be assigned to. ``sort``: ``display_name`` (default) or ``username``."""
    return service.list_department_members(
        rt, actor=actor, department_code=code, params=paging, q=q
    )


@router.post("/departments", response_model=DepartmentOut, status_code=201, tags=["org"])
def create_department(rt: RuntimeDep, actor: CurrentActor, body: DepartmentIn) -> DepartmentOut:
    return service.create_department(rt, actor=actor, data=body)


@router.patch("/departments/{department_id}", response_model=DepartmentOut, tags=["org"])
def update_department(
    rt: RuntimeDep, actor: CurrentActor, department_id: uuid.UUID, body: DepartmentUpdate
) -> DepartmentOut:
    """Change a department's names, code, kind, jurisdiction area, phone or status."""
    return service.update_department(rt, actor=actor, department_id=department_id, data=body)


@router.get("/users", response_model=Page[UserOut], tags=["users"])
def users(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    role: str | None = None,
    q: str | None = None,
) -> Page[UserOut]:
    return service.list_users(rt, actor=actor, params=paging, role=role, q=q)


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(rt: RuntimeDep, actor: CurrentActor, body: UserIn) -> UserOut:
    return service.create_user(rt, actor=actor, data=body)


@router.get("/users/{user_id}", response_model=UserOut, tags=["users"])
def get_user(rt: RuntimeDep, actor: CurrentActor, user_id: uuid.UUID) -> UserOut:
    return service.get_user(rt, actor=actor, user_id=user_id)


@router.patch("/users/{user_id}", response_model=UserOut, tags=["users"])
def update_user(
    rt: RuntimeDep, actor: CurrentActor, user_id: uuid.UUID, body: UserUpdate
) -> UserOut:
    return service.update_user(rt, actor=actor, user_id=user_id, data=body)


@router.get("/api-keys", response_model=list[ApiKeyOut], tags=["users"])
def api_keys(rt: RuntimeDep, actor: CurrentActor) -> list[ApiKeyOut]:
    return service.list_api_keys(rt, actor=actor)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, tags=["users"])
def create_api_key(rt: RuntimeDep, actor: CurrentActor, body: ApiKeyIn) -> ApiKeyCreated:
    """Issue a key; the key itself is shown only in this answer."""
    return service.create_api_key(rt, actor=actor, data=body)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, tags=["users"])
def revoke_api_key(rt: RuntimeDep, actor: CurrentActor, key_id: uuid.UUID) -> ApiKeyOut:
    return service.revoke_api_key(rt, actor=actor, key_id=key_id)
