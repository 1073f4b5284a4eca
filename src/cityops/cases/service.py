"""Verbs of the case loop. Each checks permission first, owns its transaction, writes the
timeline and the audit record, and publishes its event after commit (see ``transitions.act``).

Intake is in ``intake.py``, reading (get, list, timeline) in ``queries.py``, category and
calendar administration in ``categories.py``; all are re-exported here, the module's one
public surface of verbs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from cityops.cases.access import is_reporter
from cityops.cases.calendar import calendar_days
from cityops.cases.categories import (
    category_snapshot,
    clear_route,
    create_category,
    import_default_catalogue,
    list_categories,
    list_routes,
    set_calendar_day,
    set_route,
    update_category,
)
from cityops.cases.dispatch import suggest_department
from cityops.cases.duplicates import (
    check_duplicates,
    dismiss_duplicate,
    list_duplicates,
    mark_merged,
)
from cityops.cases.intake import report_case
from cityops.cases.models import Case
from cityops.cases.queries import (
    can_read_case,
    get_case,
    get_cases,
    get_upload,
    list_cases,
    load_case,
    route_for,
    states_of,
    suggest_for_case,
    timeline,
    timelines,
    training_texts,
)
from cityops.cases.schemas import CaseOut
from cityops.cases.transitions import act, category_info, category_of, record_step
from cityops.cases.workflow import (
    OPEN_STATES,
    Action,
    State,
)
from cityops.core.auth import Actor
from cityops.core.db.engine import Transaction
from cityops.core.errors import Conflict, PermissionDenied, invalid
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import service as org

__all__ = [
    "accept_case",
    "assign_case",
    "calendar_days",
    "can_read_case",
    "cancel_case",
    "category_snapshot",
    "check_duplicates",
    "clear_route",
    "close_case",
    "create_category",
    "dismiss_duplicate",
    "dispatch_case",
    "escalate_case",
    "evaluate_case",
    "get_case",
    "get_cases",
    "get_upload",
    "handle_case",
    "import_default_catalogue",
    "list_cases",
    "list_categories",
    "list_duplicates",
    "list_routes",
    "load_case",
    "merge_case",
    "reassign_case",
    "recall_case",
    "register_case",
    "reject_case",
    "reopen_case",
    "report_case",
    "return_case",
    "route_for",
    "set_calendar_day",
    "set_route",
    "states_of",
    "suggest_for_case",
    "timeline",
    "timelines",
    "training_texts",
    "update_category",
    "urge_case",
    "verify_case",
]


# Set at construction (not only as INSERT defaults) so the new case can be shown before flush.
def register_case(
    rt: Runtime,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    note: str | None = None,
    category_code: str | None = None,
    priority: str | None = None,
    dispatch: bool = False,
) -> CaseOut:
    """立案: accept the report as a case (optionally correcting its category and priority)."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        data: dict[str, Any] = {}
        if category_code:
            category = category_info(tx.session, category_code, "category_code")
            assert category is not None
            if category.id != case.category_id:
                data["category_changed_from"] = str(case.category_id) if case.category_id else None
                case.category_id, case.priority = category.id, category.priority
        if case.category_id is None:
            raise invalid("category_code", "choose a category to register the case", "required")
        if priority:
            case.priority = priority
        case.registered_at = now
        data["category_code"] = _code_of(tx, case)
        return note, data

    out = act(rt, actor=actor, case_id=case_id, action=Action.register, values={}, apply=apply)
    if category_code:
        out = check_duplicates(rt, actor=actor, case_id=case_id)
    if dispatch and out.state == State.registered:
        return dispatch_case(rt, actor=actor, case_id=case_id)
    return out


def reject_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """不予立案: reject the report with a reason."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.closed_at = now
        return reason, {}

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.reject,
        values={"reason": reason},
        apply=apply,
    )


def _department_for(
    tx: Transaction, case: Case, department_code: str | None, field: str
) -> tuple[uuid.UUID, str]:
    if department_code:
        found = org.get_department_by_code(tx.session, department_code)
        if found is None or not found.active:
            raise invalid(
                field,
                text("unknown department {code!r}", code=department_code),
                "unknown_department",
            )
        path = org.department_area_path(tx.session, found.id)
        if path is None or not (case.area_path + "/").startswith(path + "/"):
            raise invalid(
                field,
                text("{code} has no jurisdiction over the case's area", code=department_code),
                "out_of_jurisdiction",
            )
        return found.id, "manual"
    category = category_of(tx.session, case)
    suggestion = suggest_department(tx.session, category, case.area_path)
    if suggestion.department is None:
        raise invalid(
            field,
            text(
                "no routing rule applies ({explanation}); choose a department",
                explanation=suggestion.explanation,
            ),
            "no_route",
        )
    return suggestion.department.id, suggestion.rule


def dispatch_case(
    rt: Runtime,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    department_code: str | None = None,
    note: str | None = None,
    category_code: str | None = None,
    machine: dict[str, Any] | None = None,
) -> CaseOut:
    """派单: send the case to the responsible department (by the rules, or by hand).

    ``category_code`` corrects the category on the way; ``machine`` (``model``,
    ``confidence``, ``label``) marks a dispatch made by the classifier, not by a person.
    """

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        data: dict[str, Any] = {}
        if category_code:
            category = category_info(tx.session, category_code, "category_code")
            assert category is not None
            if category.id != case.category_id:
                data["category_changed_from"] = _code_of(tx, case)
                case.category_id, case.priority = category.id, category.priority
        department_id, rule = _department_for(tx, case, department_code, "department_code")
        # Time back at dispatch after a return or a recall is not the department's.
        back = case.state in (State.returned, State.registered)
        if back and case.returned_at is not None:
            case.returned_seconds += (now - case.returned_at).total_seconds()
        case.department_id, case.assignee_id = department_id, None
        case.dispatched_at = now
        case.first_dispatched_at = case.first_dispatched_at or now
        case.machine_dispatch = dict(machine) if machine else None
        data.update(department_id=str(department_id), rule=rule, category_code=_code_of(tx, case))
        if machine:
            data["machine"] = dict(machine)
        return note, data

    return act(rt, actor=actor, case_id=case_id, action=Action.dispatch, values={}, apply=apply)


def _code_of(tx: Transaction, case: Case) -> str | None:
    category = category_of(tx.session, case)
    return category.code if category else None


def recall_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """撤回派单: take a dispatched case (not yet accepted) back to dispatch, e.g. to correct
    the machine's category or department; the timeline keeps the recalled dispatch."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        data: dict[str, Any] = {"department_id": str(case.department_id)}
        if case.machine_dispatch:
            data["machine"] = dict(case.machine_dispatch)
        case.department_id, case.assignee_id, case.machine_dispatch = None, None, None
        # Like a return, the dispatch stage starts afresh (SLA scan, handling-time figures).
        case.dispatched_at, case.returned_at = None, now
        return reason, data

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.recall,
        values={"reason": reason},
        apply=apply,
    )


def return_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """退回: the department sends a wrongly dispatched case back to dispatch."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        data: dict[str, Any] = {"department_id": str(case.department_id)}
        if case.machine_dispatch:
            data["machine"] = dict(case.machine_dispatch)
        case.department_id, case.assignee_id, case.machine_dispatch = None, None, None
        case.returned_at, case.return_count = now, case.return_count + 1
        return reason, data

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.return_,
        values={"reason": reason},
        apply=apply,
    )


def accept_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, note: str | None = None
) -> CaseOut:
    """签收: the department takes the case on."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.accepted_at = now
        if actor.role == "handler":
            case.assignee_id = case.assignee_id or actor.user_id
        return note, {}

    return act(rt, actor=actor, case_id=case_id, action=Action.accept, values={}, apply=apply)


def handle_case(
    rt: Runtime,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    note: str,
    photos: list[uuid.UUID] | None = None,
) -> CaseOut:
    """处置: the department reports the result with a note and photos."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.handled_at = now
        return note, {"_uploads": [(list(photos or []), "result")]}

    return act(
        rt, actor=actor, case_id=case_id, action=Action.handle, values={"note": note}, apply=apply
    )


def verify_case(
    rt: Runtime,
    *,
    actor: Actor,
    case_id: uuid.UUID,
    passed: bool,
    note: str | None = None,
    photos: list[uuid.UUID] | None = None,
    client_ref: str | None = None,
) -> CaseOut:
    """核查: on-site check; a failure sends the case back to the department with a reason.

    ``client_ref`` makes the command safe to resend (a phone's offline queue): a replay by the
    same user answers the case as it stands instead of a second verification or a conflict.
    """

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        if passed:
            case.verified_at = now
        else:
            case.verify_fail_count += 1
        return note, {"passed": passed, "_uploads": [(list(photos or []), "verify")]}

    values = {"passed": passed} if passed else {"reason": note}
    if not passed and not (note and note.strip()):
        raise invalid("note", "a failed verification needs a reason", "required")
    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.verify,
        values=values,
        apply=apply,
        passed=passed,
        client_ref=client_ref,
    )


def close_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, note: str | None = None
) -> CaseOut:
    """结案: close a verified case."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.closed_at = now
        return note, {}

    return act(rt, actor=actor, case_id=case_id, action=Action.close, values={}, apply=apply)


def evaluate_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, rating: int, comment: str | None = None
) -> CaseOut:
    """评价: the reporter rates the result from 1 to 5."""
    if not 1 <= rating <= 5:
        raise invalid("rating", "must be between 1 and 5", "out_of_range")

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.rating, case.rating_comment, case.evaluated_at = rating, comment, now
        return comment, {"rating": rating}

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.evaluate,
        values={"rating": rating},
        apply=apply,
    )


def reopen_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """重新派单: reopen a closed case to the same department."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        if case.department_id is None:
            raise Conflict("the case has no department to reopen it to")
        case.reopen_count += 1
        case.closed_at = case.verified_at = case.handled_at = case.evaluated_at = None
        # The earlier rating stays on the timeline; the reopened case is rated afresh.
        case.rating = case.rating_comment = None
        case.dispatched_at = now
        return reason, {}

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.reopen,
        values={"reason": reason},
        apply=apply,
    )


def reassign_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, department_code: str, reason: str
) -> CaseOut:
    """改派: move the case to another department."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        department_id, _ = _department_for(tx, case, department_code, "department_code")
        if department_id == case.department_id:
            raise invalid("department_code", "the case is already with this department")
        data = {"from_department_id": str(case.department_id), "department_id": str(department_id)}
        case.department_id, case.assignee_id, case.dispatched_at = department_id, None, now
        case.machine_dispatch = None
        case.accepted_at = None
        return reason, data

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.reassign,
        values={"reason": reason},
        apply=apply,
    )


def assign_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, username: str, note: str | None = None
) -> CaseOut:
    """Hand the case to another handler of the same department."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        assignee = org.get_user_by_username(tx.session, username)
        if assignee is None or assignee.role != "handler" or not assignee.active:
            raise invalid("username", text("unknown handler {username!r}", username=username))
        if assignee.department_id != case.department_id:
            raise invalid(
                "username", text("{username} is not in the case's department", username=username)
            )
        case.assignee_id = assignee.id
        return note, {"assignee": username}

    return act(rt, actor=actor, case_id=case_id, action=Action.assign, values={}, apply=apply)


def merge_case(
    rt: Runtime, *, actor: Actor, case_id: uuid.UUID, into: uuid.UUID, note: str | None = None
) -> CaseOut:
    """合并: a duplicate report joins the open case about the same problem."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        if into == case.id:
            raise invalid("into", "a case cannot be merged into itself")
        target = tx.session.get(Case, into)
        if target is None or not can_read_case(tx.session, actor, target):
            raise invalid("into", text("unknown case {case}", case=into), "unknown_case")
        if State(target.state) not in _MERGE_TARGETS:
            raise invalid(
                "into",
                text(
                    "case {number} is {state}, not open", number=target.number, state=target.state
                ),
                "not_open",
            )
        case.merged_into_id, case.closed_at = target.id, now
        target.duplicate_count += 1
        mark_merged(tx.session, case.id, target.id, now)
        record_step(
            tx.session,
            target,
            actor,
            Action.merge,
            target.state,
            now,
            note,
            {"merged_case_id": str(case.id), "merged_case_number": case.number},
        )
        return note, {"into": str(target.id), "into_number": target.number}

    return act(rt, actor=actor, case_id=case_id, action=Action.merge, values={}, apply=apply)


# Duplicates join a case that is still being worked on, not one awaiting closure.
_MERGE_TARGETS = OPEN_STATES - {State.verified}


def cancel_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """撤销: withdraw a case (a citizen only their own, before it is registered)."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        if actor.role == "citizen" and (not is_reporter(actor, case) or case.state != "reported"):
            raise PermissionDenied("a citizen may withdraw only their own unregistered report")
        case.closed_at = now
        return reason, {}

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.cancel,
        values={"reason": reason},
        apply=apply,
    )


def urge_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, note: str) -> CaseOut:
    """督办: press the current owner to act."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.urge_count += 1
        return note, {"department_id": str(case.department_id) if case.department_id else None}

    return act(
        rt, actor=actor, case_id=case_id, action=Action.urge, values={"note": note}, apply=apply
    )


def escalate_case(rt: Runtime, *, actor: Actor, case_id: uuid.UUID, reason: str) -> CaseOut:
    """升级: raise the case to the department head / operations centre."""

    def apply(tx: Transaction, case: Case, now: datetime) -> tuple[str | None, dict[str, Any]]:
        case.escalation_level += 1
        return reason, {"level": case.escalation_level}

    return act(
        rt,
        actor=actor,
        case_id=case_id,
        action=Action.escalate,
        values={"reason": reason},
        apply=apply,
    )
