"""Alarm → case: an alarm severe enough for its rule opens a case in the 一网统管 loop, through
the cases module's public intake (never its tables), after the alarm's transaction commits.

- The case is reported by the system with source ``sensor``, the rule's category, at the
  device's location, with ``client_ref = "alarm:<alarm id>"``: a retry after a crash between
  the case's commit and the alarm's answers with the same case instead of a second one.
- Both ways: the alarm keeps ``case_id``; the case carries ``attributes.alarm`` (alarm id,
  rule, device, severity, value).
- While the case opened for an earlier alarm of the same device and rule is still open, a new
  alarm joins that case instead of opening another. Once that case is closed (or rejected,
  merged, cancelled), the next alarm opens a new case.
- Until it is linked the alarm stays ``case_pending``; the periodic job retries. An intake
  refusal (say, a device outside the city's areas) is kept in ``case_error`` and not retried.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import select

from cityops.alarms.models import Alarm, AlarmRule
from cityops.alarms.transitions import step
from cityops.alarms.workflow import Action, State
from cityops.cases import service as cases
from cityops.cases.schemas import CaseIn, Point
from cityops.core.auth import SYSTEM
from cityops.core.errors import DomainError
from cityops.core.runtime import Runtime

log = logging.getLogger(__name__)
RETRY_BATCH = 100


@dataclass(frozen=True)
class _Pending:
    alarm_id: uuid.UUID
    rule_id: uuid.UUID
    device_id: str
    device_name: str
    lon: float
    lat: float
    severity: str
    metric: str | None
    value: float | None
    rule_code: str
    rule_name: str
    category: str


def open_cases(rt: Runtime, alarm_ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Open (or join) the case of each alarm that needs one; returns the case ids linked."""
    linked = []
    for alarm_id in sorted(alarm_ids):
        try:
            case_id = open_case(rt, alarm_id)
        except Exception:  # the alarm stays pending: the periodic job tries again
            log.exception("opening the case of alarm %s failed", alarm_id)
            continue
        if case_id is not None:
            linked.append(case_id)
    return linked


def retry_pending(rt: Runtime) -> list[uuid.UUID]:
    """Alarms still waiting for their case (the process stopped in between, or it failed)."""
    with rt.db.read() as session:
        query = select(Alarm.id).where(Alarm.case_pending.is_(True)).order_by(Alarm.id)
        ids = list(session.scalars(query.limit(RETRY_BATCH)))
    return open_cases(rt, ids)


def open_case(rt: Runtime, alarm_id: uuid.UUID) -> uuid.UUID | None:
    """Link the alarm to a case: the open one of its device and rule, or a new one."""
    pending, earlier = _load(rt, alarm_id)
    if pending is None:
        return None
    case_id = _still_open(rt, earlier)
    joined = case_id is not None
    if case_id is None:
        try:
            case_id = cases.report_case(rt, actor=SYSTEM, data=_case_in(rt, pending)).id
        except DomainError as exc:
            _refused(rt, alarm_id, exc)
            return None
    _link(rt, alarm_id, case_id, joined=joined)
    return case_id


def _load(rt: Runtime, alarm_id: uuid.UUID) -> tuple[_Pending | None, uuid.UUID | None]:
    with rt.db.read() as session:
        alarm = session.get(Alarm, alarm_id)
        if alarm is None or not alarm.case_pending or alarm.case_id is not None:
            return None, None
        rule = session.get(AlarmRule, alarm.rule_id)
        if rule is None or rule.case_category is None:
            return None, None
        earlier = session.scalar(
            select(Alarm.case_id)
            .where(
                Alarm.device_id == alarm.device_id,
                Alarm.rule_id == alarm.rule_id,
                Alarm.case_id.is_not(None),
                Alarm.id != alarm.id,
            )
            .order_by(Alarm.raised_at.desc(), Alarm.id.desc())
            .limit(1)
        )
        pending = _Pending(
            alarm_id=alarm.id,
            rule_id=rule.id,
            device_id=alarm.device_id,
            device_name=alarm.device_name,
            lon=alarm.lon,
            lat=alarm.lat,
            severity=alarm.severity,
            metric=alarm.metric,
            value=alarm.peak_value,
            rule_code=rule.code,
            rule_name=rule.name_zh if rt.settings.default_locale == "zh-CN" else rule.name_en,
            category=rule.case_category,
        )
        return pending, earlier


def _still_open(rt: Runtime, case_id: uuid.UUID | None) -> uuid.UUID | None:
    if case_id is None:
        return None
    case = cases.get_case(rt, actor=SYSTEM, case_id=case_id)
    # Closing, rejecting, merging and cancelling set closed_at; reopening clears it.
    return case.id if case.closed_at is None else None


def _texts() -> dict[str, dict[str, str]]:
    raw = (resources.files("cityops.alarms") / "case_texts.json").read_text("utf-8")
    texts: dict[str, dict[str, str]] = json.loads(raw)
    return texts


def _case_in(rt: Runtime, pending: _Pending) -> CaseIn:
    text = _texts()[rt.settings.default_locale]
    values: dict[str, Any] = {
        "rule": pending.rule_name,
        "device": pending.device_name or pending.device_id,
        "device_id": pending.device_id,
        "metric": pending.metric or "",
        "value": "" if pending.value is None else f"{pending.value:g}",
        "severity": text[f"severity.{pending.severity}"],
    }
    template = "description.no_data" if pending.metric is None else "description"
    return CaseIn(
        title=text["title"].format(**values)[:200],
        description=text[template].format(**values)[:5000],
        category_code=pending.category,
        location=Point(lon=pending.lon, lat=pending.lat),
        source="sensor",
        client_ref=f"alarm:{pending.alarm_id}",
        attributes={
            "alarm": {
                "id": str(pending.alarm_id),
                "rule": pending.rule_code,
                "device_id": pending.device_id,
                "severity": pending.severity,
                "metric": pending.metric,
                "value": pending.value,
            }
        },
    )


def _link(rt: Runtime, alarm_id: uuid.UUID, case_id: uuid.UUID, *, joined: bool) -> None:
    with rt.db.transaction() as tx:
        alarm = tx.session.get(Alarm, alarm_id, with_for_update=True)
        if alarm is None or alarm.case_id is not None:
            return
        alarm.case_id, alarm.case_pending, alarm.case_error = case_id, False, None
        alarm.updated_at = now = rt.clock.now()
        data = {"case_id": str(case_id), "joined": joined}
        step(tx, alarm, SYSTEM, Action.link_case, State(alarm.state), now, data=data)


def _refused(rt: Runtime, alarm_id: uuid.UUID, error: DomainError) -> None:
    log.warning("the case of alarm %s was refused: %s", alarm_id, error)
    with rt.db.transaction() as tx:
        alarm = tx.session.get(Alarm, alarm_id, with_for_update=True)
        if alarm is not None and alarm.case_id is None:
            alarm.case_pending, alarm.case_error = False, str(error)[:300]
            alarm.updated_at = rt.clock.now()
