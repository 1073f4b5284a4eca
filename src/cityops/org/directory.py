"""Cached reference data of the organisation: areas (with the point index) and departments.

Both tables are small and change rarely; hot paths read them from a per-process snapshot
(see ``core/cache.py``) instead of querying on every request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.core.cache import cached
from cityops.core.geo import AreaIndex, IndexedArea, parse_polygon
from cityops.org.models import Area, Department
from cityops.org.schemas import AreaRef, DepartmentOut

AREAS = "org.areas"
DEPARTMENTS = "org.departments"


@dataclass(frozen=True)
class AreaDirectory:
    index: AreaIndex
    refs: dict[uuid.UUID, AreaRef]
    paths: dict[uuid.UUID, str]
    by_code: dict[str, uuid.UUID]


@dataclass(frozen=True)
class DepartmentDirectory:
    by_id: dict[uuid.UUID, DepartmentOut]
    by_code: dict[str, DepartmentOut]
    area_paths: dict[uuid.UUID, str]


def _load_areas(session: Session) -> AreaDirectory:
    rows = session.scalars(select(Area)).all()
    indexed = [
        IndexedArea(a.id, a.path, a.level, a.depth, parse_polygon(a.geometry))
        for a in rows
        if a.level != "city"
    ]
    return AreaDirectory(
        index=AreaIndex(indexed),
        refs={a.id: AreaRef.model_validate(a) for a in rows},
        paths={a.id: a.path for a in rows},
        by_code={a.code: a.id for a in rows},
    )


def _load_departments(session: Session) -> DepartmentDirectory:
    rows = session.execute(select(Department, Area.path).join(Area, Area.id == Department.area_id))
    by_id, paths = {}, {}
    for department, path in rows:
        by_id[department.id] = DepartmentOut.model_validate(department)
        paths[department.id] = path
    return DepartmentDirectory(
        by_id=by_id, by_code={d.code: d for d in by_id.values()}, area_paths=paths
    )


def areas(session: Session) -> AreaDirectory:
    return cached(session, AREAS, _load_areas)


def departments(session: Session) -> DepartmentDirectory:
    return cached(session, DEPARTMENTS, _load_departments)
