"""Running the rules over stored readings (one transaction per batch) and the silence scan.

Per batch: the devices' rules (type rules merged with device overrides), their evaluation
states (locked, in a fixed order, so two ingest workers handling the same device take turns),
and their open alarms are loaded in a few queries; each device's samples are applied in time
order; alarms are raised, updated, escalated and cleared; states are written back. Cases are
opened only after the commit (``case_link``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cityops.alarms import rules
from cityops.alarms.devices import DeviceDirectory, DeviceInfo, Sample, by_device
from cityops.alarms.models import Alarm, AlarmRule, AlarmRuleOverride, RuleState
from cityops.alarms.rulebook import override_of, rule_of
from cityops.alarms.schemas import EvaluationReport
from cityops.alarms.transitions import (
    DeviceFacts,
    emit,
    end,
    facts_for,
    info_from_json,
    info_json,
    open_key,
    raise_alarm,
    repeat,
    wants_case,
)
from cityops.alarms.workflow import Action
from cityops.core.auth import SYSTEM
from cityops.core.db.engine import Transaction
from cityops.core.runtime import Runtime

SCAN_BATCH = 500
# Keys per IN list (SQLite allows 32766 bound parameters; two per key).
IN_CHUNK = 2000


@dataclass
class _Book:
    """The rules that apply in one batch, by device type, and the devices' overrides."""

    by_type: dict[str, list[AlarmRule]]
    overrides: dict[tuple[uuid.UUID, str], AlarmRuleOverride]

    def effective(self, device_type: str, device_id: str) -> list[tuple[AlarmRule, rules.Rule]]:
        found = []
        for row in self.by_type.get(device_type, []):
            override = self.overrides.get((row.id, device_id))
            rule = rules.merge(
                rule_of(row), override_of(override) if override else None, enabled=row.enabled
            )
            if rule is not None:
                found.append((row, rule))
        return found


def _book(session: Session, types: Collection[str], device_ids: Collection[str]) -> _Book:
    by_type: dict[str, list[AlarmRule]] = {}
    query = select(AlarmRule).where(AlarmRule.device_type.in_(types)).order_by(AlarmRule.code)
    for row in session.scalars(query):
        by_type.setdefault(row.device_type, []).append(row)
    overrides = session.scalars(
        select(AlarmRuleOverride).where(AlarmRuleOverride.device_id.in_(device_ids))
    )
    return _Book(by_type, {(o.rule_id, o.device_id): o for o in overrides})


def watched_types(session: Session, types: Collection[str]) -> set[str]:
    """The device types among ``types`` that any rule is written for (enabled or not: a
    device's override may switch a rule on). Readings of other types cannot fire a rule."""
    if not types:
        return set()
    query = select(AlarmRule.device_type).where(AlarmRule.device_type.in_(sorted(types)))
    return set(session.scalars(query.distinct()))


def _locks(session: Session) -> bool:
    """Whether to take row locks (PostgreSQL); SQLite's writers hold the whole database."""
    return session.get_bind().dialect.name == "postgresql"


def _states(
    session: Session, keys: Sequence[tuple[str, uuid.UUID]], now: datetime
) -> dict[tuple[str, uuid.UUID], RuleState]:
    """The states of these (device, rule) pairs, made where missing, locked in key order."""
    found = _load_states(session, keys)
    missing = sorted(set(keys) - set(found))
    if missing:
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        rows = [{"device_id": d, "rule_id": r, "data": {}, "updated_at": now} for d, r in missing]
        # Another worker may make the same pair at the same moment: then its row is used.
        session.execute(insert(RuleState).on_conflict_do_nothing(), rows)
        found.update(_load_states(session, missing))
    return found


def _load_states(
    session: Session, keys: Sequence[tuple[str, uuid.UUID]]
) -> dict[tuple[str, uuid.UUID], RuleState]:
    found: dict[tuple[str, uuid.UUID], RuleState] = {}
    for start in range(0, len(keys), IN_CHUNK):
        query = (
            select(RuleState)
            .where(
                tuple_(RuleState.device_id, RuleState.rule_id).in_(keys[start : start + IN_CHUNK])
            )
            .order_by(RuleState.device_id, RuleState.rule_id)
        )
        if _locks(session):
            query = query.with_for_update()
        for row in session.scalars(query):
            found[(row.device_id, row.rule_id)] = row
    return found


def _open_alarms(session: Session, keys: Iterable[str]) -> dict[str, Alarm]:
    ordered = sorted(set(keys))
    found: dict[str, Alarm] = {}
    for start in range(0, len(ordered), IN_CHUNK):
        query = select(Alarm).where(Alarm.open_key.in_(ordered[start : start + IN_CHUNK]))
        if _locks(session):
            query = query.order_by(Alarm.open_key).with_for_update()
        found.update((a.open_key, a) for a in session.scalars(query) if a.open_key)
    return found


@dataclass
class _Run:
    """One transaction's work on alarms: applies outcomes, remembers what to report."""

    rt: Runtime
    tx: Transaction
    now: datetime
    report: EvaluationReport
    alarms: dict[str, Alarm]
    repeated: dict[uuid.UUID, Alarm] = field(default_factory=dict)
    needs_case: set[uuid.UUID] = field(default_factory=set)
    facts: dict[str, DeviceFacts] = field(default_factory=dict)

    def device(self, info: dict[str, Any]) -> DeviceFacts:
        device_id = info["device_id"]
        if device_id not in self.facts:
            self.facts[device_id] = facts_for(self.rt, self.tx.session, info_from_json(info))
        return self.facts[device_id]

    def apply(
        self, row: AlarmRule, rule: rules.Rule, device: dict[str, Any], outcome: rules.Outcome
    ) -> None:
        key = open_key(device["device_id"], row.id)
        alarm = self.alarms.get(key)
        if outcome.signal is rules.Signal.cleared:
            if alarm is not None:
                end(self.tx, alarm, SYSTEM, Action.condition_ended, self.now, outcome=outcome)
                self.report.cleared.append(alarm.id)
                self.repeated.pop(alarm.id, None)
                del self.alarms[key]
            return
        if alarm is None:
            # Raised, or still breached after someone cleared it by hand: a new alarm.
            alarm = raise_alarm(self.tx, row, self.device(device), outcome, self.now)
            self.tx.session.flush()  # claim the open key before anything else
            self.alarms[key] = alarm
            self.report.raised.append(alarm.id)
        else:
            repeat(self.tx, rule, alarm, outcome, self.now)
            self.repeated[alarm.id] = alarm
        if wants_case(row, alarm):
            alarm.case_pending = True
            self.needs_case.add(alarm.id)

    def finish(self) -> None:
        """One ``update`` event per repeated alarm and batch (not one per reading)."""
        raised = set(self.report.raised)
        for alarm in self.repeated.values():
            if alarm.id not in raised:
                emit(self.tx, alarm, Action.update)
                self.report.updated.append(alarm.id)


def evaluate_batch(
    rt: Runtime,
    samples: Sequence[Sample],
    devices: DeviceDirectory,
    watched: Collection[str] | None = None,
) -> tuple[EvaluationReport, set[uuid.UUID]]:
    """Apply a batch of samples; returns the report and the alarms that need a case.
    ``watched``: the watched types among the samples' when the caller has read them."""
    report = EvaluationReport(samples=len(samples))
    if watched is None:
        with rt.db.read() as session:
            watched = watched_types(session, {s.device_type for s in samples})
    # Devices of types no rule watches are skipped before anything is looked up or locked.
    grouped = by_device([s for s in samples if s.device_type in watched])
    report.skipped += len(samples) - sum(len(rows) for rows in grouped.values())
    if not grouped:
        return report, set()
    infos = devices.device_info(list(grouped))
    with rt.db.transaction() as tx:
        session, now = tx.session, rt.clock.now()
        grouped = _known(grouped, infos, report)
        book = _book(session, {infos[d].type for d in grouped}, list(grouped))
        plan: list[tuple[str, AlarmRule, rules.Rule, dict[str, Any]]] = []
        for device_id, rows in grouped.items():
            info = infos[device_id]
            effective = book.effective(info.type, device_id)
            if not effective:
                report.skipped += len(rows)
                continue
            plan.extend((device_id, row, rule, info_json(info)) for row, rule in effective)
        keys = [(device_id, row.id) for device_id, row, _, _ in plan]
        states = _states(session, keys, now)
        run = _Run(rt, tx, now, report, _open_alarms(session, [open_key(*k) for k in keys]))
        writes = []
        for device_id, row, rule, device in plan:
            stored = states[(device_id, row.id)]
            state = rules.RuleState.from_json(stored.data)
            for sample in grouped[device_id]:
                state, outcome = rules.step(rule, state, sample.ts.timestamp(), sample.values)
                if outcome is not None:
                    run.apply(row, rule, device, outcome)
            changed = _changes(stored, rule, state, device, now)
            if changed is not None:
                writes.append(changed)
        run.finish()
        if writes:  # one statement for the whole batch, by primary key
            session.execute(update(RuleState), writes)
    return report, run.needs_case


def _known(
    grouped: dict[str, list[Sample]], infos: Mapping[str, DeviceInfo], report: EvaluationReport
) -> dict[str, list[Sample]]:
    """Samples of devices the directory knows, and of the type it knows them as."""
    known: dict[str, list[Sample]] = {}
    for device_id, rows in grouped.items():
        info = infos.get(device_id)
        fitting = [s for s in rows if info is not None and s.device_type == info.type]
        report.skipped += len(rows) - len(fitting)
        if fitting:
            known[device_id] = fitting
    return known


def _changes(
    stored: RuleState,
    rule: rules.Rule,
    state: rules.RuleState,
    device: dict[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The state row's new values, or None when nothing changed."""
    values: dict[str, Any] = {
        "data": state.to_json(),
        "silent_at": stored.silent_at,
        "device": stored.device,
    }
    if rule.kind is rules.Kind.no_data:
        due = rules.silent_after(rule, state)
        values["silent_at"] = datetime.fromtimestamp(due, UTC) if due is not None else None
        values["device"] = device
    if all(getattr(stored, name) == value for name, value in values.items()):
        return None
    return {"device_id": stored.device_id, "rule_id": stored.rule_id, **values, "updated_at": now}


def scan_silence(rt: Runtime, now: datetime) -> tuple[EvaluationReport, set[uuid.UUID]]:
    """Raise no-data alarms for devices silent past their limit (in batches, idempotent)."""
    report = EvaluationReport()
    needs_case: set[uuid.UUID] = set()
    while True:
        with rt.db.transaction() as tx:
            session = tx.session
            query = (
                select(RuleState, AlarmRule)
                .join(AlarmRule, AlarmRule.id == RuleState.rule_id)
                .where(RuleState.silent_at <= now, AlarmRule.kind == rules.Kind.no_data.value)
                .order_by(RuleState.device_id, RuleState.rule_id)
                .limit(SCAN_BATCH)
            )
            if _locks(session):
                query = query.with_for_update(of=RuleState)
            found = session.execute(query).all()
            if not found:
                return report, needs_case
            device_ids = {stored.device_id for stored, _ in found}
            book = _book(session, {row.device_type for _, row in found}, device_ids)
            keys = [open_key(stored.device_id, row.id) for stored, row in found]
            run = _Run(rt, tx, rt.clock.now(), report, _open_alarms(session, keys))
            for stored, row in found:
                _silence_one(run, book, stored, row, now)
            needs_case |= run.needs_case


def _silence_one(run: _Run, book: _Book, stored: RuleState, row: AlarmRule, now: datetime) -> None:
    override = book.overrides.get((row.id, stored.device_id))
    rule = rules.merge(
        rule_of(row), override_of(override) if override else None, enabled=row.enabled
    )
    if rule is None or not stored.device:
        stored.silent_at = None  # switched off for this device: nothing to watch
        return
    state = rules.RuleState.from_json(stored.data)
    state, outcome = rules.silence(rule, state, now.timestamp())
    if outcome is not None:
        run.apply(row, rule, stored.device, outcome)
    for name, value in (_changes(stored, rule, state, stored.device, run.now) or {}).items():
        setattr(stored, name, value)
    if stored.silent_at is not None and stored.silent_at <= now:
        stored.silent_at = None  # cannot fire now: wait for readings (and never loop here)
