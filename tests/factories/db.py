"""Watching what a test's code sends to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from cityops.core.runtime import Runtime


@contextmanager
def count_statements(rt: Runtime) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs, in order."""
    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        statements.append(args[2])

    event.listen(rt.db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", before_cursor_execute)
