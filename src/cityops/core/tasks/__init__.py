"""Background work in each process: periodic jobs (``Scheduler``) and a queue that hands
work to one thread in batches (``BatchWorker``).

With several web workers each runs the jobs; jobs are written to be idempotent
(they update rows only when a state actually changes), so running twice is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


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


class BatchWorker(Generic[T]):
    """One daemon thread that hands what is submitted to ``handle`` in batches (at most
    ``batch`` items, in the order submitted), so that work following a commit neither holds up
    the request that committed nor costs a transaction per item. Items that arrive while a
    batch runs form the next one; nothing waits on purpose to gather more.

    When ``max_pending`` items are waiting (the process is saturated and the thread falls
    behind), ``submit`` handles its item in the calling thread: the queue and the delay stay
    bounded, and the callers slow down instead.

    ``handle`` must deal with its own failures item by item: an exception it lets out is
    logged and the batch is dropped. ``drain`` waits until everything submitted so far is
    handled; ``stop`` handles what is left and ends the thread (after it, ``submit`` handles
    each item in the calling thread)."""

    def __init__(
        self,
        name: str,
        handle: Callable[[list[T]], None],
        *,
        batch: int = 200,
        max_pending: int = 1000,
    ) -> None:
        self.name = name
        self._handle = handle
        self._batch = batch
        self._max_pending = max_pending
        self._queue: deque[T] = deque()
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()

    def submit(self, item: T) -> None:
        with self._changed:
            if not self._stopped and len(self._queue) < self._max_pending:
                self._queue.append(item)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                    self._thread.start()
                self._changed.notify_all()
                return
        self._run([item])

    def pending(self) -> int:
        """Items submitted and not yet handled (queued or in the running batch)."""
        with self._changed:
            return len(self._queue) + (1 if self._busy else 0)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until the queue is empty and no batch runs; False if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._busy, timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Handle what is queued, then end the thread."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stopped)
                if not self._queue:
                    return
                items = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]
                self._busy = True
            try:
                self._run(items)
            finally:
                with self._changed:
                    self._busy = False
                    self._changed.notify_all()

    def _run(self, items: list[T]) -> None:
        try:
            self._handle(items)
        except Exception:
            log.exception("%s: a batch of %d failed", self.name, len(items))
