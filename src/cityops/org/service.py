"""Verbs of the organisation module: areas and grids, departments, point location.

Accounts (users, tokens, API keys) live in ``accounts.py`` and are re-exported here, so
other modules import only ``cityops.org.service``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.errors import Conflict, NotFound, duplicate, invalid
from cityops.core.geo import AreaIndex, parse_polygon
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import directory, events
from cityops.org.accounts import (
    actor_for_api_key,
    actor_for_token,
    actor_for_user,
    checked_actor,
    create_api_key,
    create_user,
    get_me,
    get_user,
    get_user_by_username,
    get_user_ref,
    list_api_keys,
    list_users,
    login,
    logout,
    revoke_api_key,
    update_user,
    users_by_ids,
)
from cityops.org.members import list_department_members
from cityops.org.models import Area, Department
from cityops.org.roles import Perm
from cityops.org.schemas import (
    LEVELS,
    AreaIn,
    AreaOut,
    AreaRef,
    DepartmentIn,
    DepartmentOut,
    DepartmentRef,
    DepartmentUpdate,
    Location,
)

__all__ = [
    "actor_for_api_key",
    "actor_for_token",
    "actor_for_user",
    "area_index",
    "area_refs",
    "areas_geojson",
    "checked_actor",
    "create_api_key",
    "create_area",
    "create_department",
    "create_user",
    "department_area_path",
    "department_refs",
    "find_department",
    "get_area_by_code",
    "get_department",
    "get_department_by_code",
    "get_me",
    "get_user",
    "get_user_by_username",
    "get_user_ref",
    "import_areas",
    "list_api_keys",
    "list_areas",
    "list_department_members",
    "list_departments",
    "list_users",
    "locate",
    "login",
    "logout",
    "revoke_api_key",
    "update_department",
    "update_user",
    "users_by_ids",
]


def create_area(rt: Runtime, *, actor: Actor, data: AreaIn) -> AreaOut:
    """Add one area under its parent (the city has none)."""
    actor.require(Perm.org_manage)
    with rt.db.transaction() as tx:
        area = _insert_area(tx.session, data, rt)
        record(
            tx.session,
            actor=actor,
            action=events.AREA_CREATED,
            subject_type="area",
            subject_id=area.id,
            at=rt.clock.now(),
            after={"code": area.code, "path": area.path},
        )
        tx.emit(events.AreasChanged())
        out = AreaOut.model_validate(area)
    rt.db.snapshots.invalidate(directory.AREAS)
    return out


def import_areas(rt: Runtime, *, actor: Actor, areas: Iterable[AreaIn]) -> int:
    """Add many areas in one transaction, parents before children (used by the demo and CLI)."""
    actor.require(Perm.org_manage)
    count = 0
    with rt.db.transaction() as tx:
        for data in areas:
            _insert_area(tx.session, data, rt)
            count += 1
        record(
            tx.session,
            actor=actor,
            action=events.AREA_CREATED,
            subject_type="area",
            subject_id="bulk",
            at=rt.clock.now(),
            after={"count": count},
        )
    rt.db.snapshots.invalidate(directory.AREAS)
    return count


def _insert_area(session: Session, data: AreaIn, rt: Runtime) -> Area:
    geometry = parse_polygon(data.geometry)
    parent = _parent_for(session, data)
    if session.scalar(select(Area.id).where(Area.code == data.code)) is not None:
        raise Conflict(text("area code {code!r} already exists", code=data.code), code="duplicate")
    center = geometry.representative_point()
    now = rt.clock.now()
    area = Area(
        code=data.code,
        name_zh=data.name_zh,
        name_en=data.name_en,
        level=data.level,
        parent_id=parent.id if parent else None,
        path=f"{parent.path}/{data.code}" if parent else f"/{data.code}",
        depth=LEVELS.index(data.level),
        geometry=data.geometry,
        center_lon=round(center.x, 6),
        center_lat=round(center.y, 6),
        created_at=now,
        updated_at=now,
    )
    session.add(area)
    session.flush()
    return area


def _parent_for(session: Session, data: AreaIn) -> Area | None:
    if data.level == "city":
        if data.parent_code:
            raise invalid("parent_code", "a city has no parent")
        return None
    if not data.parent_code:
        raise invalid("parent_code", text("a {level} needs a parent area", level=data.level))
    parent = session.scalar(select(Area).where(Area.code == data.parent_code))
    if parent is None:
        raise invalid("parent_code", text("unknown area {code!r}", code=data.parent_code))
    if LEVELS.index(parent.level) >= LEVELS.index(data.level):
        raise invalid(
            "level",
            text(
                "a {level} cannot sit under a {parent_level}",
                level=data.level,
                parent_level=parent.level,
            ),
        )
    return parent


def list_areas(
    rt: Runtime, *, actor: Actor, level: str | None = None, parent_code: str | None = None
) -> list[AreaOut]:
    """Areas, optionally one level or the children of one area."""
    actor.require(Perm.org_read)
    with rt.db.read() as session:
        query = select(Area).order_by(Area.path)
        if level:
            if level not in LEVELS:
                raise invalid("level", text("must be one of {levels}", levels=", ".join(LEVELS)))
            query = query.where(Area.level == level)
        if parent_code:
            parent = session.scalar(select(Area).where(Area.code == parent_code))
            if parent is None:
                raise NotFound("area", parent_code)
            query = query.where(Area.parent_id == parent.id)
        return [AreaOut.model_validate(a) for a in session.scalars(query)]


def areas_geojson(rt: Runtime, *, level: str | None = None) -> dict[str, Any]:
    """Area boundaries as a GeoJSON FeatureCollection (public map data, no personal data)."""
    with rt.db.read() as session:
        query = select(Area).order_by(Area.path)
        if level:
            query = query.where(Area.level == level)
        features = [
            {
                "type": "Feature",
                "id": area.code,
                "geometry": area.geometry,
                "properties": {
                    "code": area.code,
                    "name_zh": area.name_zh,
                    "name_en": area.name_en,
                    "level": area.level,
                    "path": area.path,
                },
            }
            for area in session.scalars(query)
        ]
    return {"type": "FeatureCollection", "features": features}


def area_refs(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AreaRef]:
    """Areas by id, from the cached directory (for list endpoints)."""
    refs = directory.areas(session).refs
    return {i: refs[i] for i in ids if i in refs}


def get_area_by_code(session: Session, code: str) -> AreaOut | None:
    area = session.scalar(select(Area).where(Area.code == code))
    return AreaOut.model_validate(area) if area else None


def area_index(session: Session) -> AreaIndex:
    return directory.areas(session).index


def locate(rt: Runtime, session: Session, lon: float, lat: float) -> Location | None:
    """The district/street/community/grid containing a point, or None outside the city."""
    areas = directory.areas(session)
    hits = areas.index.containing(lon, lat)
    if not hits:
        return None
    location = Location(path=hits[-1].path)
    for hit in hits:
        setattr(location, hit.level, areas.refs[hit.id])
    return location


def create_department(rt: Runtime, *, actor: Actor, data: DepartmentIn) -> DepartmentOut:
    """Add a department with its jurisdiction area."""
    actor.require(Perm.org_manage)
    with rt.db.transaction() as tx:
        area = tx.session.scalar(select(Area).where(Area.code == data.area_code))
        if area is None:
            raise invalid("area_code", text("unknown area {code!r}", code=data.area_code))
        if tx.session.scalar(select(Department.id).where(Department.code == data.code)):
            raise duplicate("code", text("department code {code!r} already exists", code=data.code))
        now = rt.clock.now()
        department = Department(
            code=data.code,
            name_zh=data.name_zh,
            name_en=data.name_en,
            kind=data.kind,
            area_id=area.id,
            phone=data.phone,
            created_at=now,
            updated_at=now,
        )
        tx.session.add(department)
        tx.session.flush()
        record(
            tx.session,
            actor=actor,
            action=events.DEPARTMENT_CREATED,
            subject_type="department",
            subject_id=department.id,
            at=now,
            after=data.model_dump(),
        )
        out = DepartmentOut.model_validate(department)
    rt.db.snapshots.invalidate(directory.DEPARTMENTS)
    return out


def update_department(
    rt: Runtime, *, actor: Actor, department_id: uuid.UUID, data: DepartmentUpdate
) -> DepartmentOut:
    """Rename, recode, move the jurisdiction of, or (de)activate a department."""
    actor.require(Perm.org_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: rt.db.snapshots.invalidate(directory.DEPARTMENTS))
        session = tx.session
        department = session.get(Department, department_id)
        if department is None:
            raise NotFound("department", department_id)
        before = _department_state(session, department)
        changes = data.model_dump(exclude_unset=True)
        for name in ("code", "name_zh", "name_en", "kind", "area_code"):
            if name in changes and changes[name] is None:
                raise invalid(name, "must not be empty", "required")
        if changes.get("code", department.code) != department.code:
            taken = session.scalar(select(Department.id).where(Department.code == changes["code"]))
            if taken is not None:
                raise duplicate(
                    "code", text("department code {code!r} already exists", code=changes["code"])
                )
        if "area_code" in changes:
            department.area_id = _area_id(session, changes.pop("area_code"))
        for name, value in changes.items():
            setattr(department, name, value)
        department.updated_at = rt.clock.now()
        session.flush()
        record(
            session,
            actor=actor,
            action=events.DEPARTMENT_UPDATED,
            subject_type="department",
            subject_id=department.id,
            at=department.updated_at,
            before=before,
            after=_department_state(session, department),
        )
        return DepartmentOut.model_validate(department)


def _area_id(session: Session, code: str) -> uuid.UUID:
    area_id = session.scalar(select(Area.id).where(Area.code == code))
    if area_id is None:
        raise invalid("area_code", text("unknown area {code!r}", code=code))
    return area_id


def _department_state(session: Session, department: Department) -> dict[str, Any]:
    """What the audit trail keeps of a department: its fields, the area by code."""
    return {
        "code": department.code,
        "name_zh": department.name_zh,
        "name_en": department.name_en,
        "kind": department.kind,
        "area_code": session.scalar(select(Area.code).where(Area.id == department.area_id)),
        "phone": department.phone,
        "active": department.active,
    }


def list_departments(rt: Runtime, *, actor: Actor, kind: str | None = None) -> list[DepartmentOut]:
    actor.require(Perm.org_read)
    with rt.db.read() as session:
        query = select(Department).order_by(Department.code)
        if kind:
            query = query.where(Department.kind == kind)
        return [DepartmentOut.model_validate(d) for d in session.scalars(query)]


def get_department(session: Session, department_id: uuid.UUID) -> DepartmentOut:
    department = session.get(Department, department_id)
    if department is None:
        raise NotFound("department", department_id)
    return DepartmentOut.model_validate(department)


def get_department_by_code(session: Session, code: str) -> DepartmentOut | None:
    return directory.departments(session).by_code.get(code)


def department_refs(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, DepartmentRef]:
    """Departments by id, from the cached directory (for list endpoints)."""
    by_id = directory.departments(session).by_id
    return {i: DepartmentRef.model_validate(by_id[i]) for i in ids if i in by_id}


def find_department(session: Session, *, kind: str, path: str) -> DepartmentOut | None:
    """The active department of ``kind`` whose jurisdiction most closely contains ``path``."""
    found = directory.departments(session)
    best: tuple[int, DepartmentOut] | None = None
    for department in found.by_id.values():
        area_path = found.area_paths[department.id]
        if department.kind != kind or not department.active:
            continue
        if (path + "/").startswith(area_path + "/") and (best is None or len(area_path) > best[0]):
            best = (len(area_path), department)
    return best[1] if best else None


def department_area_path(session: Session, department_id: uuid.UUID) -> str | None:
    return directory.departments(session).area_paths.get(department_id)
