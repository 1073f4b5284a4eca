"""Rule administration: rules per device type and per-device overrides (``alarms.manage``),
and turning stored rows into the pure ``rules.Rule`` the evaluation runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cityops.alarms import events, rules
from cityops.alarms.devices import attached
from cityops.alarms.models import Alarm, AlarmRule, AlarmRuleOverride, RuleState
from cityops.alarms.schemas import (
    LevelIn,
    LevelOut,
    OverrideIn,
    OverrideOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
)
from cityops.cases import service as cases
from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.errors import Conflict, FieldError, NotFound, ValidationFailed, duplicate
from cityops.core.i18n import text
from cityops.core.ids import new_id
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

_TUNABLE = ("deadband", "for_seconds", "window_seconds", "silence_seconds")


# --- rows → pure rules -----------------------------------------------------------------------


def levels_of(data: Iterable[dict[str, Any]]) -> tuple[rules.Level, ...]:
    return tuple(
        rules.Level(rules.Severity(item["severity"]), item.get("above"), item.get("below"))
        for item in data
    )


def rule_of(row: AlarmRule) -> rules.Rule:
    return rules.Rule(
        kind=rules.Kind(row.kind),
        metric=row.metric,
        levels=levels_of(row.levels),
        deadband=row.deadband,
        for_seconds=row.for_seconds,
        window_seconds=row.window_seconds,
        silence_seconds=row.silence_seconds,
    )


def override_of(row: AlarmRuleOverride) -> rules.Override:
    return rules.Override(
        enabled=row.enabled,
        levels=levels_of(row.levels) if row.levels is not None else None,
        deadband=row.deadband,
        for_seconds=row.for_seconds,
        window_seconds=row.window_seconds,
        silence_seconds=row.silence_seconds,
    )


def _levels_json(levels: Sequence[LevelIn]) -> list[dict[str, Any]]:
    return [level.model_dump() for level in levels]


# --- validation ------------------------------------------------------------------------------


def _check(rt: Runtime, row: AlarmRule, extra: Sequence[FieldError] = ()) -> None:
    errors = [*extra, *rules.check(rule_of(row))]
    errors += _check_metric(rt, row)
    errors += _check_case(rt, row)
    if errors:
        raise ValidationFailed(*errors)


def _check_metric(rt: Runtime, row: AlarmRule) -> list[FieldError]:
    directory = attached(rt)
    if directory is None:
        return []
    metrics = directory.type_metrics(row.device_type)
    if metrics is None:
        message = text("unknown device type {code!r}", code=row.device_type)
        return [FieldError("device_type", message, "unknown")]
    if row.metric is not None and row.metric not in metrics:
        known = ", ".join(sorted(metrics))
        message = text(
            "{type!r} has no metric {metric!r}; it has: {known}",
            type=row.device_type,
            metric=row.metric,
            known=known,
        )
        return [FieldError("metric", message, "unknown_metric")]
    return []


def _check_case(rt: Runtime, row: AlarmRule) -> list[FieldError]:
    if (row.case_severity is None) != (row.case_category is None):
        missing = "case_category" if row.case_category is None else "case_severity"
        return [FieldError(missing, "give both case_severity and case_category, or neither")]
    if row.case_category is None:
        return []
    leaves = {c.code for c in cases.list_categories(rt) if c.parent_code is not None}
    if row.case_category not in leaves:
        message = text("unknown category {code!r}", code=row.case_category)
        return [FieldError("case_category", message, "unknown_category")]
    return []


def _check_override(row: AlarmRule, override: AlarmRuleOverride) -> None:
    merged = rules.merge(rule_of(row), override_of(override), enabled=True)
    if merged is not None:
        errors = rules.check(merged)
        if errors:
            raise ValidationFailed(*errors)


# --- verbs -----------------------------------------------------------------------------------


def create_rule(rt: Runtime, *, actor: Actor, data: RuleIn) -> RuleOut:
    """Add a rule for every device of a type."""
    actor.require(Perm.alarms_manage)
    now = rt.clock.now()
    row = AlarmRule(
        id=new_id(),
        code=data.code,
        name_zh=data.name_zh,
        name_en=data.name_en,
        device_type=data.device_type,
        kind=data.kind,
        metric=data.metric,
        levels=_levels_json(data.levels or []),
        deadband=data.deadband or 0.0,
        for_seconds=data.for_seconds or 0.0,
        window_seconds=data.window_seconds or 0.0,
        silence_seconds=data.silence_seconds or 0.0,
        case_severity=data.case_severity,
        case_category=data.case_category,
        enabled=data.enabled,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _check(rt, row)
    with rt.db.transaction() as tx:
        if tx.session.scalar(select(AlarmRule.id).where(AlarmRule.code == data.code)):
            raise duplicate("code", text("rule code {code!r} already exists", code=data.code))
        tx.session.add(row)
        _audit(tx.session, actor, events.RULE_CREATED, row, now, None)
        return rule_out(row, 0)


def update_rule(
    rt: Runtime, *, actor: Actor, rule_id: uuid.UUID, data: RuleUpdate, fields: set[str]
) -> RuleOut:
    """Change a rule (``fields``: the names the caller sent; others stay)."""
    actor.require(Perm.alarms_manage)
    with rt.db.transaction() as tx:
        row = _rule(tx.session, rule_id)
        before = _snapshot(row)
        for name in fields:
            value = getattr(data, name)
            if name == "levels":
                value = _levels_json(value or [])
            elif name in _TUNABLE and value is None:
                value = 0.0
            elif name == "enabled" and value is None:
                continue
            setattr(row, name, value)
        _check(rt, row)
        for override in _overrides(tx.session, row.id):
            _check_override(row, override)
        now = rt.clock.now()
        row.updated_at = now
        row.version += 1
        _audit(tx.session, actor, events.RULE_UPDATED, row, now, before)
        return rule_out(row, _override_count(tx.session, row.id))


def delete_rule(rt: Runtime, *, actor: Actor, rule_id: uuid.UUID) -> None:
    """Remove a rule that never raised an alarm (one that did is switched off instead)."""
    actor.require(Perm.alarms_manage)
    with rt.db.transaction() as tx:
        row = _rule(tx.session, rule_id)
        if tx.session.scalar(select(Alarm.id).where(Alarm.rule_id == row.id).limit(1)):
            raise Conflict(
                "the rule has alarms; switch it off (enabled: false) instead", code="rule_in_use"
            )
        before = _snapshot(row)
        for override in _overrides(tx.session, row.id):
            tx.session.delete(override)
        for state in tx.session.scalars(select(RuleState).where(RuleState.rule_id == row.id)):
            tx.session.delete(state)
        tx.session.flush()
        tx.session.delete(row)
        _audit(tx.session, actor, events.RULE_DELETED, row, rt.clock.now(), before, after=False)


def list_rules(rt: Runtime, *, actor: Actor, device_type: str | None = None) -> list[RuleOut]:
    """Every rule (of one device type), by type and code."""
    actor.require(Perm.alarms_read)
    with rt.db.read() as session:
        query = select(AlarmRule).order_by(AlarmRule.device_type, AlarmRule.code)
        if device_type:
            query = query.where(AlarmRule.device_type == device_type)
        rows = session.scalars(query).all()
        counts = dict(
            session.execute(
                select(AlarmRuleOverride.rule_id, func.count()).group_by(AlarmRuleOverride.rule_id)
            ).all()
        )
        return [rule_out(row, counts.get(row.id, 0)) for row in rows]


def get_rule(rt: Runtime, *, actor: Actor, rule_id: uuid.UUID) -> RuleOut:
    actor.require(Perm.alarms_read)
    with rt.db.read() as session:
        row = _rule(session, rule_id)
        return rule_out(row, _override_count(session, row.id))


def set_override(
    rt: Runtime, *, actor: Actor, rule_id: uuid.UUID, device_id: str, data: OverrideIn
) -> OverrideOut:
    """Set (create or replace) one device's override of a rule."""
    actor.require(Perm.alarms_manage)
    with rt.db.transaction() as tx:
        row = _rule(tx.session, rule_id)
        override = tx.session.scalar(
            select(AlarmRuleOverride).where(
                AlarmRuleOverride.rule_id == row.id, AlarmRuleOverride.device_id == device_id
            )
        )
        now = rt.clock.now()
        before = _override_snapshot(override) if override else None
        if override is None:
            override = AlarmRuleOverride(
                id=new_id(), rule_id=row.id, device_id=device_id, created_at=now
            )
            tx.session.add(override)
        override.enabled = data.enabled
        override.levels = _levels_json(data.levels) if data.levels is not None else None
        for name in _TUNABLE:
            setattr(override, name, getattr(data, name))
        override.note = data.note
        override.updated_at = now
        _check_override(row, override)
        record(
            tx.session,
            actor=actor,
            action=events.OVERRIDE_SET,
            subject_type="alarm_rule",
            subject_id=row.id,
            at=now,
            before=before,
            after=_override_snapshot(override),
        )
        return OverrideOut.model_validate(override)


def delete_override(rt: Runtime, *, actor: Actor, rule_id: uuid.UUID, device_id: str) -> None:
    actor.require(Perm.alarms_manage)
    with rt.db.transaction() as tx:
        override = tx.session.scalar(
            select(AlarmRuleOverride).where(
                AlarmRuleOverride.rule_id == rule_id, AlarmRuleOverride.device_id == device_id
            )
        )
        if override is None:
            raise NotFound("override of device", device_id)
        record(
            tx.session,
            actor=actor,
            action=events.OVERRIDE_DELETED,
            subject_type="alarm_rule",
            subject_id=rule_id,
            at=rt.clock.now(),
            before=_override_snapshot(override),
        )
        tx.session.delete(override)


def list_overrides(rt: Runtime, *, actor: Actor, rule_id: uuid.UUID) -> list[OverrideOut]:
    actor.require(Perm.alarms_read)
    with rt.db.read() as session:
        _rule(session, rule_id)
        return [OverrideOut.model_validate(o) for o in _overrides(session, rule_id)]


# --- helpers ---------------------------------------------------------------------------------


def rule_out(row: AlarmRule, overrides: int) -> RuleOut:
    return RuleOut(
        id=row.id,
        code=row.code,
        name_zh=row.name_zh,
        name_en=row.name_en,
        device_type=row.device_type,
        kind=row.kind,
        metric=row.metric,
        levels=[LevelOut(**level) for level in row.levels],
        deadband=row.deadband,
        for_seconds=row.for_seconds,
        window_seconds=row.window_seconds,
        silence_seconds=row.silence_seconds,
        case_severity=row.case_severity,
        case_category=row.case_category,
        enabled=row.enabled,
        overrides=overrides,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _rule(session: Session, rule_id: uuid.UUID) -> AlarmRule:
    row = session.get(AlarmRule, rule_id)
    if row is None:
        raise NotFound("alarm rule", rule_id)
    return row


def _overrides(session: Session, rule_id: uuid.UUID) -> list[AlarmRuleOverride]:
    query = (
        select(AlarmRuleOverride)
        .where(AlarmRuleOverride.rule_id == rule_id)
        .order_by(AlarmRuleOverride.device_id)
    )
    return list(session.scalars(query))


def _override_count(session: Session, rule_id: uuid.UUID) -> int:
    query = select(func.count()).where(AlarmRuleOverride.rule_id == rule_id)
    return int(session.scalar(query) or 0)


def _snapshot(row: AlarmRule) -> dict[str, Any]:
    names = ("code", "device_type", "kind", "metric", "levels", *_TUNABLE)
    more = ("case_severity", "case_category", "enabled")
    return {name: getattr(row, name) for name in (*names, *more)}


def _override_snapshot(row: AlarmRuleOverride) -> dict[str, Any]:
    names = ("device_id", "enabled", "levels", *_TUNABLE, "note")
    return {name: getattr(row, name) for name in names}


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    row: AlarmRule,
    at: datetime,
    before: dict[str, Any] | None,
    *,
    after: bool = True,
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        subject_type="alarm_rule",
        subject_id=row.id,
        at=at,
        before=before,
        after=_snapshot(row) if after else None,
    )
