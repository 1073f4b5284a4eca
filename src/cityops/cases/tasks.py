"""Background work of the cases module: the SLA scan (warn, mark overdue, escalate)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from cityops.cases.calendar import working_calendar
from cityops.cases.models import Case
from cityops.cases.sla import SlaStatus, WorkingCalendar, sla_status
from cityops.cases.transitions import audit_and_emit, record_step, snapshot
from cityops.cases.workflow import Action, State, sla_stage
from cityops.core.auth import SYSTEM
from cityops.core.db.engine import Transaction
from cityops.core.runtime import Runtime

_STAGE_STATES = [State.reported, State.registered, State.returned, State.dispatched, State.accepted]
BATCH = 500


def _stage_window(case: Case) -> tuple[datetime | None, datetime | None]:
    stage = sla_stage(State(case.state))
    if stage == "register":
        return case.created_at, case.register_due_at
    if stage == "dispatch":
        return case.returned_at or case.registered_at, case.dispatch_due_at
    if stage == "handle" and case.state != State.handled:
        return case.dispatched_at, case.handle_due_at
    return None, None


def _status_now(case: Case, calendar: WorkingCalendar, now: datetime, ratio: float) -> SlaStatus:
    started, due = _stage_window(case)
    if started is None or due is None:
        return SlaStatus.ok
    return sla_status(
        started_at=started, due_at=due, now=now, calendar=calendar, warning_ratio=ratio
    )


def scan_sla(rt: Runtime) -> dict[str, int]:
    """Mark cases entering warning or overdue; escalate newly overdue ones once.

    Idempotent: a case whose status is unchanged is not touched, so several workers may run it.
    """
    counts = {"warning": 0, "overdue": 0}
    last_id = None
    while True:
        with rt.db.transaction() as tx:
            query = select(Case).where(
                Case.state.in_(_STAGE_STATES), Case.sla_status != SlaStatus.overdue
            )
            if last_id is not None:
                query = query.where(Case.id > last_id)
            rows = tx.session.scalars(query.order_by(Case.id).limit(BATCH)).all()
            if not rows:
                return counts
            now, calendar = rt.clock.now(), working_calendar(rt, tx.session)
            for case in rows:
                status = _status_now(case, calendar, now, rt.settings.sla_warning_ratio)
                if status != case.sla_status:
                    _mark(tx, case, status, now)
                    counts[status.value] = counts.get(status.value, 0) + 1
            last_id = rows[-1].id


def _mark(tx: Transaction, case: Case, status: SlaStatus, now: datetime) -> None:
    before = snapshot(case)
    case.sla_status = status
    action = Action.sla_overdue if status is SlaStatus.overdue else Action.sla_warning
    data: dict[str, Any] = {"stage": sla_stage(State(case.state))}
    if status is SlaStatus.overdue:
        # Overdue cases go up one level: to the department head, then the operations centre.
        case.escalation_level += 1
        data["escalation_level"] = case.escalation_level
    record_step(tx.session, case, SYSTEM, action, case.state, now, None, data)
    audit_and_emit(tx, SYSTEM, case, action, case.state, now, before)


def register_jobs(rt: Runtime) -> None:
    rt.scheduler.every(rt.settings.sla_scan_seconds, "cases.sla_scan", lambda: scan_sla(rt))
