"""Who may see and act on which case: role permissions plus jurisdiction (area, department,
reporter). Pure functions over the actor and the case row."""

from __future__ import annotations

import uuid
from typing import Protocol

from cityops.cases.models import Case
from cityops.cases.workflow import Who
from cityops.core.auth import Actor
from cityops.core.errors import PermissionDenied

_CITY_WIDE = frozenset({"admin", "system"})
_SEE_PHONE = frozenset({"admin", "system", "operator", "dispatcher"})


class ReadScope(Protocol):
    """The columns of a case that decide who may read it (a row, or a copy kept by the feed)."""

    @property
    def reporter_id(self) -> uuid.UUID | None: ...
    @property
    def department_id(self) -> uuid.UUID | None: ...
    @property
    def area_path(self) -> str: ...


def is_reporter(actor: Actor, case: ReadScope) -> bool:
    return actor.user_id is not None and case.reporter_id == actor.user_id


def can_read(actor: Actor, case: ReadScope, *, follows: bool = False) -> bool:
    """``follows``: the actor reported a case that was merged into this one."""
    if actor.role in _CITY_WIDE or is_reporter(actor, case) or follows:
        return True
    if actor.role == "citizen":
        return False
    if actor.role == "handler":
        return case.department_id is not None and case.department_id == actor.department_id
    return actor.covers(case.area_path)


def check_who(actor: Actor, case: Case, who: Who) -> None:
    """Raise PermissionDenied when the case is outside the actor's jurisdiction for ``who``."""
    if actor.role in _CITY_WIDE:
        return
    if who is Who.reporter:
        # A hotline caller has no account: the operators' follow-up call (回访) records it.
        ok = is_reporter(actor, case) or (
            case.source == "hotline" and actor.can("cases.hotline") and actor.covers(case.area_path)
        )
        reason = "only the reporter may do this"
    elif who is Who.department or actor.role == "handler":
        # Department staff act only on what their department holds, whatever the action.
        ok = case.department_id is not None and case.department_id == actor.department_id
        reason = "the case is not with your department"
    elif who is Who.verifier:
        ok = is_reporter(actor, case) or (actor.role != "citizen" and actor.covers(case.area_path))
        reason = "only a grid worker of the case's area or its reporter may verify it"
    elif actor.role == "citizen":
        ok = is_reporter(actor, case)
        reason = "only the reporter may do this"
    else:
        ok = actor.covers(case.area_path)
        reason = "the case is outside your jurisdiction"
    if not ok:
        raise PermissionDenied(reason, code="out_of_jurisdiction")


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits (138****1234), the usual Chinese masking."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def may_see_phone(actor: Actor, case: Case) -> bool:
    return actor.role in _SEE_PHONE or is_reporter(actor, case)
