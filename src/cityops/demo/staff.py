"""The people of the demo city beyond the seeded ones, and the cast that acts in its history.

Extra accounts: per district a second grid worker (on another grid), a district grid
supervisor (巡查员, who verifies and reports anywhere in the district) and a district-scoped
operator; a few citizens; and ``open311-app``, the integration user behind the Open311 key.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cityops.core.auth import SYSTEM, Actor
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams
from cityops.core.runtime import Runtime
from cityops.demo.phrases import full_name
from cityops.demo.places import CityMap
from cityops.demo.seed import Organisation
from cityops.org import service as org
from cityops.org.roles import Role, permissions_for
from cityops.org.schemas import UserIn, UserOut

INTEGRATION_USER = "open311-app"
CITIZENS = (("zhangwei", "张伟"), ("liuyang", "刘洋"), ("chenjing", "陈静"), ("wangfang", "王芳"))
BASE_USERS = (
    "admin",
    "operator",
    "dispatcher",
    "leader",
    "dataofficer",
    "citizen",
    "gridworker",
    "integration",
)
_DISTRICT_PREFIXES = ("operator-", "gridworker-", "supervisor-")


@dataclass(frozen=True)
class DemoAccount:
    """A demo login and its role."""

    username: str
    role: str


def create_extra_staff(
    rt: Runtime, organisation: Organisation, cmap: CityMap, *, password: str, rng: random.Random
) -> list[DemoAccount]:
    """Create the extra accounts; returns them in creation order."""
    taken = {organisation.first_grid().code}
    specs: list[tuple[str, str, str | None, str]] = []
    for district in organisation.districts:
        grid = rng.choice([g for g in cmap.by_district[district.code] if g.code not in taken])
        taken.add(grid.code)
        specs += [
            (f"operator-{district.code}", "operator", district.code, f"{district.name_zh}值班员"),
            (f"gridworker-{district.code}", "gridworker", grid.code, full_name(rng)),
            (f"supervisor-{district.code}", "gridworker", district.code, full_name(rng)),
        ]
    specs += [(username, "citizen", None, name) for username, name in CITIZENS]
    specs.append((INTEGRATION_USER, "citizen", None, "长沙市民云（Open311 接入）"))
    for username, role, area, name in specs:
        _create(rt, username, role, password, name, area)
    return [DemoAccount(username, role) for username, role, _, _ in specs]


def _create(
    rt: Runtime, username: str, role: str, password: str, name: str, area: str | None
) -> None:
    org.create_user(
        rt,
        actor=SYSTEM,
        data=UserIn(
            username=username,
            display_name=name,
            password=password,
            role=Role(role),
            area_code=area,
        ),
    )


def is_demo_username(username: str, district_codes: set[str], department_codes: set[str]) -> bool:
    """Whether ``username`` is one of the accounts the demo city creates."""
    if username in BASE_USERS or username == INTEGRATION_USER:
        return True
    if username in {name for name, _ in CITIZENS}:
        return True
    if username.startswith("handler-"):
        return username.removeprefix("handler-") in department_codes
    return any(
        username == f"{prefix}{code}" for prefix in _DISTRICT_PREFIXES for code in district_codes
    )


def all_users(rt: Runtime) -> list[UserOut]:
    users: list[UserOut] = []
    page = 1
    while True:
        params = PageParams(page=page, page_size=MAX_PAGE_SIZE)
        found = org.list_users(rt, actor=SYSTEM, params=params)
        users.extend(found.items)
        if len(users) >= found.total or not found.items:
            return users
        page += 1


def existing_accounts(rt: Runtime) -> list[UserOut]:
    """The demo accounts present in the database (other users are left alone)."""
    districts = {area.code for area in org.list_areas(rt, actor=SYSTEM, level="district")}
    departments = {d.code for d in org.list_departments(rt, actor=SYSTEM)}
    return [u for u in all_users(rt) if is_demo_username(u.username, districts, departments)]


@dataclass
class Cast:
    """The actors of the demo history, by what they do and where."""

    operator: Actor
    dispatcher: Actor
    open311: Actor
    district_operators: dict[str, Actor] = field(default_factory=dict)
    handlers: dict[str, Actor] = field(default_factory=dict)  # by department code
    gridworkers: dict[str, Actor] = field(default_factory=dict)  # by grid code
    supervisors: dict[str, Actor] = field(default_factory=dict)  # by district code
    citizens: list[Actor] = field(default_factory=list)

    def intake(self, district_code: str, rng: random.Random) -> Actor:
        """The operator who takes a case in: the district's own or the city-wide one."""
        local = self.district_operators.get(district_code)
        return local if local is not None and rng.random() < 0.5 else self.operator


def load_cast(rt: Runtime, open311_key: str) -> Cast:
    """Read the demo users back and build their actors (like ``org.actor_for_user`` does)."""
    areas = {area.id: area for area in org.list_areas(rt, actor=SYSTEM)}
    departments = {d.id: d.code for d in org.list_departments(rt, actor=SYSTEM)}
    actors: dict[str, tuple[Actor, str | None, str | None]] = {}
    for user in all_users(rt):
        area = areas.get(user.area_id) if user.area_id else None
        actor = Actor(
            user_id=user.id,
            username=user.username,
            role=user.role,
            permissions=permissions_for(user.role),
            department_id=user.department_id,
            area_path=area.path if area else None,
            locale=user.locale,
        )
        level_code = f"{area.level}:{area.code}" if area else None
        department = departments.get(user.department_id) if user.department_id else None
        actors[user.username] = (actor, level_code, department)
    cast = Cast(
        operator=actors["operator"][0],
        dispatcher=actors["dispatcher"][0],
        open311=org.actor_for_api_key(rt, open311_key),
    )
    for actor, level_code, department in actors.values():
        _place(cast, actor, level_code, department)
    return cast


def _place(cast: Cast, actor: Actor, level_code: str | None, department: str | None) -> None:
    level, _, code = (level_code or "").partition(":")
    if actor.role == "handler" and department:
        cast.handlers[department] = actor
    elif actor.role == "gridworker" and level == "grid":
        cast.gridworkers[code] = actor
    elif actor.role == "gridworker" and level == "district":
        cast.supervisors[code] = actor
    elif actor.role == "operator" and level == "district":
        cast.district_operators[code] = actor
    elif actor.role == "citizen" and actor.username != INTEGRATION_USER:
        cast.citizens.append(actor)
