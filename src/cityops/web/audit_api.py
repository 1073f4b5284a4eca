"""Audit trail routes (admins and data officers)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from cityops.core.audit.service import AuditOut, list_records
from cityops.core.pagination import Page
from cityops.web.deps import CurrentActor, Paging, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", response_model=Page[AuditOut])
def audit(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    actor_name: Annotated[str | None, Query(max_length=150)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Page[AuditOut]:
    """Who did what and when, newest first; ``action`` matches a tag prefix (``cases:case``),
    ``actor_name`` a username exactly; ``since`` is included, ``until`` excluded."""
    actor.require("audit.read")
    with rt.db.read() as session:
        return list_records(
            session,
            params=paging,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            actor_id=actor_id,
            actor_name=actor_name,
            since=since,
            until=until,
        )
