"""Rows written at once (``core.db.rows``): in the caller's transaction, defaults applied to
the object, the object persistent and fully loaded, later changes flushed as UPDATEs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, inspect, select

from cityops.core.audit.models import AuditRecord
from cityops.core.db.rows import insert_now
from cityops.core.runtime import Runtime

AT = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def _record(**changes: Any) -> AuditRecord:
    fields: dict[str, Any] = {
        "at": AT,
        "actor_id": None,
        "actor_name": "tester",
        "actor_role": "admin",
        "action": "test:written",
        "subject_type": "test",
        "subject_id": "1",
        "before": None,
        "after": {"n": 1},
    }
    return AuditRecord(**(fields | changes))


def _stored(rt: Runtime) -> list[tuple[str, str, dict[str, Any] | None]]:
    with rt.db.read() as session:
        rows = session.execute(
            select(AuditRecord.action, AuditRecord.subject_id, AuditRecord.after).where(
                AuditRecord.subject_type == "test"
            )
        )
        return [(action, subject, after) for action, subject, after in rows]


def test_the_row_is_written_at_once_and_the_object_needs_no_reload(rt: Runtime) -> None:
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.split()[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):  # not the tests' savepoints
            statements.append(verb)

    event.listen(rt.db.engine, "before_cursor_execute", seen)
    try:
        with rt.db.transaction() as tx:
            record = _record()  # no id, no request id: the id's default is made here
            insert_now(tx.session, record)
            assert statements == ["INSERT"]
            assert inspect(record).persistent
            assert record.id is not None
            assert record.request_id is None
            assert (record.action, record.after, record.at) == ("test:written", {"n": 1}, AT)
            assert statements == ["INSERT"]  # every column was loaded: nothing read back
            record.action = "test:changed"
        assert statements[-1] == "UPDATE"
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", seen)
    assert _stored(rt) == [("test:changed", "1", {"n": 1})]


def _fail_after_writing(rt: Runtime) -> None:
    with rt.db.transaction() as tx:
        insert_now(tx.session, _record(subject_id="2"))
        raise RuntimeError("the command failed after writing")


def test_the_row_goes_with_its_transaction(rt: Runtime) -> None:
    with pytest.raises(RuntimeError, match="failed after writing"):
        _fail_after_writing(rt)
    assert _stored(rt) == []
