"""Event and audit tags of the organisation module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cityops.core.bus import Event

AREA_CREATED = "org:area:created"
DEPARTMENT_CREATED = "org:department:created"
DEPARTMENT_UPDATED = "org:department:updated"
USER_CREATED = "org:user:created"
USER_UPDATED = "org:user:updated"
USER_LOGGED_IN = "org:user:logged_in"
USER_LOGGED_OUT = "org:user:logged_out"
API_KEY_CREATED = "org:api_key:created"
API_KEY_REVOKED = "org:api_key:revoked"


@dataclass(frozen=True)
class AreasChanged(Event):
    tag: ClassVar[str] = "org:areas:changed"
