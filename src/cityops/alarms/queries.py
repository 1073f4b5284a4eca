"""Reading alarms: one page of a filtered list, one alarm with its readings and history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from cityops.alarms.access import check_readable
from cityops.alarms.models import Alarm, AlarmEvent, AlarmRule
from cityops.alarms.schemas import (
    AlarmDetail,
    AlarmEventOut,
    AlarmFilter,
    AlarmOut,
    CaseLink,
    ReadingOut,
)
from cityops.alarms.workflow import State, allowed_actions
from cityops.core.auth import Actor
from cityops.core.errors import NotFound, invalid
from cityops.core.pagination import Page, PageParams, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

SORTS = {
    "raised_at": Alarm.raised_at,
    "last_at": Alarm.last_at,
    "severity": Alarm.severity_rank,
    "device_id": Alarm.device_id,
    "state": Alarm.state,
    "count": Alarm.count,
    "id": Alarm.id,
}
DEFAULT_SORT = "-raised_at,-id"


def scope_alarms(query: Select[Any], actor: Actor) -> Select[Any]:
    """Only the alarms the actor may see (the rule of ``access.can_read`` in SQL)."""
    if actor.role in ("admin", "system"):
        return query
    if actor.role == "handler":
        if actor.department_id is None:
            return query.where(false())
        return query.where(Alarm.department_id == actor.department_id)
    if actor.area_path is None:
        return query
    return query.where(
        or_(Alarm.area_path == actor.area_path, Alarm.area_path.startswith(actor.area_path + "/"))
    )


def list_alarms(
    rt: Runtime, *, actor: Actor, filters: AlarmFilter, params: PageParams
) -> Page[AlarmOut]:
    """One page of the alarms the actor may see, newest first unless sorted otherwise."""
    actor.require(Perm.alarms_read)
    if filters.since and filters.until and filters.until < filters.since:
        raise invalid("until", "must not be before since")
    with rt.db.read() as session:
        query = scope_alarms(_filtered(select(Alarm), filters), actor)
        query = order_by_sort(query, params.sort, SORTS, DEFAULT_SORT)
        rows, total = paginate(session, query, params)
        items = present_many(session, actor, list(rows))
        return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def _filtered(query: Select[Any], f: AlarmFilter) -> Select[Any]:
    if f.state:
        query = query.where(Alarm.state.in_(f.state))
    if f.severity:
        query = query.where(Alarm.severity.in_(f.severity))
    if f.device_id:
        query = query.where(Alarm.device_id == f.device_id)
    if f.device_type:
        query = query.where(Alarm.device_type == f.device_type)
    if f.department:
        query = query.where(Alarm.department_code == f.department)
    if f.rule:
        query = query.where(Alarm.rule_code == f.rule)
    if f.since:
        query = query.where(Alarm.raised_at >= f.since)
    if f.until:
        query = query.where(Alarm.raised_at < f.until)
    return query


def get_alarm(rt: Runtime, *, actor: Actor, alarm_id: uuid.UUID) -> AlarmDetail:
    """One alarm with its readings and its history, oldest step first."""
    with rt.db.read() as session:
        alarm = load_alarm(session, alarm_id)
        check_readable(actor, alarm)
        return detail(session, actor, alarm)


def load_alarm(session: Session, alarm_id: uuid.UUID, *, lock: bool = False) -> Alarm:
    alarm = session.get(Alarm, alarm_id, with_for_update=lock)
    if alarm is None:
        raise NotFound("alarm", alarm_id)
    return alarm


def detail(session: Session, actor: Actor, alarm: Alarm) -> AlarmDetail:
    [out] = present_many(session, actor, [alarm])
    steps = session.scalars(
        select(AlarmEvent).where(AlarmEvent.alarm_id == alarm.id).order_by(AlarmEvent.id)
    )
    return AlarmDetail(
        **out.model_dump(),
        readings=[ReadingOut.model_validate(r) for r in alarm.readings],
        history=[AlarmEventOut.model_validate(s) for s in steps],
    )


def present_many(session: Session, actor: Actor, alarms: Sequence[Alarm]) -> list[AlarmOut]:
    """Alarms as the API shows them (one query for their rules' names)."""
    rule_ids = {a.rule_id for a in alarms}
    names: dict[uuid.UUID, tuple[str, str]] = {}
    if rule_ids:
        query = select(AlarmRule.id, AlarmRule.name_zh, AlarmRule.name_en).where(
            AlarmRule.id.in_(rule_ids)
        )
        names = {i: (zh, en) for i, zh, en in session.execute(query)}
    return [_out(actor, a, names.get(a.rule_id, (a.rule_code, a.rule_code))) for a in alarms]


def _out(actor: Actor, alarm: Alarm, names: tuple[str, str]) -> AlarmOut:
    return AlarmOut(
        id=alarm.id,
        rule_code=alarm.rule_code,
        rule_name_zh=names[0],
        rule_name_en=names[1],
        kind=alarm.kind,
        metric=alarm.metric,
        device_id=alarm.device_id,
        device_type=alarm.device_type,
        device_name=alarm.device_name,
        lon=alarm.lon,
        lat=alarm.lat,
        area_path=alarm.area_path,
        department_code=alarm.department_code,
        state=alarm.state,
        severity=alarm.severity,
        raised_at=alarm.raised_at,
        last_at=alarm.last_at,
        first_value=alarm.first_value,
        last_value=alarm.last_value,
        peak_value=alarm.peak_value,
        count=alarm.count,
        acknowledged_at=alarm.acknowledged_at,
        acknowledged_by=alarm.acknowledged_by,
        cleared_at=alarm.cleared_at,
        cleared_by=alarm.cleared_by,
        clear_note=alarm.clear_note,
        case=CaseLink(id=alarm.case_id, pending=alarm.case_pending, error=alarm.case_error),
        allowed_actions=[a.value for a in allowed_actions(State(alarm.state), actor)],
    )


class OpenAlarms(BaseModel):
    """The alarms not yet cleared (active or acknowledged) that the actor may see: how many,
    and the highest severity of each device that has one."""

    count: int
    devices: dict[str, str]


def open_alarms(rt: Runtime, *, actor: Actor) -> OpenAlarms:
    """One indexed query (``ix_alarms_state_area``) over the open alarms, a handful even in a
    busy city: the command screen paints its devices' alarm status from it."""
    actor.require(Perm.alarms_read)
    query: Any = select(Alarm.device_id, Alarm.severity, Alarm.severity_rank).where(
        Alarm.state.in_([State.active, State.acknowledged])
    )
    with rt.db.read() as session:
        rows = session.execute(scope_alarms(query, actor)).all()
    worst: dict[str, tuple[int, str]] = {}
    for device_id, severity, rank in rows:
        if device_id not in worst or rank > worst[device_id][0]:
            worst[device_id] = (rank, severity)
    return OpenAlarms(
        count=len(rows), devices={device: s for device, (_, s) in sorted(worst.items())}
    )
