"""Reading cases: one case, filtered pages, timelines, photos, routing suggestions."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlalchemy import Select, exists, false, or_, select
from sqlalchemy.orm import Session, aliased

from cityops.cases.access import can_read
from cityops.cases.directory import categories
from cityops.cases.dispatch import suggest_department
from cityops.cases.models import Case, CaseEvent, Category, Upload
from cityops.cases.schemas import CaseEventOut, CaseFilter, CaseOut, Suggestion, UploadOut
from cityops.cases.views import present, present_many
from cityops.core.auth import Actor
from cityops.core.errors import NotFound, PermissionDenied, invalid
from cityops.core.i18n import text
from cityops.core.pagination import Page, PageParams, contains, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.roles import Perm

SORTS: dict[str, Any] = {
    "created_at": Case.created_at,
    "updated_at": Case.updated_at,
    "number": Case.number,
    "state": Case.state,
    "priority": Case.priority,
    "register_due_at": Case.register_due_at,
    "dispatch_due_at": Case.dispatch_due_at,
    "handle_due_at": Case.handle_due_at,
    "closed_at": Case.closed_at,
}


def load_case(session: Session, case_id: uuid.UUID, *, for_update: bool = False) -> Case:
    """The case; ``for_update``: locked, and read afresh even if the session holds it."""
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    case = session.scalar(query)
    if case is None:
        raise NotFound("case", case_id)
    return case


def _follows(session: Session, actor: Actor, case: Case) -> bool:
    """The actor reported a duplicate that was merged into this case."""
    if actor.user_id is None or case.duplicate_count == 0:
        return False
    return bool(
        session.scalar(
            select(
                exists().where(Case.merged_into_id == case.id, Case.reporter_id == actor.user_id)
            )
        )
    )


def can_read_case(session: Session, actor: Actor, case: Case) -> bool:
    return can_read(actor, case) or _follows(session, actor, case)


def _readable(session: Session, actor: Actor, case_id: uuid.UUID) -> Case:
    actor.require(Perm.cases_read)
    case = load_case(session, case_id)
    if not can_read_case(session, actor, case):
        raise PermissionDenied("the case is outside your jurisdiction", code="out_of_jurisdiction")
    return case


def get_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> CaseOut:
    with rt.db.read() as session:
        return present(session, actor, _readable(session, actor, case_id))


def states_of(rt: Runtime, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The state each of these cases is in now (those that exist), in one query: for work
    done after the commit that made an event, which the case may have moved on from."""
    if not case_ids:
        return {}
    with rt.db.read() as session:
        rows = session.execute(select(Case.id, Case.state).where(Case.id.in_(case_ids)))
        return {row.id: row.state for row in rows}


def get_cases(rt: Runtime, *, actor: Actor, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, CaseOut]:
    """Many cases by id, those the actor may read (the others are left out), in a fixed
    number of queries."""
    actor.require(Perm.cases_read)
    if not case_ids:
        return {}
    with rt.db.read() as session:
        rows = session.scalars(scope_cases(select(Case).where(Case.id.in_(case_ids)), actor))
        return {case.id: case for case in present_many(session, actor, list(rows))}


def timeline(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> list[CaseEventOut]:
    """The full history of a case, oldest first, with the photos each step added."""
    with rt.db.read() as session:
        _readable(session, actor, case_id)
        return _events(session, [case_id]).get(case_id, [])


def timelines(
    rt: Runtime, *, actor: Actor, case_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[CaseEventOut]]:
    """The histories of many cases, those the actor may read (the others are left out), in
    three queries: for work on a batch of cases."""
    actor.require(Perm.cases_read)
    if not case_ids:
        return {}
    with rt.db.read() as session:
        readable = list(
            session.scalars(scope_cases(select(Case.id).where(Case.id.in_(case_ids)), actor))
        )
        events = _events(session, readable)
    return {case_id: events.get(case_id, []) for case_id in readable}


def _events(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[CaseEventOut]]:
    """Each case's timeline entries, oldest first, with their photos."""
    if not case_ids:
        return {}
    rows = session.scalars(
        select(CaseEvent)
        .where(CaseEvent.case_id.in_(case_ids))
        .order_by(CaseEvent.at, CaseEvent.id)
    ).all()
    photos: dict[uuid.UUID, list[uuid.UUID]] = {}
    for upload_id, event_id in session.execute(
        select(Upload.id, Upload.event_id).where(Upload.case_id.in_(case_ids))
    ):
        if event_id is not None:
            photos.setdefault(event_id, []).append(upload_id)
    out: dict[uuid.UUID, list[CaseEventOut]] = {}
    for row in rows:
        item = CaseEventOut.model_validate(row)
        item.photos = photos.get(row.id, [])
        out.setdefault(row.case_id, []).append(item)
    return out


def scope_cases(query: Select[Any], actor: Actor) -> Select[Any]:
    """Limit a case query to what the actor may see (mirrors access.can_read)."""
    if actor.role in ("admin", "system"):
        return query
    if actor.role == "citizen":
        duplicate = aliased(Case)
        followed = select(duplicate.merged_into_id).where(
            duplicate.reporter_id == actor.user_id, duplicate.merged_into_id.is_not(None)
        )
        return query.where(or_(Case.reporter_id == actor.user_id, Case.id.in_(followed)))
    if actor.role == "handler":
        if actor.department_id is None:
            return query.where(false())
        return query.where(Case.department_id == actor.department_id)
    if actor.area_path is None:
        return query
    own = Case.reporter_id == actor.user_id
    inside = or_(
        Case.area_path == actor.area_path, Case.area_path.startswith(actor.area_path + "/")
    )
    return query.where(or_(inside, own))


def list_cases(
    rt: Runtime, *, actor: Actor, filters: CaseFilter, params: PageParams
) -> Page[CaseOut]:
    """One page of the cases the actor may see, filtered and sorted."""
    actor.require(Perm.cases_read)
    with rt.db.read() as session:
        query = scope_cases(select(Case), actor)
        query = _apply_filters(session, query, filters, actor)
        query = order_by_sort(query, params.sort, SORTS, "-created_at")
        rows, total = paginate(session, query, params)
        items = present_many(session, actor, list(rows))
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def _apply_filters(
    session: Session, query: Select[Any], f: CaseFilter, actor: Actor
) -> Select[Any]:
    if f.state:
        query = query.where(Case.state.in_(f.state))
    if f.category:
        ids = session.scalars(
            select(Category.id).where(
                or_(
                    Category.code == f.category,
                    Category.parent_id.in_(select(Category.id).where(Category.code == f.category)),
                )
            )
        ).all()
        query = query.where(Case.category_id.in_(ids))
    if f.district:
        area = org.get_area_by_code(session, f.district)
        if area is None:
            raise invalid("district", text("unknown area {code!r}", code=f.district))
        query = query.where(
            or_(Case.area_path == area.path, Case.area_path.startswith(area.path + "/"))
        )
    if f.department:
        department = org.get_department_by_code(session, f.department)
        if department is None:
            raise invalid("department", text("unknown department {code!r}", code=f.department))
        query = query.where(Case.department_id == department.id)
    if f.sla_status:
        query = query.where(Case.sla_status == f.sla_status)
    if f.source:
        query = query.where(Case.source == f.source)
    if f.since:
        query = query.where(Case.created_at >= f.since)
    if f.until:
        query = query.where(Case.created_at < f.until)
    if f.q:
        like = contains(f.q)
        number = [Case.number == int(f.q)] if f.q.isdigit() else []
        query = query.where(
            or_(
                Case.title.ilike(like, escape="\\"),
                Case.description.ilike(like, escape="\\"),
                Case.address.ilike(like, escape="\\"),
                *number,
            )
        )
    if f.mine:
        query = query.where(
            or_(Case.reporter_id == actor.user_id, Case.assignee_id == actor.user_id)
        )
    if f.near is not None:
        query = _near(query, f.near.lon, f.near.lat, f.radius_m or 500.0)
    return query


def _near(query: Select[Any], lon: float, lat: float, radius_m: float) -> Select[Any]:
    """A bounding-box prefilter on the indexed lon/lat columns (good enough at city scale)."""
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    return query.where(
        Case.lon.between(lon - dlon, lon + dlon), Case.lat.between(lat - dlat, lat + dlat)
    )


def get_upload(rt: Runtime, *, actor: Actor, upload_id: uuid.UUID) -> tuple[UploadOut, bytes]:
    """A photo's metadata and bytes, for its uploader or anyone who may read its case."""
    with rt.db.read() as session:
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise NotFound("photo", upload_id)
        if upload.case_id is not None:
            case = load_case(session, upload.case_id)
            allowed = can_read_case(session, actor, case) and actor.can(Perm.cases_read)
        else:
            allowed = upload.uploaded_by == actor.user_id or actor.role == "admin"
        if not allowed:
            raise PermissionDenied("you may not see this photo", code="out_of_jurisdiction")
        meta = UploadOut.model_validate(upload)
    return meta, rt.files.open(meta.sha256)


def suggest_for_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> Suggestion:
    """The department the routing rules would dispatch the case to."""
    actor.require(Perm.cases_dispatch)
    with rt.db.read() as session:
        case = _readable(session, actor, case_id)
        category = categories(session).by_id.get(case.category_id) if case.category_id else None
        return suggest_department(session, category, case.area_path)


def route_for(rt: Runtime, *, category_code: str, area_path: str) -> Suggestion:
    """The department the routing rules pick for a category at a place (for automation that
    must know a route exists before it acts)."""
    with rt.db.read() as session:
        return suggest_department(
            session, categories(session).by_code.get(category_code), area_path
        )


def present_cases(rt: Runtime, actor: Actor, cases: list[Case]) -> list[CaseOut]:
    with rt.db.read() as session:
        return present_many(session, actor, cases)


def training_texts(
    rt: Runtime, *, limit: int | None = None
) -> list[tuple[uuid.UUID, str, str, str | None]]:
    """The cases' ids, titles, texts and the category code a person set or confirmed (by
    registering or dispatching it), else ``None`` (for retraining the classifier: the cases
    without a person's category are its unlabelled text); the newest ``limit`` cases, oldest
    first."""
    by_person = exists().where(
        CaseEvent.case_id == Case.id,
        CaseEvent.action.in_(("register", "dispatch")),
        CaseEvent.actor_id.is_not(None),
    )
    query = (
        select(Case.id, Case.title, Case.description, Category.code, by_person)
        .outerjoin(Category, Category.id == Case.category_id)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
    )
    with rt.db.read() as session:
        rows = session.execute(query).all()
    return [
        (case_id, title, text, code if code is not None and person else None)
        for case_id, title, text, code, person in reversed(rows)
    ]
