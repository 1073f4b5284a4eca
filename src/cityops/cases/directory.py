"""Cached categories and routing rules (small, read on every intake and list)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.models import Category, CategoryRoute
from cityops.cases.schemas import CategoryRef
from cityops.core.cache import cached

CATEGORIES = "cases.categories"


@dataclass(frozen=True)
class CategoryInfo:
    id: uuid.UUID
    code: str
    parent_id: uuid.UUID | None
    name_zh: str
    name_en: str
    kind: str
    department_kind: str | None
    register_hours: float | None
    dispatch_hours: float | None
    handle_hours: float | None
    priority: str
    active: bool
    duplicate_radius_m: float = 150.0
    duplicate_window_hours: float = 72.0

    @property
    def ref(self) -> CategoryRef:
        return CategoryRef(code=self.code, name_zh=self.name_zh, name_en=self.name_en)

    @property
    def is_group(self) -> bool:
        return self.parent_id is None


@dataclass(frozen=True)
class RouteInfo:
    category_id: uuid.UUID
    area_path: str
    department_id: uuid.UUID


@dataclass(frozen=True)
class CategoryDirectory:
    by_id: dict[uuid.UUID, CategoryInfo]
    by_code: dict[str, CategoryInfo]
    routes: dict[uuid.UUID, list[RouteInfo]]


def _load(session: Session) -> CategoryDirectory:
    infos = [
        CategoryInfo(
            id=c.id,
            code=c.code,
            parent_id=c.parent_id,
            name_zh=c.name_zh,
            name_en=c.name_en,
            kind=c.kind,
            department_kind=c.department_kind,
            register_hours=c.register_hours,
            dispatch_hours=c.dispatch_hours,
            handle_hours=c.handle_hours,
            priority=c.priority,
            active=c.active,
            duplicate_radius_m=c.duplicate_radius_m,
            duplicate_window_hours=c.duplicate_window_hours,
        )
        for c in session.scalars(select(Category))
    ]
    routes: dict[uuid.UUID, list[RouteInfo]] = defaultdict(list)
    for r in session.scalars(select(CategoryRoute)):
        routes[r.category_id].append(RouteInfo(r.category_id, r.area_path, r.department_id))
    return CategoryDirectory(
        by_id={c.id: c for c in infos}, by_code={c.code: c for c in infos}, routes=dict(routes)
    )


def categories(session: Session) -> CategoryDirectory:
    return cached(session, CATEGORIES, _load)
