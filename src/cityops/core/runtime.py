"""The runtime every service function receives: settings, database, clock, files, caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityops.core.clock import Clock
from cityops.core.config import Settings
from cityops.core.db.engine import Database
from cityops.core.files import FileStore
from cityops.core.tasks import BatchWorker, Scheduler


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    files: FileStore
    scheduler: Scheduler = field(default_factory=Scheduler)
    # Queues of work after commits (brain triage and learning), stopped with the app.
    workers: list[BatchWorker[Any]] = field(default_factory=list)
    # Per-process caches owned by modules (area index, category tree); keyed by module name.
    caches: dict[str, Any] = field(default_factory=dict)

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until the work queued after commits so far is done (before reading what it
        writes, and before stopping)."""
        for worker in self.workers:
            worker.drain(timeout)
