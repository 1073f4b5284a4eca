"""A small periodic task runner: one daemon thread, jobs at fixed intervals.

With several web workers each runs the jobs; jobs are written to be idempotent
(they update rows only when a state actually changes), so running twice is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], object]
    next_at: float = 0.0


class Scheduler:
    def __init__(self) -> None:
        self._jobs: list[Job] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def every(self, seconds: float, name: str, run: Callable[[], object]) -> None:
        self._jobs.append(Job(name, seconds, run, time.monotonic() + seconds))

    def run_due(self, now: float | None = None) -> list[str]:
        """Run every job that is due; returns the names run (used by tests and the CLI)."""
        now = time.monotonic() if now is None else now
        ran = []
        for job in self._jobs:
            if now >= job.next_at:
                job.next_at = now + job.interval
                try:
                    job.run()
                except Exception:
                    log.exception("scheduled job %s failed", job.name)
                ran.append(job.name)
        return ran

    def start(self) -> None:
        if self._thread is None and self._jobs:
            self._thread = threading.Thread(
                target=self._loop, name="cityops-scheduler", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.run_due()
