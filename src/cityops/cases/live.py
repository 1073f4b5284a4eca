"""The cases module's source for the live feed: its timeline (``cases_events``).

Every committed change of a case writes one timeline entry in the same transaction (a report,
each step of the loop, the SLA scan's warning and overdue marks), and entries are never
updated, so the timeline is the change log the feed reads. An entry becomes one ``case`` event:
the step (action, states, time) and the case as it is now (what the map and the feed show),
visible to whoever may read the case (``access.can_read``, the rule of the case list).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from cityops.cases.access import can_read
from cityops.cases.directory import categories
from cityops.cases.models import Case, CaseEvent
from cityops.core.auth import Actor
from cityops.core.live import LiveEvent
from cityops.core.runtime import Runtime
from cityops.org import service as org

KIND = "case"
_CLOSED = frozenset({"closed", "evaluated", "rejected", "merged", "cancelled"})


class CaseFeed:
    """Reads new timeline entries with the case they belong to."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def ids_after(self, after: uuid.UUID, limit: int) -> list[uuid.UUID]:
        with self.rt.db.read() as session:
            query = (
                select(CaseEvent.id).where(CaseEvent.id > after).order_by(CaseEvent.id).limit(limit)
            )
            return list(session.scalars(query))

    def load(self, ids: Sequence[uuid.UUID]) -> list[LiveEvent]:
        if not ids:
            return []
        with self.rt.db.read() as session:
            rows = session.execute(
                select(CaseEvent, Case)
                .join(Case, Case.id == CaseEvent.case_id)
                .where(CaseEvent.id.in_(ids))
                .order_by(CaseEvent.id)
            ).all()
            directory = categories(session).by_id
            areas = org.area_refs(session, [c.district_id for _, c in rows if c.district_id])
            return [_event(step, case, directory, areas) for step, case in rows]


def _event(step: CaseEvent, case: Case, directory: Any, areas: dict[uuid.UUID, Any]) -> LiveEvent:
    category = directory.get(case.category_id) if case.category_id else None
    district = areas.get(case.district_id) if case.district_id else None
    scope = _Scope(case.reporter_id, case.department_id, case.area_path)
    data = {
        "id": str(step.id),
        "at": step.at.isoformat(),
        "action": step.action,
        "from_state": step.from_state,
        "to_state": step.to_state,
        "case": {
            "id": str(case.id),
            "number": case.number,
            "title": case.title,
            "state": case.state,
            "sla_status": case.sla_status,
            "closed": case.state in _CLOSED,
            "lon": case.lon,
            "lat": case.lat,
            "category": category.ref.model_dump() if category else None,
            "district": _ref(district),
            "created_at": case.created_at.isoformat(),
        },
    }
    return LiveEvent(id=step.id, kind=KIND, data=data, visible=scope.readable_by)


def _ref(area: Any) -> dict[str, str] | None:
    if area is None:
        return None
    return {"code": area.code, "name_zh": area.name_zh, "name_en": area.name_en}


class _Scope:
    """The columns of a case that decide who may read it, kept after its session closed."""

    __slots__ = ("area_path", "department_id", "reporter_id")

    def __init__(
        self, reporter_id: uuid.UUID | None, department_id: uuid.UUID | None, area_path: str
    ) -> None:
        self.reporter_id = reporter_id
        self.department_id = department_id
        self.area_path = area_path

    def readable_by(self, actor: Actor) -> bool:
        return actor.can("cases.read") and can_read(actor, self)
