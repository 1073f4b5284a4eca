"""Verbs of the alarms module, its one public surface.

- ``evaluate``: run the rules over a committed batch of readings (called by the composition
  root for each stored batch) and open the cases due;
- ``scan_no_data``: the periodic silence scan (and the retry of cases still pending);
- ``acknowledge_alarm`` / ``clear_alarm``: a user's steps in the lifecycle;
- reading (``list_alarms``, ``get_alarm``) and rule administration, re-exported.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from cityops.alarms import evaluation
from cityops.alarms.access import check_readable
from cityops.alarms.case_link import open_cases, retry_pending
from cityops.alarms.devices import DeviceDirectory, DeviceInfo, Sample, StaticDevices, attach
from cityops.alarms.evaluation import evaluate_batch, scan_silence
from cityops.alarms.queries import (
    OpenAlarms,
    detail,
    get_alarm,
    list_alarms,
    load_alarm,
    open_alarms,
)
from cityops.alarms.rulebook import (
    create_rule,
    delete_override,
    delete_rule,
    get_rule,
    list_overrides,
    list_rules,
    set_override,
    update_rule,
)
from cityops.alarms.schemas import AlarmDetail, EvaluationReport
from cityops.alarms.transitions import end, step
from cityops.alarms.workflow import TRANSITIONS, Action, State, check_note, transition_for
from cityops.core.auth import Actor
from cityops.core.runtime import Runtime

__all__ = [
    "DeviceDirectory",
    "DeviceInfo",
    "OpenAlarms",
    "Sample",
    "StaticDevices",
    "acknowledge_alarm",
    "attach",
    "clear_alarm",
    "create_rule",
    "delete_override",
    "delete_rule",
    "evaluate",
    "get_alarm",
    "get_rule",
    "list_alarms",
    "list_overrides",
    "list_rules",
    "open_alarms",
    "scan_no_data",
    "set_override",
    "update_rule",
    "watched_types",
]


def evaluate(
    rt: Runtime,
    samples: Sequence[Sample],
    devices: DeviceDirectory,
    *,
    watched: Collection[str] | None = None,
) -> EvaluationReport:
    """Run the rules over one committed batch of readings, in one transaction.

    Samples may come in any order and more than once (at-least-once delivery): each device's
    are applied in time order, and one not newer than the last applied is skipped. Samples of
    devices the directory does not know, or that no rule watches, count as ``skipped``
    (``watched``: the watched types, when the caller has read them with ``watched_types``).
    Alarms that reach their rule's case severity open their case after the commit.
    """
    if not samples:
        return EvaluationReport()
    report, needs_case = evaluate_batch(rt, samples, devices, watched)
    report.cases = open_cases(rt, needs_case)
    return report


def watched_types(rt: Runtime, types: Collection[str]) -> set[str]:
    """The device types among ``types`` that some rule is written for: readings of the
    others cannot fire a rule, so a caller need not even make samples of them."""
    if not types:
        return set()
    with rt.db.read() as session:
        return evaluation.watched_types(session, types)


def scan_no_data(rt: Runtime, now: datetime | None = None) -> EvaluationReport:
    """Raise no-data alarms for devices silent past their limit, then retry pending cases.

    Idempotent (a raised alarm stops its row from matching), so every worker may run it.
    """
    report, needs_case = scan_silence(rt, now or rt.clock.now())
    report.cases = open_cases(rt, needs_case) + retry_pending(rt)
    return report


def acknowledge_alarm(
    rt: Runtime, *, actor: Actor, alarm_id: uuid.UUID, note: str | None = None
) -> AlarmDetail:
    """确认: someone has seen the alarm and takes care of it."""
    actor.require(_permission(Action.acknowledge))
    with rt.db.transaction() as tx:
        alarm = load_alarm(tx.session, alarm_id, lock=True)
        check_readable(actor, alarm)
        state = State(alarm.state)
        transition_for(Action.acknowledge, state)
        now = rt.clock.now()
        alarm.acknowledged_at = now
        alarm.acknowledged_by = actor.display_name or actor.username
        alarm.updated_at = now
        step(tx, alarm, actor, Action.acknowledge, state, now, note=note)
        return detail(tx.session, actor, alarm)


def clear_alarm(rt: Runtime, *, actor: Actor, alarm_id: uuid.UUID, note: str) -> AlarmDetail:
    """解除: end the alarm by hand, saying why. If the condition still holds, the next reading
    raises a new alarm."""
    actor.require(_permission(Action.clear))
    with rt.db.transaction() as tx:
        alarm = load_alarm(tx.session, alarm_id, lock=True)
        check_readable(actor, alarm)
        check_note(transition_for(Action.clear, State(alarm.state)), note)
        end(tx, alarm, actor, Action.clear, rt.clock.now(), note=note.strip())
        return detail(tx.session, actor, alarm)


def _permission(action: Action) -> str:
    permission = TRANSITIONS[action].permission
    assert permission is not None
    return permission
