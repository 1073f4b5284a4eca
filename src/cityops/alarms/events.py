"""Typed events and audit tags of the alarms module (``alarms:<subject>:<action>``).

Events are published after the transaction that caused them commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from cityops.core.bus import Event

RULE_CREATED = "alarms:rule:created"
RULE_UPDATED = "alarms:rule:updated"
RULE_DELETED = "alarms:rule:deleted"
OVERRIDE_SET = "alarms:override:set"
OVERRIDE_DELETED = "alarms:override:deleted"

_PAST = {
    "raise": "raised",
    "escalate": "escalated",
    "acknowledge": "acknowledged",
    "clear": "cleared",
    "condition_ended": "condition_ended",
    "link_case": "case_linked",
    "update": "updated",
}


def alarm_tag(action: str) -> str:
    """Audit tag of an alarm action, e.g. ``alarms:alarm:acknowledged``."""
    return f"alarms:alarm:{_PAST.get(action, action)}"


@dataclass(frozen=True)
class AlarmEventBase(Event):
    alarm_id: uuid.UUID
    device_id: str
    rule_code: str
    state: str
    severity: str
    area_path: str | None
    department_code: str | None


@dataclass(frozen=True)
class AlarmRaised(AlarmEventBase):
    """A new alarm: a rule's condition began for a device."""

    tag: ClassVar[str] = "alarms:alarm:raised"
    value: float | None


@dataclass(frozen=True)
class AlarmUpdated(AlarmEventBase):
    """An open alarm changed: repeated (``update``), escalated, acknowledged, or got its case."""

    tag: ClassVar[str] = "alarms:alarm:updated"
    action: str
    count: int
    value: float | None
    case_id: uuid.UUID | None


@dataclass(frozen=True)
class AlarmCleared(AlarmEventBase):
    """The alarm ended: its condition ended (``condition_ended``) or a user cleared it."""

    tag: ClassVar[str] = "alarms:alarm:cleared"
    action: str
