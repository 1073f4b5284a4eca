"""The machinery every alarm change runs through: the history entry, the audit record and the
event, and the changes themselves (raise, repeat, escalate, end). Callers own the transaction.

Repeats (``update``) are not audited: they are not state changes, and a gauge reporting every
few seconds would flood the trail; the alarm keeps their count, last value, peak and a sample.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cityops.alarms import events
from cityops.alarms.devices import DeviceInfo
from cityops.alarms.models import Alarm, AlarmEvent, AlarmRule
from cityops.alarms.rules import Outcome, Rule, Severity, more_extreme
from cityops.alarms.workflow import Action, State, target_state, transition_for
from cityops.core.audit.service import record
from cityops.core.auth import SYSTEM, Actor
from cityops.core.db.engine import Transaction
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.org import service as org

# The readings an alarm keeps: the first few (what raised it) and the most recent ones.
READINGS_FIRST = 5
READINGS_MAX = 50


@dataclass(frozen=True)
class DeviceFacts:
    """A device as an alarm records it: the directory's facts plus where they fall."""

    info: DeviceInfo
    area_path: str | None
    department_id: uuid.UUID | None


def facts_for(rt: Runtime, session: Session, info: DeviceInfo) -> DeviceFacts:
    """Locate a device in the city's areas and its owning department."""
    location = org.locate(rt, session, info.lon, info.lat)
    department = (
        org.get_department_by_code(session, info.department_code) if info.department_code else None
    )
    return DeviceFacts(
        info, location.path if location else None, department.id if department else None
    )


def info_json(info: DeviceInfo) -> dict[str, Any]:
    return {
        "device_id": info.device_id,
        "type": info.type,
        "lon": info.lon,
        "lat": info.lat,
        "department_code": info.department_code,
        "name": info.name,
    }


def info_from_json(data: dict[str, Any]) -> DeviceInfo:
    return DeviceInfo(
        device_id=data["device_id"],
        type=data["type"],
        lon=float(data["lon"]),
        lat=float(data["lat"]),
        department_code=data.get("department_code"),
        name=data.get("name") or "",
    )


def open_key(device_id: str, rule_id: uuid.UUID) -> str:
    return f"{device_id}|{rule_id}"


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _reading(outcome: Outcome) -> dict[str, Any]:
    return {"ts": _at(outcome.ts).isoformat(), "value": outcome.value, "reading": outcome.reading}


def _keep(readings: list[Any], outcome: Outcome) -> list[Any]:
    kept = [*readings, _reading(outcome)]
    if len(kept) > READINGS_MAX:
        kept = kept[:READINGS_FIRST] + kept[-(READINGS_MAX - READINGS_FIRST) :]
    return kept


def _peak(rule: Rule, alarm: Alarm, value: float | None) -> float | None:
    if value is None:
        return alarm.peak_value
    if alarm.peak_value is None or more_extreme(rule, value, alarm.peak_value):
        return value
    return alarm.peak_value


def raise_alarm(
    tx: Transaction, rule: AlarmRule, device: DeviceFacts, outcome: Outcome, now: datetime
) -> Alarm:
    """A new open alarm for the device and rule."""
    transition_for(Action.raise_, None)
    info = device.info
    alarm = Alarm(
        id=new_id(),
        open_key=open_key(info.device_id, rule.id),
        rule_id=rule.id,
        rule_code=rule.code,
        kind=rule.kind,
        metric=rule.metric,
        device_id=info.device_id,
        device_type=info.type,
        device_name=info.name,
        lon=info.lon,
        lat=info.lat,
        area_path=device.area_path,
        department_code=info.department_code,
        department_id=device.department_id,
        state=State.active,
        severity=outcome.severity,
        severity_rank=outcome.severity.rank,
        raised_at=_at(outcome.ts),
        last_at=_at(outcome.ts),
        first_value=outcome.value,
        last_value=outcome.value,
        peak_value=outcome.value,
        count=1,
        readings=[_reading(outcome)],
        case_pending=False,
        version=1,
        created_at=now,
        updated_at=now,
    )
    tx.session.add(alarm)
    step(tx, alarm, SYSTEM, Action.raise_, None, now, data={"value": outcome.value})
    return alarm


def repeat(tx: Transaction, rule: Rule, alarm: Alarm, outcome: Outcome, now: datetime) -> None:
    """The condition holds still: count, last value, peak, the sample; escalate if higher."""
    alarm.count += 1
    alarm.last_value = outcome.value
    alarm.peak_value = _peak(rule, alarm, outcome.value)
    alarm.last_at = max(alarm.last_at, _at(outcome.ts))
    alarm.readings = _keep(list(alarm.readings), outcome)
    alarm.updated_at = now
    if outcome.severity.rank > alarm.severity_rank:
        state = State(alarm.state)
        alarm.severity, alarm.severity_rank = outcome.severity, outcome.severity.rank
        data = {"value": outcome.value, "severity": outcome.severity.value}
        step(tx, alarm, SYSTEM, Action.escalate, state, now, data=data)


def end(
    tx: Transaction,
    alarm: Alarm,
    actor: Actor,
    action: Action,
    now: datetime,
    *,
    note: str | None = None,
    outcome: Outcome | None = None,
) -> None:
    """Clear the alarm: its condition ended (``outcome``: the reading that ended it) or a user
    cleared it by hand."""
    state = State(alarm.state)
    transition_for(action, state)
    if outcome is not None:
        alarm.readings = _keep(list(alarm.readings), outcome)
        alarm.last_at = max(alarm.last_at, _at(outcome.ts))
    alarm.cleared_at = _at(outcome.ts) if outcome is not None else now
    alarm.cleared_by = actor.display_name or actor.username
    alarm.clear_note = note
    alarm.open_key = None
    alarm.updated_at = now
    value = outcome.value if outcome is not None else None
    step(tx, alarm, actor, action, state, now, note=note, data={"value": value})


def step(
    tx: Transaction,
    alarm: Alarm,
    actor: Actor,
    action: Action,
    from_state: State | None,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Move the alarm by ``action`` and record it: history entry, audit record, event."""
    transition = transition_for(action, from_state)
    to_state = target_state(transition, from_state)
    alarm.state = to_state
    tx.session.add(
        AlarmEvent(
            id=new_id(),
            alarm_id=alarm.id,
            at=now,
            action=action.value,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            severity=alarm.severity,
            actor_id=actor.user_id,
            actor_name=actor.display_name or actor.username,
            actor_role=actor.role,
            note=note,
            data=data or {},
        )
    )
    record(
        tx.session,
        actor=actor,
        action=events.alarm_tag(action.value),
        subject_type="alarm",
        subject_id=alarm.id,
        at=now,
        before={"state": from_state.value if from_state else None},
        after={"state": to_state.value, "severity": alarm.severity, **(data or {})},
    )
    emit(tx, alarm, action)


def emit(tx: Transaction, alarm: Alarm, action: Action) -> None:
    """Queue the alarm's event for after the commit."""
    base: dict[str, Any] = {
        "alarm_id": alarm.id,
        "device_id": alarm.device_id,
        "rule_code": alarm.rule_code,
        "state": alarm.state,
        "severity": alarm.severity,
        "area_path": alarm.area_path,
        "department_code": alarm.department_code,
    }
    if action is Action.raise_:
        tx.emit(events.AlarmRaised(**base, value=alarm.last_value))
    elif alarm.state == State.cleared and action in (Action.clear, Action.condition_ended):
        tx.emit(events.AlarmCleared(**base, action=action.value))
    else:
        tx.emit(
            events.AlarmUpdated(
                **base,
                action=action.value,
                count=alarm.count,
                value=alarm.last_value,
                case_id=alarm.case_id,
            )
        )


def wants_case(rule: AlarmRule, alarm: Alarm) -> bool:
    """Whether the rule opens a case for an alarm this severe that has none yet."""
    if rule.case_severity is None or rule.case_category is None:
        return False
    if alarm.case_id is not None or alarm.case_error is not None:  # linked, or refused once
        return False
    return alarm.severity_rank >= Severity(rule.case_severity).rank
