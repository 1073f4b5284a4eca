"""New rows written at once by a Core statement instead of the unit of work at flush.

The ORM's flush does per-object bookkeeping (dependency sort, attribute history, the insert's
parameters built column by column) that costs a report's three new rows (case, timeline
entry, audit record) more interpreter time than the statements themselves. Rows that are
written once and then only read (the timeline, the audit trail) or that the caller changes
afterwards through the session (a new case) go in with one cached INSERT each:

* ``insert_now(session, obj)``: the object's row is inserted in the session's transaction
  and the object joins the session as persistent (later changes flush as UPDATEs), with
  every column loaded, so reading it back costs no query.
* ``insert_row(session, table, values)``: a row of values, nothing kept in the session.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Table, insert, inspect
from sqlalchemy.orm import Session, make_transient_to_detached


@functools.cache
def _insert(table: Table) -> Insert:
    return insert(table)


def insert_row(session: Session, table: Table, values: dict[str, Any]) -> None:
    """INSERT one row now in the session's transaction (column defaults applied by Core)."""
    session.connection().execute(_insert(table), values)


def insert_now(session: Session, obj: Any) -> None:
    """INSERT the new mapped ``obj`` now and attach it to ``session`` as persistent.

    Columns not set on the object take their client-side default (also set on the object)
    or NULL; a column with only a server-side default would be read back on first use, so
    the models this is used for have none.
    """
    mapper = inspect(obj).mapper
    loaded = obj.__dict__
    values: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        if prop.key in loaded:
            value = loaded[prop.key]
        else:
            value = _client_default(prop.columns[0])
            setattr(obj, prop.key, value)
        values[prop.columns[0].key] = value
    insert_row(session, mapper.local_table, values)
    make_transient_to_detached(obj)
    session.add(obj)


def _client_default(column: Any) -> Any:
    default = column.default
    if default is None:
        return None
    if default.is_callable:
        return default.arg(None)  # no-argument callables are wrapped to take a context
    if default.is_scalar:
        return default.arg
    return None
