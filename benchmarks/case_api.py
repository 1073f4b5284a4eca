"""Case API under load: intake and every transition of the loop, 50 concurrent clients.

For each database (SQLite, PostgreSQL) the benchmark makes a fresh database, migrates and
seeds it with the synthetic city, starts the real server (``cityops
serve``, production profile, scheduler off) as a separate process, logs the
staff in once, and drives it from this process with asyncio keep-alive connections:

* warm-up: the mixed load below for a few seconds (not in the figures);
* baseline: every client loops on ``GET /health`` (framework + loopback + ``SELECT 1``);
* load: every client loops, each time either reporting a case as ``citizen`` (about half the
  requests) or moving a waiting case one step along the loop as the role that may
  (register/close: operator, dispatch: dispatcher, accept/handle: the handler of
  ``chengguan-990101``, verify: gridworker, evaluate: citizen).

Afterwards the database is read back: every intake answered 201 must be there ("lost"), and
no case may be behind the last transition acknowledged for it ("lost_transitions"). Triage
runs after the response, in a thread of each worker: how many reports it still had to triage
when the load ended, and how long it took to finish them, are reported too.

Workers: 2 on PostgreSQL (one per core), 1 on SQLite: SQLite has one write lock per file and
writers take it at ``BEGIN IMMEDIATE``, so every write transaction is serialised however many
processes there are; a second process overlaps only the non-writing work, pays for lock
hand-offs (the busy timeout sleeps and retries), lengthens the tail and doubles the memory
(measured in docs/benchmarks.md). ``--workers`` overrides both.

    uv run python benchmarks/case_api.py [--quick] [--only sqlite|postgresql]

Human-readable lines while running; at the end one JSON object per configuration per line.
``CITYOPS_BENCH_DATABASE_URL`` names a PostgreSQL server to use instead of starting one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # the benchmarks folder is not a package: imported from sys.path
    HttpConnection,
    PostgresServer,
    Recorder,
    ServerProcess,
    bearer,
    cityops_server,
    clean_environment,
    closed_loop,
    latency_summary,
    login,
    machine_busy_seconds,
    machine_info,
    postgres_facts,
    print_json_line,
    run_async,
    say,
    self_cpu_seconds,
    source_revision,
    throwaway_database,
    throwaway_postgres,
    timed_request,
    tree_cpu_seconds,
    wait_until_quiet,
)

PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throwaway database
PG_PORT = 25433
NOISE_PCT = 15.0  # CPU (% of one core) used by others above which a result is marked noisy
CATEGORY = "E-01-02"  # 暴露垃圾: routed to chengguan-990101 in district 990101
GRID = (112.905, 112.995, 28.105, 28.145)  # inside grid 99010100100101, the gridworker's
USERS = {
    "citizen": "citizen",
    "operator": "operator",
    "dispatcher": "dispatcher",
    "handler": "handler-chengguan-990101",
    "gridworker": "gridworker",
}


@dataclass(frozen=True)
class Step:
    action: str
    role: str
    body: bytes


LOOP = (
    Step("register", "operator", b"{}"),
    Step("dispatch", "dispatcher", b"{}"),
    Step("accept", "handler", b"{}"),
    Step("handle", "handler", '{"note": "已清理"}'.encode()),
    Step("verify", "gridworker", b'{"passed": true}'),
    Step("close", "operator", b"{}"),
    Step("evaluate", "citizen", b'{"rating": 5}'),
)
STATES = (  # STATES[n]: where a case is after n acknowledged steps
    "reported",
    "registered",
    "dispatched",
    "accepted",
    "handled",
    "verified",
    "closed",
    "evaluated",
)
TRANSITIONS = [step.action for step in LOOP]


@dataclass
class Workload:
    """The mixed load, shared by all clients of one event loop (so no locking is needed):
    cases wait in one queue per step, and a case is in at most one client's hands."""

    tokens: dict[str, str]
    intake_share: float = 0.5
    rng: random.Random = field(default_factory=lambda: random.Random(20260302))
    waiting: list[deque[str]] = field(default_factory=lambda: [deque() for _ in LOOP])
    acknowledged: dict[str, int] = field(default_factory=dict)  # case id -> steps done
    _headers: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._headers = {role: bearer(token) for role, token in self.tokens.items()}

    async def step(self, conn: HttpConnection, recorder: Recorder) -> None:
        ready = [index for index, queue in enumerate(self.waiting) if queue]
        if not ready or self.rng.random() < self.intake_share:
            await self._intake(conn, recorder)
        else:
            await self._advance(conn, recorder, self.rng.choice(ready))

    async def _intake(self, conn: HttpConnection, recorder: Recorder) -> None:
        lon = round(self.rng.uniform(GRID[0], GRID[1]), 6)
        lat = round(self.rng.uniform(GRID[2], GRID[3]), 6)
        body = json.dumps(
            {
                "description": f"垃圾堆在路边，没人清理（压测 {self.rng.randrange(10**6)}）",
                "category_code": CATEGORY,
                "location": {"lon": lon, "lat": lat},
            },
            ensure_ascii=False,
        ).encode()
        status, data = await timed_request(
            conn, recorder, "intake", "POST", "/api/v1/cases", body, self._headers["citizen"]
        )
        if status == 201:
            answer = json.loads(data)
            case_id = answer["id"]
            self.acknowledged[case_id] = 0
            # A report merged at intake into an open case about the same problem nearby
            # (duplicate merging: these reports share a category and a wording) is done.
            if answer["state"] != "merged":
                self.waiting[0].append(case_id)

    async def _advance(self, conn: HttpConnection, recorder: Recorder, index: int) -> None:
        step, case_id = LOOP[index], self.waiting[index].popleft()
        path = f"/api/v1/cases/{case_id}/{step.action}"
        status, _ = await timed_request(
            conn, recorder, step.action, "POST", path, step.body, self._headers[step.role]
        )
        if status == 200:
            self.acknowledged[case_id] = index + 1
            if index + 1 < len(LOOP):
                self.waiting[index + 1].append(case_id)
        # On an error the case leaves the load; the error is counted by its status.


async def _health(conn: HttpConnection, recorder: Recorder) -> None:
    await timed_request(conn, recorder, "health", "GET", "/health")


def _progress(label: str) -> Callable[[Recorder], None]:
    def show(recorder: Recorder) -> None:
        elapsed = recorder.elapsed
        done = recorder.count()
        intakes = recorder.count(["intake"])
        errors = sum(recorder.errors_by_status().values())
        say(
            f"    {label} {elapsed:5.1f} s  {done:7d} requests  {done / elapsed:7.1f}/s"
            f"  intakes {intakes / elapsed:6.1f}/s  errors {errors}"
        )

    return show


# --------------------------------------------------------------------------- one configuration


@dataclass
class Options:
    clients: int
    seconds: float
    warmup: float
    baseline: float
    workers: int | None
    quiet_wait: float = 0.0
    intake_share: float = 0.5
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class Measured:
    workload: Workload
    baseline: Recorder
    load: Recorder
    cpu: dict[str, float]
    workers_cpu: list[float]
    busy_before: float
    cpu_ms_per_request: dict[str, float]
    baseline_server_cpu_ms: float


async def drive(server: ServerProcess, options: Options, pg_pid: int | None) -> Measured:
    """Log in, warm up, measure the /health baseline, then the case load."""
    tokens = {role: await login(server.port, user, PASSWORD) for role, user in USERS.items()}
    workload = Workload(tokens, intake_share=options.intake_share)
    busy_before = await asyncio.to_thread(wait_until_quiet, options.quiet_wait)
    say(f"  machine busy before the run: {busy_before:.0f}% of one CPU")
    say(f"  warm-up {options.warmup:.0f} s (mixed load, not counted)")
    await closed_loop(options.clients, options.warmup, workload.step, server.port)
    say(f"  baseline: {options.clients} clients on GET /health for {options.baseline:.0f} s")
    server_cpu = server.cpu_seconds()
    baseline = await closed_loop(
        options.clients,
        options.baseline,
        _health,
        server.port,
        progress=_progress("health"),
        progress_every=max(1.0, options.baseline / 2),
    )
    baseline_cpu_ms = (server.cpu_seconds() - server_cpu) / max(1, baseline.count()) * 1000
    say(f"  load: {options.clients} clients, intake + transitions, {options.seconds:.0f} s")
    marks = _cpu_marks(server, pg_pid)
    load = await closed_loop(
        options.clients,
        options.seconds,
        workload.step,
        server.port,
        progress=_progress("cases "),
        progress_every=5.0 if options.seconds >= 30 else 2.0,
    )
    after = _cpu_marks(server, pg_pid)
    cpu, workers_cpu, per_request = _cpu_usage(marks, after, load)
    return Measured(
        workload, baseline, load, cpu, workers_cpu, busy_before, per_request, baseline_cpu_ms
    )


def _cpu_usage(
    before: dict[str, float], after: dict[str, float], load: Recorder
) -> tuple[dict[str, float], list[float], dict[str, float]]:
    """CPU as % of one core (server, postgres, loadgen, machine, other), per server process,
    and in ms per request."""
    used = {name: (after[name] - before.get(name, 0.0)) / load.elapsed * 100 for name in after}
    names = ["server", "postgres", "loadgen", "machine"]
    cpu = {name: used[name] for name in names if name in used}
    cpu["other"] = cpu["machine"] - sum(v for k, v in cpu.items() if k != "machine")
    workers = sorted((v for k, v in used.items() if k.startswith("pid:") and v > 1), reverse=True)
    per_request = {
        name: (after[name] - before[name]) / max(1, load.count()) * 1000
        for name in ["server", "postgres", "loadgen"]
        if name in after
    }
    return cpu, workers, per_request


def _cpu_marks(server: ServerProcess, pg_pid: int | None) -> dict[str, float]:
    """CPU seconds so far: the server tree and each of its processes, PostgreSQL, this
    process (the load generator), and the whole machine (to see other people's work)."""
    marks = {"server": server.cpu_seconds(), "loadgen": self_cpu_seconds()}
    pids = server.pids
    for pid in pids:
        if pid != server.process.pid or len(pids) == 1:  # the supervisor only when alone
            marks[f"pid:{pid}"] = tree_cpu_seconds(pid)
    if pg_pid is not None:
        marks["postgres"] = tree_cpu_seconds(pg_pid)
    marks["machine"] = machine_busy_seconds()
    return marks


def prepare_database(url: str, data_dir: Path, secret_key: str) -> None:
    """Migrate and seed a fresh database (areas, catalogue, departments, users)."""
    from cityops.app import build_runtime
    from cityops.core.config import load_settings
    from cityops.demo.geography import synthetic_city
    from cityops.demo.seed import seed_organisation
    from cityops.migrations import upgrade

    settings = load_settings(
        database_url=url, data_dir=data_dir, secret_key=secret_key, run_scheduler=False
    )
    runtime = build_runtime(settings)
    try:
        upgrade(runtime.db.engine)
        seed_organisation(runtime, synthetic_city(), password=PASSWORD)
    finally:
        runtime.db.engine.dispose()


def check_persistence(url: str, workload: Workload) -> dict[str, int]:
    """Read the cases back: acknowledged intakes missing, cases behind their last ack."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, state FROM cases"))
            stored = {str(case_id): state for case_id, state in rows}
    finally:
        engine.dispose()
    acknowledged = {_canonical(case_id): steps for case_id, steps in workload.acknowledged.items()}
    stored = {_canonical(case_id): state for case_id, state in stored.items()}
    lost = sum(1 for case_id in acknowledged if case_id not in stored)
    behind = sum(
        1
        for case_id, steps in acknowledged.items()
        if case_id in stored and _rank(stored[case_id]) < steps
    )
    return {"cases_in_db": len(stored), "lost": lost, "lost_transitions": behind}


def triage_backlog(url: str, limit_s: float = 120.0) -> dict[str, Any]:
    """Triage runs after the request (the brain's thread takes reports in batches): how many
    reports it had still to triage when the load ended, and how long it took to finish them
    (None if not within ``limit_s``)."""
    from sqlalchemy import create_engine, text

    query = text(
        "SELECT count(*) FROM cases c"
        " WHERE NOT EXISTS (SELECT 1 FROM brain_triage t WHERE t.case_id = c.id)"
    )
    engine = create_engine(url)
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            first = left = int(conn.execute(query).scalar_one())
            while left and time.monotonic() - started < limit_s:
                time.sleep(0.1)
                conn.rollback()
                left = int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()
    caught_up = round(time.monotonic() - started, 2) if not left else None
    return {"untriaged_at_end": first, "triage_caught_up_s": caught_up}


def _canonical(case_id: str) -> str:
    return case_id.replace("-", "").lower()  # SQLite stores UUIDs as 32 hex digits


def _rank(state: str) -> int:
    if state == "merged":  # merged at intake: where a report with no step acknowledged is
        return 0
    return STATES.index(state) if state in STATES else -1


@contextmanager
def fresh_database(database: str, tmp: Path, pg: PostgresServer | None) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{tmp / 'bench.sqlite3'}"
        return
    assert pg is not None
    with throwaway_database(pg.url) as url:
        yield url


def run_configuration(database: str, options: Options, pg: PostgresServer | None) -> dict[str, Any]:
    workers = options.workers or (2 if database == "postgresql" else 1)
    say(f"\n== {database}, {workers} worker(s), {options.clients} clients")
    secret_key = secrets.token_urlsafe(36)
    with (
        tempfile.TemporaryDirectory(prefix="cityops-bench-") as tmp_name,
        fresh_database(database, Path(tmp_name), pg) as url,
    ):
        tmp = Path(tmp_name)
        facts = postgres_facts(url) if database == "postgresql" else _sqlite_facts()
        say(f"  database: {facts}")
        say("  migrating and seeding a fresh database")
        prepare_database(url, tmp / "data", secret_key)
        gc.collect()
        gc.freeze()  # the seeding objects stay out of the load generator's collections
        env = clean_environment(
            database_url=url,
            data_dir=str(tmp / "data"),
            secret_key=secret_key,
            profile="production",
            run_scheduler="false",
            log_level="WARNING",
            **options.settings,
        )
        with cityops_server(env=env, workers=workers, log_path=tmp / "server.log") as server:
            say(f"  server pid {server.process.pid} on 127.0.0.1:{server.port}")
            pg_pid = pg.pid if pg is not None and database == "postgresql" else None
            measured = run_async(drive(server, options, pg_pid))
            backlog = triage_backlog(url)
            rss = server.rss_mb()
            log_tail = server.log_tail(5) if measured.load.errors_by_status() else ""
        persistence = check_persistence(url, measured.workload)
    if log_tail:
        say(f"  server log (tail):\n{log_tail}")
    return summarise(database, workers, options, measured, persistence | backlog, rss, facts)


def _sqlite_facts() -> dict[str, str]:
    import sqlite3

    version = sqlite3.sqlite_version
    return {"sqlite_version": version, "journal_mode": "wal", "synchronous": "normal"}


def summarise(
    database: str,
    workers: int,
    options: Options,
    measured: Measured,
    persistence: dict[str, Any],
    rss: float,
    facts: dict[str, str],
) -> dict[str, Any]:
    load, baseline = measured.load, measured.baseline
    everything = latency_summary(load.all_latencies())
    intake = latency_summary(load.all_latencies(["intake"]))
    moves = latency_summary(load.all_latencies(TRANSITIONS))
    health = latency_summary(baseline.all_latencies())
    in_app = latency_summary(load.all_server_times())
    result: dict[str, Any] = {
        "bench": "case_api",
        "database": database,
        "workers": workers,
        "clients": options.clients,
        "intake_share": options.intake_share,
        "seconds": int(options.seconds) if options.seconds.is_integer() else options.seconds,
        "requests_per_s": round(load.count() / load.elapsed, 1),
        "intakes_per_s": round(load.count(["intake"]) / load.elapsed, 1),
        "transitions_per_s": round(load.count(TRANSITIONS) / load.elapsed, 1),
        "p50_ms": everything["p50_ms"],
        "p99_ms": everything["p99_ms"],
        "intake_p50_ms": intake["p50_ms"],
        "intake_p99_ms": intake["p99_ms"],
        "transition_p50_ms": moves["p50_ms"],
        "transition_p99_ms": moves["p99_ms"],
        "max_ms": everything["max_ms"],
        "server_p50_ms": in_app["p50_ms"],
        "server_p99_ms": in_app["p99_ms"],
        "requests": load.count(),
        "errors": sum(load.errors_by_status().values()),
        "errors_by_status": load.errors_by_status(),
        "lost": persistence["lost"],
        "lost_transitions": persistence["lost_transitions"],
        "cases_in_db": persistence["cases_in_db"],
        "untriaged_at_end": persistence["untriaged_at_end"],
        "triage_caught_up_s": persistence["triage_caught_up_s"],
        "baseline_health_per_s": round(baseline.count() / baseline.elapsed, 1),
        "baseline_p50_ms": health["p50_ms"],
        "baseline_p99_ms": health["p99_ms"],
        "baseline_errors": sum(baseline.errors_by_status().values()),
        "server_rss_mb": rss,
        "cpu_pct": {name: round(value, 1) for name, value in measured.cpu.items()},
        "server_processes_cpu_pct": [round(value, 1) for value in measured.workers_cpu],
        "cpu_ms_per_request": {k: round(v, 2) for k, v in measured.cpu_ms_per_request.items()},
        "baseline_server_cpu_ms_per_request": round(measured.baseline_server_cpu_ms, 2),
        "machine_busy_before_pct": round(measured.busy_before, 1),
        "noisy": measured.cpu["other"] > NOISE_PCT or measured.busy_before > NOISE_PCT,
        "settings": options.settings,
        "database_facts": facts,
        "revision": source_revision(),
    }
    _describe(result, load)
    return result


def _describe(result: dict[str, Any], load: Recorder) -> None:
    say(
        f"  result: {result['requests_per_s']} req/s ({result['intakes_per_s']} intakes/s,"
        f" {result['transitions_per_s']} transitions/s), p50 {result['p50_ms']} ms,"
        f" p99 {result['p99_ms']} ms, errors {result['errors']} {result['errors_by_status']},"
        f" lost {result['lost']}/{result['lost_transitions']}"
    )
    say(
        f"  triage: {result['untriaged_at_end']} reports waiting when the load ended,"
        f" all triaged after {result['triage_caught_up_s']} s"
    )
    say(
        f"  baseline /health: {result['baseline_health_per_s']} req/s,"
        f" p50 {result['baseline_p50_ms']} ms, p99 {result['baseline_p99_ms']} ms"
    )
    for kind in ["intake", *TRANSITIONS]:
        if load.latencies.get(kind):
            stats = latency_summary(load.latencies[kind])
            say(
                f"    {kind:9s} {len(load.latencies[kind]):7d}  p50 {stats['p50_ms']:7.1f} ms"
                f"  p99 {stats['p99_ms']:7.1f} ms  max {stats['max_ms']:7.1f} ms"
            )
    say(
        f"  time inside the app (Server-Timing): p50 {result['server_p50_ms']} ms,"
        f" p99 {result['server_p99_ms']} ms"
    )
    say(
        f"  server RSS {result['server_rss_mb']} MiB; CPU, % of one core: {result['cpu_pct']},"
        f" per server process {result['server_processes_cpu_pct']}"
    )
    say(
        f"  CPU per request, ms: {result['cpu_ms_per_request']};"
        f" per /health request (server): {result['baseline_server_cpu_ms_per_request']}"
    )
    if result["noisy"]:
        say("  WARNING: other processes used the CPUs during this run; figures are pessimistic")


# --------------------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="10 s per configuration")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (50)")
    parser.add_argument("--seconds", type=float, help="load duration (60; 10 with --quick)")
    parser.add_argument("--workers", type=int, help="server workers (default 2 on PG, 1 SQLite)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), help="one database only")
    parser.add_argument(
        "--intake-share",
        type=float,
        default=0.5,
        help="share of requests that report a new case (0.5; 1 = intake only)",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=300.0,
        help="wait up to this many seconds for other processes to leave the CPUs (300)",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra server setting, e.g. reference_cache_seconds=60 (CITYOPS_NAME)",
    )
    args = parser.parse_args(argv)
    if any("=" not in item for item in args.setting):
        parser.error("--setting takes NAME=VALUE")
    if args.clients < 1 or (args.seconds is not None and args.seconds <= 0):
        parser.error("--clients and --seconds must be positive")
    if not 0 < args.intake_share <= 1:
        parser.error("--intake-share must be in (0, 1]")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    options = Options(
        clients=args.clients,
        seconds=seconds,
        warmup=2.0 if args.quick else 5.0,
        baseline=3.0 if args.quick else 10.0,
        workers=args.workers,
        quiet_wait=args.quiet_wait,
        intake_share=args.intake_share,
        settings={name.lower(): value for name, _, value in map(_split_setting, args.setting)},
    )
    say(f"case_api benchmark on {machine_info()}")
    databases = [args.only] if args.only else ["sqlite", "postgresql"]
    results = []
    with ExitStack() as stack:
        pg = None
        if "postgresql" in databases:
            pg = _postgres_server(stack)
        for database in databases:
            results.append(run_configuration(database, options, pg))
    say("")
    for result in results:
        print_json_line(result)
    return 0


def _split_setting(item: str) -> tuple[str, str, str]:
    return item.partition("=")


def _postgres_server(stack: ExitStack) -> PostgresServer:
    given = os.environ.get("CITYOPS_BENCH_DATABASE_URL")
    if given:
        say("PostgreSQL: the server named by CITYOPS_BENCH_DATABASE_URL")
        return PostgresServer(url=given)
    say(f"PostgreSQL: a durable throwaway server on 127.0.0.1:{PG_PORT} (scripts/pg.sh)")
    return stack.enter_context(throwaway_postgres(PG_PORT))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
