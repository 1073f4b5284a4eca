"""The alarms module's source for the live feed: the alarms' history (``alarms_events``).

Every committed change of an alarm's state writes one history entry in the same transaction
(raised, escalated, acknowledged, cleared, its case linked) and entries are never updated, so
the history is the change log the feed reads, exactly as the cases timeline is. An entry
becomes one ``alarm`` event: the step and the alarm as it is now (what the map and the feed
show), visible to whoever may read the alarm (``access.can_read``). Repeats (a new reading of a
standing alarm) are not steps: they would flood the feed; the screen reads values elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from cityops.alarms.access import can_read
from cityops.alarms.models import Alarm, AlarmEvent
from cityops.core.auth import Actor
from cityops.core.live import LiveEvent
from cityops.core.runtime import Runtime

KIND = "alarm"


class AlarmFeed:
    """Reads new history entries with the alarm they belong to."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def ids_after(self, after: uuid.UUID, limit: int) -> list[uuid.UUID]:
        with self.rt.db.read() as session:
            query = (
                select(AlarmEvent.id)
                .where(AlarmEvent.id > after)
                .order_by(AlarmEvent.id)
                .limit(limit)
            )
            return list(session.scalars(query))

    def load(self, ids: Sequence[uuid.UUID]) -> list[LiveEvent]:
        if not ids:
            return []
        with self.rt.db.read() as session:
            rows = session.execute(
                select(AlarmEvent, Alarm)
                .join(Alarm, Alarm.id == AlarmEvent.alarm_id)
                .where(AlarmEvent.id.in_(ids))
                .order_by(AlarmEvent.id)
            ).all()
            return [_event(step, alarm) for step, alarm in rows]


def _event(step: AlarmEvent, alarm: Alarm) -> LiveEvent:
    scope = _Scope(alarm.area_path, alarm.department_id)
    data = {
        "id": str(step.id),
        "at": step.at.isoformat(),
        "action": step.action,
        "from_state": step.from_state,
        "to_state": step.to_state,
        "alarm": {
            "id": str(alarm.id),
            "state": alarm.state,
            "severity": alarm.severity,
            "rule_code": alarm.rule_code,
            "kind": alarm.kind,
            "metric": alarm.metric,
            "device_id": alarm.device_id,
            "device_type": alarm.device_type,
            "device_name": alarm.device_name,
            "lon": alarm.lon,
            "lat": alarm.lat,
            "department_code": alarm.department_code,
            "last_value": alarm.last_value,
            "peak_value": alarm.peak_value,
            "count": alarm.count,
            "raised_at": alarm.raised_at.isoformat(),
            "case_id": str(alarm.case_id) if alarm.case_id else None,
        },
    }
    return LiveEvent(id=step.id, kind=KIND, data=data, visible=scope.readable_by)


class _Scope:
    """The columns of an alarm that decide who may read it, kept after its session closed."""

    __slots__ = ("area_path", "department_id")

    def __init__(self, area_path: str | None, department_id: uuid.UUID | None) -> None:
        self.area_path = area_path
        self.department_id = department_id

    def readable_by(self, actor: Actor) -> bool:
        return can_read(actor, self)
