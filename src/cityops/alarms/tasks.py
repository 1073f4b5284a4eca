"""Background work of the alarms module: the silence scan (no-data rules) and the retry of
cases still pending, every ``SCAN_SECONDS``."""

from __future__ import annotations

from cityops.alarms.service import scan_no_data
from cityops.core.runtime import Runtime

# A no-data alarm comes at most this late; silence limits are minutes, so this is plenty.
SCAN_SECONDS = 10.0


def register_jobs(rt: Runtime) -> None:
    rt.scheduler.every(SCAN_SECONDS, "alarms.no_data_scan", lambda: scan_no_data(rt))
