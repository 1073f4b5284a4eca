"""Who may see and act on which alarm: the permission plus jurisdiction. Pure functions over
the actor and the alarm's scope (its device's area and owning department)."""

from __future__ import annotations

import uuid
from typing import Protocol

from cityops.core.auth import Actor
from cityops.core.errors import PermissionDenied
from cityops.org.roles import Perm

_CITY_WIDE = frozenset({"admin", "system"})


class AlarmScope(Protocol):
    """The columns of an alarm that decide who may see it (a row, or a copy kept by the feed)."""

    @property
    def area_path(self) -> str | None: ...
    @property
    def department_id(self) -> uuid.UUID | None: ...


def can_read(actor: Actor, alarm: AlarmScope) -> bool:
    """Department staff see their department's devices; everyone else their area's."""
    if not actor.can(Perm.alarms_read):
        return False
    if actor.role in _CITY_WIDE:
        return True
    if actor.role == "handler":
        return alarm.department_id is not None and alarm.department_id == actor.department_id
    return actor.covers(alarm.area_path)


def check_readable(actor: Actor, alarm: AlarmScope) -> None:
    actor.require(Perm.alarms_read)
    if not can_read(actor, alarm):
        raise PermissionDenied("the alarm is outside your jurisdiction", code="out_of_jurisdiction")
