"""CPU of the ingest path in process: MQTT-shaped batches and HTTP batches, no broker, no server.

A fresh database (SQLite, or a throwaway database on a durable PostgreSQL server with
``--database postgresql``) is prepared as ``benchmarks/ingest.py`` does (the synthetic city,
10,000 traffic counters, 20 water-level gauges, a threshold rule on the gauges). Then:

- **mqtt**: batches of 500 messages (3 metrics each), as the MQTT worker receives them, go
  straight to the ingest handler the worker calls (``cityops.app.connect_perception``: decode,
  validate, store, commit, alarm rules); message *n* goes to device ``tc-(n mod 10,000)``.
- **http**: batches of 1,000 samples of many devices go to ``service.ingest_many`` (the
  ``POST /api/v1/telemetry`` route without HTTP).

The figure is **CPU time of the calling thread** (``time.thread_time()``) per message and per
data point, after a warm-up that has sent every device once (as a running worker has). Other
work on the machine does not inflate it the way it inflates wall-clock throughput (the
database's own work in the process counts, a PostgreSQL server's does not).
``--profile`` prints the top entries of a cProfile run of the same batches.

    uv run python benchmarks/ingest_profile.py                  # 40 batches of each
    uv run python benchmarks/ingest_profile.py --profile        # and where the time goes
    # options: --batches N --database sqlite|postgresql --pg-port 25433 --top 25

Ends with one JSON line per path; ``points_per_cpu_s`` = data points per CPU-second.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import (
    machine_info,
    print_json_line,
    say,
    source_revision,
)
from ingest import DEVICES, METRICS, fresh_database, prepare_database

MQTT_BATCH = 500
HTTP_BATCH = 1000


@dataclass(frozen=True)
class Message:
    """What the MQTT worker hands the ingest handler."""

    device_id: str
    payload: bytes
    received_at: datetime


class Feed:
    """Consecutive payloads: sample *n* is device ``tc-(n mod 10,000)`` at ``base + n`` ms."""

    def __init__(self, base: datetime) -> None:
        self.base_ms = int(base.timestamp() * 1000)
        self.n = 0

    def sample(self) -> tuple[str, dict[str, Any]]:
        n = self.n
        self.n += 1
        values = {"vehicle_count": n % 90, "avg_speed": 20.0 + n % 40, "occupancy": float(n % 80)}
        return f"tc-{n % DEVICES:06d}", {"ts": self.base_ms + n, "values": values}

    def mqtt_batch(self) -> list[Message]:
        received_at = datetime.now(UTC)
        batch = []
        for _ in range(MQTT_BATCH):
            device_id, document = self.sample()
            payload = json.dumps(document, separators=(",", ":")).encode()
            batch.append(Message(device_id, payload, received_at))
        return batch

    def http_batch(self) -> bytes:
        items = []
        for _ in range(HTTP_BATCH):
            device_id, document = self.sample()
            items.append({"device_id": device_id, **document})
        return json.dumps(items, separators=(",", ":")).encode()


def measure(
    name: str, make: Any, run: Any, batches: int, points_per_batch: int, messages_per_batch: int
) -> dict[str, Any]:
    """CPU of ``run`` over ``batches`` batches made one at a time by ``make`` (untimed)."""
    # Warm-up: every device once (what a running worker has done long since).
    for _ in range(-(-DEVICES // messages_per_batch)):
        run(make())
    cpu = 0.0
    for _ in range(batches):
        batch = make()
        started = time.thread_time()
        run(batch)
        cpu += time.thread_time() - started
    messages = messages_per_batch * batches
    points = points_per_batch * batches
    say(
        f"  {name}: {batches} batches, {cpu:.2f} CPU-s: "
        f"{cpu / messages * 1e6:.1f} µs per message, {cpu / points * 1e6:.2f} µs per data point"
    )
    return {
        "configuration": name,
        "batches": batches,
        "messages": messages,
        "points": points,
        "cpu_s": round(cpu, 3),
        "cpu_us_per_message": round(cpu / messages * 1e6, 1),
        "cpu_us_per_point": round(cpu / points * 1e6, 2),
        "points_per_cpu_s": round(points / cpu, 1),
    }


def profile(name: str, make: Any, run: Any, batches: int, top: int) -> None:
    profiler = cProfile.Profile()
    for _ in range(batches):
        batch = make()
        profiler.enable()
        run(batch)
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    say(f"--- {name}: top {top} by own time")
    say(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="timed batches of each path")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-port", type=int, default=25433)
    parser.add_argument("--profile", action="store_true", help="print cProfile's top entries")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    from cityops.app import build_runtime
    from cityops.core.auth import SYSTEM
    from cityops.core.config import load_settings
    from cityops.devices import service

    facts = {**machine_info(), "revision": source_revision()}
    results = []
    with tempfile.TemporaryDirectory(prefix="cityops-ingest-profile-") as tmp, ExitStack() as stack:
        tmpdir = Path(tmp)
        db = fresh_database(stack, args.database, args.pg_port, tmpdir)
        say(f"preparing the database ({args.database})")
        prepare_database(db)
        settings = load_settings(
            database_url=db.url, data_dir=db.data_dir, secret_key=db.secret_key, run_scheduler=False
        )
        runtime = build_runtime(settings)
        try:
            handler = runtime.caches["mqtt.ingest_handler"]
            feed = Feed(datetime.now(UTC) - timedelta(minutes=1))

            def mqtt(batch: list[Message]) -> None:
                handler(batch)

            def http(batch: bytes) -> None:
                service.ingest_many(runtime, actor=SYSTEM, payload=batch)

            # As the worker does once started (cityops.cli.ingest): what setup made is
            # frozen out of the garbage collector's generations.
            gc.collect()
            gc.freeze()
            n = args.batches
            points, samples = MQTT_BATCH * METRICS, HTTP_BATCH * METRICS
            results.append(measure("mqtt", feed.mqtt_batch, mqtt, n, points, MQTT_BATCH))
            results.append(measure("http", feed.http_batch, http, n, samples, HTTP_BATCH))
            if args.profile:
                profile("mqtt", feed.mqtt_batch, mqtt, n, args.top)
                profile("http", feed.http_batch, http, n, args.top)
        finally:
            runtime.db.engine.dispose()
    for result in results:
        print_json_line({"bench": "ingest_profile", **result, "database": args.database, **facts})


if __name__ == "__main__":
    main()
