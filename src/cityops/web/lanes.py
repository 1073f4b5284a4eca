"""The threads that run a request's blocking work.

FastAPI runs every plain (``def``) endpoint and dependency on the thread pool of its process.
Python runs one thread at a time, and a thread whose database answer has arrived waits for
the running one to let go: the more threads hold requests at once, the longer every request
waits for its turn (measured in docs/benchmarks.md: 40 threads instead of 6 cost the case API
a fifth of its throughput and doubled its p99). So each process runs at most
``CITYOPS_WEB_THREADS`` requests at once and queues the rest, and work that takes seconds
(exports, imports, training) runs in a lane of its own of ``CITYOPS_WEB_SLOW_THREADS``
threads instead of holding one of those few.

On SQLite the default stays at FastAPI's 40: the writers of a process take turns on one lock
(``Database.writers``), and while one writes, the threads waiting for their turn are only
useful if there are others to read and answer meanwhile (measured too: 6 threads cost the
SQLite case API 10-15 % of its throughput).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import FastAPI, Request

from cityops.core.runtime import Runtime

T = TypeVar("T")

# Requests each process runs at once when CITYOPS_WEB_THREADS is not set.
THREADS_SQLITE, THREADS_OTHER = 40, 6


def request_threads(runtime: Runtime) -> int:
    """How many requests each process runs at once."""
    configured = runtime.settings.web_threads
    return configured or (THREADS_SQLITE if runtime.db.dialect == "sqlite" else THREADS_OTHER)


def open_lanes(app: FastAPI, runtime: Runtime) -> None:
    """Size this process's request threads and make the slow lane (inside the event loop:
    the default pool belongs to the running loop)."""
    to_thread.current_default_thread_limiter().total_tokens = request_threads(runtime)
    app.state.slow_lane = CapacityLimiter(runtime.settings.web_slow_threads)


async def in_slow_lane(request: Request, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``work(*args, **kwargs)`` on a thread of the slow lane and answer its result."""
    limiter: CapacityLimiter | None = getattr(request.app.state, "slow_lane", None)
    if limiter is None:  # an app driven without its lifespan (a test client outside `with`)
        limiter = request.app.state.slow_lane = CapacityLimiter(1)
    return await to_thread.run_sync(functools.partial(work, *args, **kwargs), limiter=limiter)
