"""The machinery every case verb runs through: category and time-limit lookups, photo
claiming, the timeline entry, the audit record and event, and ``act`` — one transition in one
transaction (permission, jurisdiction, state, required fields, then the verb's own change)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cityops.cases import events
from cityops.cases.access import check_who
from cityops.cases.calendar import working_calendar
from cityops.cases.directory import CategoryInfo, categories
from cityops.cases.models import Case, CaseEvent, Upload
from cityops.cases.queries import load_case
from cityops.cases.schemas import CaseOut
from cityops.cases.sla import SlaStatus, TimeLimits
from cityops.cases.views import present
from cityops.cases.workflow import (
    TRANSITIONS,
    Action,
    State,
    Transition,
    check_required,
    target_state,
    transition_for,
)
from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.db.engine import Transaction
from cityops.core.db.rows import insert_now
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime

DEFAULT_LIMITS = TimeLimits(register_hours=2, dispatch_hours=2, handle_hours=40)


def category_info(session: Session, code: str | None, field: str) -> CategoryInfo | None:
    if code is None:
        return None
    category = categories(session).by_code.get(code)
    if category is None or not category.active:
        raise invalid(field, text("unknown category {code!r}", code=code), "unknown_category")
    if category.handle_hours is None and category.department_kind is None:
        raise invalid(
            field, text("{code!r} is a category group; choose one of its categories", code=code)
        )
    return category


def category_of(session: Session, case: Case) -> CategoryInfo | None:
    return categories(session).by_id.get(case.category_id) if case.category_id else None


def limits_for(category: CategoryInfo | None) -> TimeLimits:
    if category is None:
        return DEFAULT_LIMITS
    return TimeLimits(
        register_hours=category.register_hours or DEFAULT_LIMITS.register_hours,
        dispatch_hours=category.dispatch_hours or DEFAULT_LIMITS.dispatch_hours,
        handle_hours=category.handle_hours or DEFAULT_LIMITS.handle_hours,
    )


def claim_uploads(
    rt: Runtime, session: Session, actor: Actor, ids: list[uuid.UUID], field: str
) -> list[Upload]:
    if len(ids) > rt.settings.max_photos_per_case:
        raise invalid(
            field, text("at most {count} photos", count=rt.settings.max_photos_per_case), "too_many"
        )
    if len(set(ids)) != len(ids):
        raise invalid(field, "the same photo is listed twice")
    if not ids:
        return []
    uploads = {u.id: u for u in session.scalars(select(Upload).where(Upload.id.in_(ids)))}
    for index, upload_id in enumerate(ids):
        upload = uploads.get(upload_id)
        if upload is None or (upload.uploaded_by != actor.user_id and actor.role != "system"):
            raise invalid(
                f"{field}.{index}",
                text("unknown upload {upload}", upload=upload_id),
                "unknown_upload",
            )
        if upload.case_id is not None:
            raise invalid(f"{field}.{index}", "this photo is already attached to a case")
    return [uploads[i] for i in ids]


def attach(uploads: list[Upload], case: Case, event: CaseEvent, stage: str) -> None:
    for upload in uploads:
        upload.case_id, upload.event_id, upload.stage = case.id, event.id, stage


def record_step(
    session: Session,
    case: Case,
    actor: Actor,
    action: Action,
    from_state: str | None,
    at: datetime,
    note: str | None,
    data: dict[str, Any],
) -> CaseEvent:
    event = CaseEvent(
        id=new_id(),
        case_id=case.id,
        at=at,
        action=action.value,
        from_state=from_state,
        to_state=case.state,
        actor_id=actor.user_id,
        actor_name=actor.username,
        actor_role=actor.role,
        note=note,
        data=data,
    )
    insert_now(session, event)
    return event


def audit_and_emit(
    tx: Transaction,
    actor: Actor,
    case: Case,
    action: Action,
    from_state: str | None,
    at: datetime,
    before: dict[str, Any] | None = None,
) -> None:
    after = snapshot(case)
    record(
        tx.session,
        actor=actor,
        action=events.case_tag(action.value),
        subject_type="case",
        subject_id=case.id,
        at=at,
        before=before,
        after=after,
    )
    tx.emit(changed_event(tx.session, case, action, from_state))


def changed_event(
    session: Session, case: Case, action: Action, from_state: str | None
) -> events.CaseChanged:
    """The event announcing that ``case`` moved (or was touched) by ``action``."""
    category = category_of(session, case)
    return events.CaseChanged(
        case_id=case.id,
        number=case.number,
        action=action.value,
        from_state=from_state,
        to_state=case.state,
        department_id=case.department_id,
        area_path=case.area_path,
        lon=case.lon,
        lat=case.lat,
        category_code=category.code if category else None,
        sla_status=case.sla_status,
        title=case.title,
        description=case.description,
    )


def snapshot(case: Case) -> dict[str, Any]:
    return {
        "state": case.state,
        "department_id": str(case.department_id or "") or None,
        "category_id": str(case.category_id or "") or None,
        "priority": case.priority,
        "sla_status": case.sla_status,
        "escalation_level": case.escalation_level,
        "assignee_id": str(case.assignee_id or "") or None,
        "rating": case.rating,
        "merged_into_id": str(case.merged_into_id or "") or None,
    }


Apply = Callable[[Transaction, Case, datetime], tuple[str | None, dict[str, Any]]]


def act(
    rt: Runtime,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    action: Action,
    values: dict[str, Any],
    apply: Apply,
    passed: bool | None = None,
    client_ref: str | None = None,
) -> CaseOut:
    """Run one transition: permission, jurisdiction, state, required fields, then ``apply``.

    With a ``client_ref`` (a phone's reference for one command) a replay of a command this
    actor already made on this case answers the case as it stands instead of acting twice.
    """
    transition = transition_of(action)
    actor.require(transition.permission)
    with rt.db.transaction() as tx:
        case = load_case(tx.session, case_id, for_update=True)
        check_who(actor, case, transition.who)
        if client_ref and already_done(tx.session, case, actor, action, client_ref, passed):
            return present(tx.session, actor, case)
        transition = transition_for(action, State(case.state))
        check_required(transition, values)
        before, from_state, now = snapshot(case), case.state, rt.clock.now()
        note, data = apply(tx, case, now)
        case.state = target_state(transition, State(case.state), passed=passed)
        case.updated_at = now
        restart_clock(rt, tx.session, case, from_state, now, action)
        uploads = data.pop("_uploads", [])
        if client_ref and actor.user_id:
            data["client_ref"] = client_ref
        event = record_step(tx.session, case, actor, action, from_state, now, note, data)
        for upload_ids, stage in uploads:
            attach(claim_uploads(rt, tx.session, actor, upload_ids, "photos"), case, event, stage)
        audit_and_emit(tx, actor, case, action, from_state, now, before)
        return present(tx.session, actor, case)


def already_done(
    session: Session,
    case: Case,
    actor: Actor,
    action: Action,
    client_ref: str,
    passed: bool | None,
) -> bool:
    """Has this actor already made the command ``client_ref`` on this case?

    The reference names one command: reusing it for another one (a different action, or a
    verification with the other outcome) is refused rather than silently answered.
    """
    if actor.user_id is None:
        return False
    rows = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.actor_id == actor.user_id)
    )
    earlier = next((e for e in rows if (e.data or {}).get("client_ref") == client_ref), None)
    if earlier is None:
        return False
    if earlier.action != action.value or (earlier.data or {}).get("passed") != passed:
        raise invalid("client_ref", "this reference was already used for another command", "reused")
    return True


def transition_of(action: Action) -> Transition:
    return TRANSITIONS[action]


def restart_clock(
    rt: Runtime, session: Session, case: Case, from_state: str, now: datetime, action: Action
) -> None:
    """Set the due time of the stage the case entered, or of the new department on a
    reassignment; leave it when the stage is unchanged (urge, escalate and assign must not
    give the department more time nor undo an escalation)."""
    calendar = working_calendar(rt, session)
    limits = limits_for(category_of(session, case))
    entered = case.state != from_state
    if (entered and case.state == State.registered) or (entered and case.state == State.returned):
        case.dispatch_due_at = calendar.add_working_hours(now, limits.dispatch_hours)
    elif case.state == State.dispatched and (entered or action is Action.reassign):
        case.handle_due_at = calendar.add_working_hours(now, limits.handle_hours)
    else:
        return
    case.sla_status = SlaStatus.ok
    case.escalation_level = 0 if case.state == State.dispatched else case.escalation_level
