"""The runtime every service function receives: settings, database, clock, files, caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityops.core.clock import Clock
from cityops.core.config import Settings
from cityops.core.db.engine import Database
from cityops.core.files import FileStore
from cityops.core.tasks import Scheduler


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock
    files: FileStore
    scheduler: Scheduler = field(default_factory=Scheduler)
    # Per-process caches owned by modules (area index, category tree); keyed by module name.
    caches: dict[str, Any] = field(default_factory=dict)
