"""The garbage collector of a long-running process (web app, ingest worker).

Two settings, taken when start-up is done and given back when the process's app stops:

* what start-up loaded (libraries, directories, models: hundreds of thousands of objects)
  lives as long as the process: frozen out of the collector's sight, so that a full
  collection scans only what requests and batches make;
* the youngest generation is collected every ``YOUNG_THRESHOLD`` net allocations instead of
  Python's 700. A request or an ingest batch makes thousands of short-lived objects that
  reference counting frees; at 700 the collector ran thousands of times a second and took
  about a seventh of an HTTP ingest server's CPU (docs/benchmarks.md). Garbage in cycles
  waits a little longer: at most this many objects.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle() -> tuple[int, int, int]:
    """Freeze what is loaded and raise the youngest generation's threshold; returns the
    thresholds to give back to ``release``. No full collection first: a process that starts
    apps one after another (the tests: hundreds) would pay 0.2 s for each; a caller that
    starts once may collect before."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *previous[1:])
    return previous


def release(previous: tuple[int, int, int]) -> None:
    """Undo ``settle`` (a process that runs apps one after another: the tests)."""
    gc.set_threshold(*previous)
    gc.unfreeze()
