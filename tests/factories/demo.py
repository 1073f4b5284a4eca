"""A runtime over a new, migrated SQLite file, for the demo city's builders."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from cityops.app import build_runtime
from cityops.core import auth
from cityops.core.config import Settings
from cityops.core.runtime import Runtime
from cityops.migrations import upgrade


@contextmanager
def blank_runtime(path: Path, **settings: Any) -> Iterator[Runtime]:
    """A migrated, empty database under ``path``; the engine is disposed of afterwards."""
    runtime = build_runtime(
        Settings(
            data_dir=path,
            database_url=f"sqlite:///{path}/demo.sqlite3",
            run_scheduler=False,
            **settings,
        )
    )
    upgrade(runtime.db.engine)
    try:
        yield runtime
    finally:
        runtime.db.engine.dispose()


def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its real cost takes a third of a second per account; the demo makes ~60."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
