"""Builds the API view of cases, loading related names in a fixed number of queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases.access import is_reporter, mask_phone, may_see_phone
from cityops.cases.directory import categories
from cityops.cases.models import Case
from cityops.cases.schemas import CaseLocation, CaseOut, CategoryRef, Due, MachineDispatch
from cityops.cases.workflow import TRANSITIONS, Action, State, allowed_actions, sla_stage
from cityops.core.auth import Actor
from cityops.org import service as org
from cityops.org.schemas import AreaRef, DepartmentRef, UserRef


def present(session: Session, actor: Actor, case: Case) -> CaseOut:
    return present_many(session, actor, [case])[0]


def present_many(session: Session, actor: Actor, cases: Sequence[Case]) -> list[CaseOut]:
    """CaseOut for each case: at most one query (user names not yet cached) however many
    cases there are; categories, departments and areas come from the cached directories."""
    if not cases:
        return []
    categories = _categories(session, {c.category_id for c in cases if c.category_id})
    departments = org.department_refs(session, [c.department_id for c in cases if c.department_id])
    area_ids = {a for c in cases for a in (c.district_id, c.street_id, c.community_id, c.grid_id)}
    areas = org.area_refs(session, [a for a in area_ids if a])
    user_ids = [u for c in cases for u in (c.assignee_id, c.reporter_id) if u]
    users = _users(session, actor, user_ids)
    numbers = _numbers(session, {c.merged_into_id for c in cases if c.merged_into_id})
    out = [_one(actor, case, categories, departments, areas, users) for case in cases]
    for item in out:
        if item.merged_into is not None:
            item.merged_into_number = numbers.get(item.merged_into)
    return out


def _numbers(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Case numbers by id: those the session holds already (the case a report was just
    merged into), the others by one query."""
    numbers: dict[uuid.UUID, int] = {}
    for case_id in ids:
        held = session.identity_map.get(Session.identity_key(Case, case_id))
        if isinstance(held, Case):
            numbers[case_id] = held.number
    missing = ids - numbers.keys()
    if missing:
        rows = session.execute(select(Case.id, Case.number).where(Case.id.in_(missing)))
        numbers.update({row.id: row.number for row in rows})
    return numbers


def _users(session: Session, actor: Actor, ids: list[uuid.UUID]) -> dict[uuid.UUID, UserRef]:
    if actor.user_id is not None and set(ids) <= {actor.user_id}:
        return {
            actor.user_id: UserRef(
                id=actor.user_id,
                username=actor.username,
                display_name=actor.display_name,
                role=actor.role,
            )
        }
    return org.users_by_ids(session, ids)


def _categories(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, CategoryRef]:
    if not ids:
        return {}
    by_id = categories(session).by_id
    return {i: by_id[i].ref for i in ids if i in by_id}


def _one(
    actor: Actor,
    case: Case,
    categories: dict[uuid.UUID, CategoryRef],
    departments: dict[uuid.UUID, DepartmentRef],
    areas: dict[uuid.UUID, AreaRef],
    users: dict[uuid.UUID, UserRef],
) -> CaseOut:
    state = State(case.state)
    phone = case.reporter_phone if may_see_phone(actor, case) else mask_phone(case.reporter_phone)
    # A citizen following the case their report was merged into sees nothing of its reporter.
    stranger = actor.role == "citizen" and not is_reporter(actor, case)
    return CaseOut(
        id=case.id,
        number=case.number,
        title=case.title,
        description=case.description,
        state=case.state,
        priority=case.priority,
        source=case.source,
        category=categories.get(case.category_id) if case.category_id else None,
        location=CaseLocation(
            lon=case.lon,
            lat=case.lat,
            address=case.address,
            area_path=case.area_path,
            district=_ref(areas, case.district_id),
            street=_ref(areas, case.street_id),
            community=_ref(areas, case.community_id),
            grid=_ref(areas, case.grid_id),
        ),
        department=departments.get(case.department_id) if case.department_id else None,
        assignee=users.get(case.assignee_id) if case.assignee_id else None,
        reporter=users.get(case.reporter_id) if case.reporter_id and not stranger else None,
        reporter_name=None if stranger else case.reporter_name,
        reporter_phone=None if stranger else phone,
        due=Due(
            register_by=case.register_due_at,
            dispatch_by=case.dispatch_due_at,
            handle_by=case.handle_due_at,
            stage=sla_stage(state),
            status=case.sla_status,
        ),
        escalation_level=case.escalation_level,
        urge_count=case.urge_count,
        return_count=case.return_count,
        verify_fail_count=case.verify_fail_count,
        reopen_count=case.reopen_count,
        rating=case.rating,
        rating_comment=case.rating_comment,
        merged_into=case.merged_into_id,
        duplicate_count=case.duplicate_count,
        machine_dispatch=(
            MachineDispatch.model_validate(case.machine_dispatch) if case.machine_dispatch else None
        ),
        photos=[uuid.UUID(p) for p in case.report_photos or []],
        attributes=case.attributes or {},
        allowed_actions=[a.value for a in allowed_actions(state) if actor.can(_perm(a.value))],
        created_at=case.created_at,
        updated_at=case.updated_at,
        registered_at=case.registered_at,
        dispatched_at=case.dispatched_at,
        accepted_at=case.accepted_at,
        handled_at=case.handled_at,
        verified_at=case.verified_at,
        closed_at=case.closed_at,
        evaluated_at=case.evaluated_at,
    )


def _perm(action: str) -> str:
    return TRANSITIONS[Action(action)].permission


def _ref(areas: dict[uuid.UUID, AreaRef], area_id: uuid.UUID | None) -> AreaRef | None:
    return areas.get(area_id) if area_id else None
