"""Administration of categories (with time limits and routes) and the working calendar."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases import events
from cityops.cases.calendar import CALENDAR
from cityops.cases.catalogue import (
    DEFAULT_DUPLICATE_RADIUS_M,
    DEFAULT_DUPLICATE_WINDOW_HOURS,
    Catalogue,
    load_default_catalogue,
)
from cityops.cases.directory import CATEGORIES
from cityops.cases.models import CalendarDay, Category, CategoryRoute
from cityops.cases.schemas import CategoryIn, CategoryOut, CategoryUpdate, RouteOut
from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.cache import cached
from cityops.core.errors import NotFound, duplicate, invalid
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.roles import Perm
from cityops.org.schemas import DepartmentRef


def _out(category: Category, codes: dict[uuid.UUID, str]) -> CategoryOut:
    out = CategoryOut.model_validate(category)
    out.parent_code = codes.get(category.parent_id) if category.parent_id else None
    return out


CATEGORY_LIST = "cases.category_list"


def _load_list(session: Session) -> tuple[CategoryOut, ...]:
    rows = session.scalars(select(Category).order_by(Category.sort_order, Category.code)).all()
    codes = {c.id: c.code for c in rows}
    return tuple(_out(c, codes) for c in rows)


def category_snapshot(rt: Runtime) -> tuple[CategoryOut, ...]:
    """Every category, groups before their leaves, as this process holds them: the same tuple
    until a change to the categories commits, so a caller may key its own cache on it. Shared:
    read it, never change it (``list_categories`` gives copies)."""
    with rt.db.read() as session:
        return cached(session, CATEGORY_LIST, _load_list)


def list_categories(rt: Runtime, *, include_inactive: bool = False) -> list[CategoryOut]:
    """The category tree as a flat list, groups before their leaves (public reference data,
    kept per process like the category directory, and copied so that a caller's change stays
    its own)."""
    return [c.model_copy() for c in category_snapshot(rt) if include_inactive or c.active]


def _forget(rt: Runtime) -> None:
    """After a change to categories or their routes commits: every cached view of them."""
    rt.db.snapshots.invalidate(CATEGORIES)
    rt.db.snapshots.invalidate(CATEGORY_LIST)


def create_category(rt: Runtime, *, actor: Actor, data: CategoryIn) -> CategoryOut:
    """Add a category; a leaf (with a parent) needs time limits."""
    actor.require(Perm.categories_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: _forget(rt))
        session = tx.session
        if session.scalar(select(Category.id).where(Category.code == data.code)):
            raise duplicate("code", text("category {code!r} already exists", code=data.code))
        parent = _parent(session, data.parent_code)
        if parent is not None and None in (
            data.register_hours,
            data.dispatch_hours,
            data.handle_hours,
        ):
            raise invalid(
                "handle_hours", "a category needs register, dispatch and handle hours", "required"
            )
        now = rt.clock.now()
        fields = data.model_dump(exclude={"parent_code"})
        for name, default in (
            ("duplicate_radius_m", DEFAULT_DUPLICATE_RADIUS_M),
            ("duplicate_window_hours", DEFAULT_DUPLICATE_WINDOW_HOURS),
        ):
            if fields[name] is None:
                fields[name] = getattr(parent, name) if parent else default
        category = Category(
            **fields, parent_id=parent.id if parent else None, created_at=now, updated_at=now
        )
        session.add(category)
        session.flush()
        record(
            session,
            actor=actor,
            action=events.CATEGORY_CREATED,
            subject_type="category",
            subject_id=category.id,
            at=now,
            after=data.model_dump(),
        )
        return _out(category, {parent.id: parent.code} if parent else {})


def _parent(session: Session, code: str | None) -> Category | None:
    if code is None:
        return None
    parent = session.scalar(select(Category).where(Category.code == code))
    if parent is None:
        raise invalid(
            "parent_code", text("unknown category {code!r}", code=code), "unknown_category"
        )
    if parent.parent_id is not None:
        raise invalid("parent_code", "categories have two levels; the parent must be a group")
    return parent


def update_category(rt: Runtime, *, actor: Actor, code: str, data: CategoryUpdate) -> CategoryOut:
    """Change names, time limits, department kind, keywords or whether it is in use."""
    actor.require(Perm.categories_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: _forget(rt))
        category = tx.session.scalar(select(Category).where(Category.code == code))
        if category is None:
            raise NotFound("category", code)
        parent = tx.session.get(Category, category.parent_id) if category.parent_id else None
        codes = {parent.id: parent.code} if parent else {}
        before = _out(category, codes).model_dump(mode="json")
        changes = data.model_dump(exclude_unset=True)
        _check_not_cleared(changes, is_leaf=category.parent_id is not None)
        for name, value in changes.items():
            setattr(category, name, value)
        category.updated_at = rt.clock.now()
        out = _out(category, codes)
        record(
            tx.session,
            actor=actor,
            action=events.CATEGORY_UPDATED,
            subject_type="category",
            subject_id=category.id,
            at=category.updated_at,
            before=before,
            after=out.model_dump(mode="json"),
        )
        return out


_ALWAYS_SET = (
    "name_zh",
    "name_en",
    "priority",
    "keywords",
    "active",
    "duplicate_radius_m",
    "duplicate_window_hours",
)
_LEAF_LIMITS = ("register_hours", "dispatch_hours", "handle_hours")


def _check_not_cleared(changes: dict[str, object], *, is_leaf: bool) -> None:
    """Names and flags cannot be cleared, nor a leaf's time limits (a group has none)."""
    for name in (*_ALWAYS_SET, *(_LEAF_LIMITS if is_leaf else ())):
        if name in changes and changes[name] is None:
            raise invalid(name, "must not be empty", "required")


def set_route(
    rt: Runtime, *, actor: Actor, category_code: str, area_code: str, department_code: str
) -> RouteOut:
    """Make ``department_code`` responsible for ``category_code`` inside ``area_code``."""
    actor.require(Perm.categories_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: _forget(rt))
        session = tx.session
        category = session.scalar(select(Category).where(Category.code == category_code))
        if category is None:
            raise NotFound("category", category_code)
        area = org.get_area_by_code(session, area_code)
        if area is None:
            raise invalid("area_code", text("unknown area {code!r}", code=area_code))
        department = org.get_department_by_code(session, department_code)
        if department is None:
            raise invalid(
                "department_code", text("unknown department {code!r}", code=department_code)
            )
        route = session.scalar(
            select(CategoryRoute).where(
                CategoryRoute.category_id == category.id, CategoryRoute.area_id == area.id
            )
        )
        before = _route_before(session, route, area_code)
        if route is None:
            route = CategoryRoute(
                category_id=category.id,
                area_id=area.id,
                area_path=area.path,
                department_id=department.id,
            )
            session.add(route)
        route.department_id = department.id
        session.flush()
        record(
            session,
            actor=actor,
            action=events.ROUTE_SET,
            subject_type="category",
            subject_id=category.id,
            at=rt.clock.now(),
            before=before,
            after={"area": area_code, "department": department_code},
        )
        return RouteOut(
            category_code=category_code,
            area_code=area_code,
            department=DepartmentRef.model_validate(department),
        )


def _route_before(
    session: Session, route: CategoryRoute | None, area_code: str
) -> dict[str, str | None]:
    refs = org.department_refs(session, [route.department_id]) if route else {}
    ref = refs.get(route.department_id) if route else None
    return {"area": area_code, "department": ref.code if ref else None}


def list_routes(rt: Runtime, *, actor: Actor, category_code: str) -> list[RouteOut]:
    """The departments made responsible for a category, one per area, city-wide first."""
    actor.require(Perm.org_read)
    with rt.db.read() as session:
        category = session.scalar(select(Category).where(Category.code == category_code))
        if category is None:
            raise NotFound("category", category_code)
        routes = session.scalars(
            select(CategoryRoute)
            .where(CategoryRoute.category_id == category.id)
            .order_by(CategoryRoute.area_path)
        ).all()
        areas = org.area_refs(session, [r.area_id for r in routes])
        departments = org.department_refs(session, [r.department_id for r in routes])
        return [
            RouteOut(
                category_code=category_code,
                area_code=areas[r.area_id].code,
                department=departments[r.department_id],
            )
            for r in routes
        ]


def clear_route(rt: Runtime, *, actor: Actor, category_code: str, area_code: str) -> None:
    """Drop the route of a category in an area (dispatch falls back to the wider rules)."""
    actor.require(Perm.categories_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: _forget(rt))
        session = tx.session
        category = session.scalar(select(Category).where(Category.code == category_code))
        if category is None:
            raise NotFound("category", category_code)
        area = org.get_area_by_code(session, area_code)
        route = None
        if area is not None:
            route = session.scalar(
                select(CategoryRoute).where(
                    CategoryRoute.category_id == category.id, CategoryRoute.area_id == area.id
                )
            )
        if route is None:
            raise NotFound("route of category in area", f"{category_code}/{area_code}")
        before = _route_before(session, route, area_code)
        session.delete(route)
        record(
            session,
            actor=actor,
            action=events.ROUTE_CLEARED,
            subject_type="category",
            subject_id=category.id,
            at=rt.clock.now(),
            before=before,
        )


def set_calendar_day(
    rt: Runtime, *, actor: Actor, day: date, working: bool | None, name: str = ""
) -> None:
    """Mark a date as a holiday (``working=False``) or make-up working day; ``None`` clears it."""
    actor.require(Perm.categories_manage)
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: rt.db.snapshots.invalidate(CALENDAR))
        row = tx.session.get(CalendarDay, day)
        before = {"working": row.working, "name": row.name} if row else None
        if working is None:
            if row is not None:
                tx.session.delete(row)
        elif row is None:
            tx.session.add(CalendarDay(day=day, working=working, name=name))
        else:
            row.working, row.name = working, name
        record(
            tx.session,
            actor=actor,
            action=events.CALENDAR_SET,
            subject_type="calendar",
            subject_id=day.isoformat(),
            at=rt.clock.now(),
            before=before,
            after={"working": working, "name": name},
        )


def list_calendar_days(rt: Runtime) -> list[tuple[date, bool, str]]:
    with rt.db.read() as session:
        rows = session.scalars(select(CalendarDay).order_by(CalendarDay.day))
        return [(r.day, r.working, r.name) for r in rows]


def import_default_catalogue(
    rt: Runtime, *, actor: Actor, catalogue: Catalogue | None = None
) -> int:
    """Load the shipped catalogue (GB/T 30428.2 plus 12345 appeal types); skips known codes."""
    actor.require(Perm.categories_manage)
    catalogue = catalogue or load_default_catalogue()
    added = 0
    with rt.db.transaction() as tx:
        tx.after_commit(lambda: _forget(rt))
        known = {c.code: c for c in tx.session.scalars(select(Category))}
        now = rt.clock.now()
        for order, seed in enumerate([*catalogue.groups, *catalogue.leaves]):
            if seed.code in known:
                continue
            parent = known.get(seed.parent_code) if seed.parent_code else None
            category = Category(
                code=seed.code,
                parent_id=parent.id if parent else None,
                name_zh=seed.name_zh,
                name_en=seed.name_en,
                kind=seed.kind,
                department_kind=seed.department_kind,
                register_hours=seed.register_hours,
                dispatch_hours=seed.dispatch_hours,
                handle_hours=seed.handle_hours,
                priority=seed.priority or "normal",
                keywords=list(seed.keywords_zh),
                duplicate_radius_m=seed.duplicate_radius_m,
                duplicate_window_hours=seed.duplicate_window_hours,
                active=True,
                sort_order=order,
                created_at=now,
                updated_at=now,
            )
            tx.session.add(category)
            tx.session.flush()
            known[seed.code] = category
            added += 1
        record(
            tx.session,
            actor=actor,
            action=events.CATEGORY_CREATED,
            subject_type="category",
            subject_id="default-catalogue",
            at=now,
            after={"added": added},
        )
    return added


def department_kinds() -> dict[str, tuple[str, str]]:
    """Department kinds of the shipped catalogue: code → (name_zh, name_en)."""
    return {k: (v.name_zh, v.name_en) for k, v in load_default_catalogue().departments.items()}
