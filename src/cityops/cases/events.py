"""Typed events and audit tags of the cases module (``cases:<subject>:<action>``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar

from cityops.core.bus import Event

CATEGORY_CREATED = "cases:category:created"
CATEGORY_UPDATED = "cases:category:updated"
ROUTE_SET = "cases:route:set"
ROUTE_CLEARED = "cases:route:cleared"
CALENDAR_SET = "cases:calendar:set"
DUPLICATE_DISMISSED = "cases:case:duplicate_dismissed"


def case_tag(action: str) -> str:
    """Audit tag of a case action, e.g. ``cases:case:dispatched``."""
    past = {
        "return": "returned",
        "recall": "recalled",
        "report": "reported",
        "reopen": "reopened",
        "urge": "urged",
        "merge": "merged",
        "verify": "verified",
        "handle": "handled",
        "close": "closed",
        "evaluate": "evaluated",
        "cancel": "cancelled",
        "escalate": "escalated",
        "dispatch": "dispatched",
        "reassign": "reassigned",
        "assign": "assigned",
        "accept": "accepted",
        "register": "registered",
        "reject": "rejected",
        "sla_warning": "sla_warning",
        "sla_overdue": "sla_overdue",
    }
    return f"cases:case:{past.get(action, action)}"


@dataclass(frozen=True)
class CaseChanged(Event):
    """A case was reported or moved along the loop (published after commit); ``title`` and
    ``description`` are the report's words, so that a listener classifying it reads nothing."""

    tag: ClassVar[str] = "cases:case:changed"
    case_id: uuid.UUID
    number: int
    action: str
    from_state: str | None
    to_state: str
    department_id: uuid.UUID | None
    area_path: str
    lon: float
    lat: float
    category_code: str | None
    sla_status: str
    title: str = ""
    description: str = ""
