"""发现: taking reports in, from citizens, grid workers, hotline operators and integrations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cityops.cases.calendar import working_calendar
from cityops.cases.duplicates import cell_of, find_duplicates
from cityops.cases.models import CASE_NUMBER_SEQ, Case, Counter
from cityops.cases.schemas import CaseIn, CaseOut
from cityops.cases.sla import SlaStatus
from cityops.cases.transitions import (
    attach,
    audit_and_emit,
    category_info,
    claim_uploads,
    limits_for,
    record_step,
)
from cityops.cases.views import present
from cityops.cases.workflow import Action, State
from cityops.core.auth import SYSTEM, Actor
from cityops.core.db.rows import insert_now
from cityops.core.errors import invalid
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.roles import Perm

# Set at construction (not only as INSERT defaults) so the new case can be shown before flush.
_ZERO_COUNTERS: dict[str, Any] = {
    "escalation_level": 0,
    "urge_count": 0,
    "return_count": 0,
    "verify_fail_count": 0,
    "reopen_count": 0,
    "returned_seconds": 0.0,
    "duplicate_count": 0,
}
_SOURCE_BY_ROLE = {"citizen": "citizen", "gridworker": "gridworker", "operator": "hotline"}


def report_case(rt: Runtime, *, actor: Actor, data: CaseIn) -> CaseOut:
    """发现: take a report from a citizen, grid worker, hotline operator or integration."""
    source = _intake_source(actor, data)
    with rt.db.transaction() as tx:
        session = tx.session
        if data.client_ref and (actor.user_id or actor.role == SYSTEM.role):
            existing = session.scalar(
                select(Case).where(
                    # The system's own intake (sensor alarms) reports without a user.
                    Case.reporter_id == actor.user_id
                    if actor.user_id
                    else Case.reporter_id.is_(None),
                    Case.client_ref == data.client_ref,
                )
            )
            if existing is not None:  # a retried submission: answer with the first one
                return present(session, actor, existing)
        category = category_info(session, data.category_code, "category_code")
        location = org.locate(rt, session, data.location.lon, data.location.lat)
        if location is None:
            raise invalid("location", "the point lies outside the city's areas", "outside_city")
        uploads = claim_uploads(rt, session, actor, data.photos, "photos")
        now = rt.clock.now()
        limits = limits_for(category)
        case = Case(
            id=new_id(),
            number=_next_number(session),
            title=_title(data),
            description=data.description,
            category_id=category.id if category else None,
            state=State.reported,
            priority=category.priority if category else "normal",
            source=source,
            lon=data.location.lon,
            lat=data.location.lat,
            cell=cell_of(data.location.lon, data.location.lat),
            address=data.address,
            area_path=location.path,
            district_id=_id(location.district),
            street_id=_id(location.street),
            community_id=_id(location.community),
            grid_id=_id(location.grid),
            reporter_id=actor.user_id,
            reporter_name=(data.reporter.name if data.reporter else None),
            reporter_phone=(data.reporter.phone if data.reporter else None),
            client_ref=data.client_ref,
            attributes=data.attributes,
            report_photos=[str(u.id) for u in uploads],
            register_due_at=working_calendar(rt, session).add_working_hours(
                now, limits.register_hours
            ),
            sla_status=SlaStatus.ok,
            created_at=now,
            updated_at=now,
            **_ZERO_COUNTERS,
        )
        insert_now(session, case)
        event = record_step(
            session, case, actor, Action.report, None, now, None, {"source": source}
        )
        attach(uploads, case, event, "report")
        audit_and_emit(tx, actor, case, Action.report, None, now)
        if category is not None:
            find_duplicates(rt, tx, case, now, new=True)
        return present(session, actor, case)


def _intake_source(actor: Actor, data: CaseIn) -> str:
    source = data.source or _SOURCE_BY_ROLE.get(actor.role, "internal")
    needed = {
        "hotline": Perm.cases_hotline,
        "sensor": Perm.cases_intake_internal,
        "internal": Perm.cases_intake_internal,
        "open311": Perm.cases_report,
    }
    actor.require(needed.get(source, Perm.cases_report))
    if source == "gridworker" and actor.role not in ("gridworker", "admin"):
        raise invalid("source", "only grid workers report with source 'gridworker'")
    if source == "citizen" and actor.role not in ("citizen", "admin") and not actor.via_api_key:
        raise invalid("source", "staff report with their own channel, not 'citizen'")
    if source == "hotline" and not (data.reporter and (data.reporter.phone or data.reporter.name)):
        raise invalid("reporter", "a hotline case needs the caller's name or phone", "required")
    return source


def _title(data: CaseIn) -> str:
    if data.title:
        return data.title
    text = " ".join(data.description.split())
    return text if len(text) <= 40 else text[:39] + "…"


def _id(ref: Any) -> uuid.UUID | None:
    return ref.id if ref is not None else None


def _next_number(session: Session) -> int:
    if session.get_bind().dialect.name == "postgresql":
        return int(session.execute(CASE_NUMBER_SEQ.next_value()).scalar_one())
    # SQLite takes its write lock on this UPDATE, so two writers cannot get the same number.
    value = session.execute(
        update(Counter)
        .where(Counter.name == "case")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    ).scalar()
    if value is None:
        session.add(Counter(name="case", value=1))
        session.flush()
        return 1
    return int(value)
