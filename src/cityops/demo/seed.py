"""Builds an organisation from an area tree: areas, the catalogue, departments, one user per
role. Used by the demo city and by the test suite's factories."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cityops.cases import service as cases
from cityops.cases.catalogue import load_default_catalogue
from cityops.core.auth import SYSTEM, Actor
from cityops.core.runtime import Runtime
from cityops.demo.geography import AreaSeed, walk
from cityops.devices import service as devices
from cityops.org import service as org
from cityops.org.schemas import AreaIn, DepartmentIn, UserIn

# Kinds with a branch in every district; the others have one city-level department.
DISTRICT_KINDS = ("chengguan", "zhujian", "shizheng")


def area_inputs(city: AreaSeed) -> Iterator[AreaIn]:
    for area, parent in walk(city):
        yield AreaIn(
            code=area.code,
            name_zh=area.name_zh,
            name_en=area.name_en,
            level=area.level,
            parent_code=parent.code if parent else None,
            geometry=area.geometry,
        )


@dataclass
class Organisation:
    city: AreaSeed
    departments: dict[str, str] = field(default_factory=dict)  # code -> kind
    users: dict[str, str] = field(default_factory=dict)  # username -> role

    @property
    def districts(self) -> tuple[AreaSeed, ...]:
        return self.city.children

    def first_grid(self, district_index: int = 0) -> AreaSeed:
        area = self.city.children[district_index]
        while area.children:
            area = area.children[0]
        return area


def department_code(kind: str, district_code: str | None = None) -> str:
    return f"{kind}-{district_code}" if district_code else kind


def seed_organisation(
    rt: Runtime, city: AreaSeed, *, password: str, actor: Actor = SYSTEM
) -> Organisation:
    """Areas, default catalogue and device types, departments (district branches for
    street-level work) and users: admin, operator, dispatcher, leader, dataofficer, citizen,
    gridworker (first grid), integration (pushes telemetry), and ``handler-<department code>``
    for every department."""
    out = Organisation(city=city)
    org.import_areas(rt, actor=actor, areas=area_inputs(city))
    cases.import_default_catalogue(rt, actor=actor)
    devices.import_default_types(rt, actor=actor)
    for kind, names in load_default_catalogue().departments.items():
        scopes = [(d.code, d) for d in city.children] if kind in DISTRICT_KINDS else [(None, None)]
        for district_code, district in scopes:
            code = department_code(kind, district_code)
            name_zh = (
                f"{district.name_zh}{names.name_zh}"
                if district
                else f"{city.name_zh}{names.name_zh}"
            )
            name_en = (
                f"{district.name_en} {names.name_en}"
                if district
                else f"{city.name_en} {names.name_en}"
            )
            org.create_department(
                rt,
                actor=actor,
                data=DepartmentIn(
                    code=code,
                    name_zh=name_zh,
                    name_en=name_en,
                    kind=kind,
                    area_code=district_code or city.code,
                ),
            )
            out.departments[code] = kind
    staff = [
        ("admin", "admin", None),
        ("operator", "operator", None),
        ("dispatcher", "dispatcher", None),
        ("leader", "leader", None),
        ("dataofficer", "dataofficer", None),
        ("citizen", "citizen", None),
        ("gridworker", "gridworker", out.first_grid().code),
        ("integration", "integration", None),
    ]
    for username, role, area in staff:
        _user(rt, actor, out, username, role, password, area=area)
    for code in out.departments:
        _user(rt, actor, out, f"handler-{code}", "handler", password, department=code)
    return out


def _user(
    rt: Runtime,
    actor: Actor,
    out: Organisation,
    username: str,
    role: str,
    password: str,
    *,
    area: str | None = None,
    department: str | None = None,
) -> None:
    org.create_user(
        rt,
        actor=actor,
        data=UserIn(
            username=username,
            display_name=username,
            password=password,
            role=role,
            area_code=area,
            department_code=department,
        ),
    )
    out.users[username] = role
