"""Write and read the audit trail. Writes join the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from cityops.core.auth import Actor
from cityops.core.context import current_request_id
from cityops.core.db.rows import insert_row
from cityops.core.errors import invalid
from cityops.core.ids import new_id
from cityops.core.pagination import Page, PageParams, order_by_sort, paginate

from .models import AuditRecord

AUDIT_LOG: Table = AuditRecord.__table__  # type: ignore[assignment]


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    at: datetime
    actor_id: uuid.UUID | None
    actor_name: str
    actor_role: str
    action: str
    subject_type: str
    subject_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: object,
    at: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit record in the caller's transaction (at once: it is never changed)."""
    insert_row(
        session,
        AUDIT_LOG,
        {
            "id": new_id(),
            "at": at,
            "actor_id": actor.user_id,
            "actor_name": actor.username,
            "actor_role": actor.role,
            "action": action,
            "subject_type": subject_type,
            "subject_id": str(subject_id),
            "before": dict(before) if before is not None else None,
            "after": dict(after) if after is not None else None,
            "request_id": current_request_id(),
        },
    )


SORTS = {
    "at": AuditRecord.at,
    "action": AuditRecord.action,
    "actor_name": AuditRecord.actor_name,
    "subject_type": AuditRecord.subject_type,
}


def list_records(
    session: Session,
    *,
    params: PageParams,
    action: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    actor_id: uuid.UUID | None = None,
    actor_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditOut]:
    """One page of audit records, newest first by default."""
    if since and until and until < since:
        raise invalid("until", "must not be before since")
    query: Select[Any] = select(AuditRecord)
    if action:
        query = query.where(AuditRecord.action.startswith(action))
    if subject_type:
        query = query.where(AuditRecord.subject_type == subject_type)
    if subject_id:
        query = query.where(AuditRecord.subject_id == subject_id)
    if actor_id:
        query = query.where(AuditRecord.actor_id == actor_id)
    if actor_name:
        query = query.where(AuditRecord.actor_name == actor_name)
    if since:
        query = query.where(AuditRecord.at >= since)
    if until:
        query = query.where(AuditRecord.at < until)
    query = order_by_sort(query, params.sort, SORTS, "-at")
    rows, total = paginate(session, query, params)
    items = [AuditOut.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)
