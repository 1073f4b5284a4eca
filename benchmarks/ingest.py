"""Telemetry ingest: broker-only baseline, cityops end to end over MQTT at QoS 1 with one and
two ingest workers, reading-to-alarm latency, HTTP batch ingest, and readings lost.

One machine runs everything: the Mosquitto broker of ``scripts/mqtt.sh`` (CITYOPS_MQTT_PORT),
the publishers, ``mosquitto_sub``, the ``cityops ingest`` workers, the server and the database.
Every message carries one sample of a traffic counter: 3 metrics, 3 data points.

1. A fresh database (SQLite file; or PostgreSQL with ``--database postgresql``): migrated,
   the synthetic city seeded, 10,000 traffic counters and 20 water-level gauges registered
   (one CSV import), a rule "water level above 5 m" on the gauges, an integration API key.
2. The broker gets the simulator account (publish on device telemetry topics; see
   ``cityops simulate``) and the ingest account, on a topic prefix of this run only.
3. **baseline**: ``mosquitto_sub -V 5 -q 1`` subscribes to every device's telemetry; two
   publisher processes send the stream (each message for the next of the 10,000 devices,
   QoS 1, at most 100 messages awaiting PUBACK per publisher, written by cityops' own MQTT
   session a window at a time, not through paho); the rate is the messages the
   subscriber printed over the time from the first publish to the last message received.
4. **mqtt-1w / mqtt-2w**: the same stream with ``cityops ingest`` subprocesses (one, then
   two, sharing the stream through the shared subscription) instead of the subscriber; the
   rate is the messages (and data points) stored over the time from the first publish until
   all were in the database. ``lost`` = data points acknowledged to the publishers (PUBACK)
   and not stored. Each configuration has its own timestamps.
5. **alarm**: with one worker idle, one gauge at a time publishes 7 m (over the line) and the
   benchmark polls the ``alarms`` table every 2 ms until that gauge's alarm row is there:
   publish to alarm row committed, as the command screen would read it.
6. **http**: ``cityops serve`` (1 worker) and 4 clients posting batches of 1,000 samples (3,000
   data points) to ``POST /api/v1/telemetry`` with the API key, closed loop; **http-2p**: the
   same with 2 server processes (``CITYOPS_WORKERS=2``), so that parsing and checking use
   both CPUs.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from common import (
    ROOT,
    HttpConnection,
    Recorder,
    cityops_server,
    clean_environment,
    closed_loop,
    latency_summary,
    machine_busy_seconds,
    machine_info,
    print_json_line,
    run_async,
    say,
    source_revision,
    stop_process_group,
    throwaway_database,
    throwaway_postgres,
    timed_request,
    tree_cpu_seconds,
)

DEVICES = 10_000
GAUGES = 20
PUBLISHERS = 2
WINDOW = 100
METRICS = 3
HTTP_BATCH = 1000
HTTP_CLIENTS = 4
TAIL_MESSAGES = 1000  # the stream's last messages, whose arrival the end-to-end wait polls
ALARM_LINE = 5.0
DAY_MS = 86_400_000


@dataclass
class Options:
    messages: int
    alarms: int
    http_seconds: float
    database: str
    pg_port: int
    quick: bool


@dataclass
class Broker:
    host: str
    port: int
    url: str
    admin: str
    admin_password: str
    pid: int | None


@dataclass
class Accounts:
    prefix: str
    group: str
    sim_user: str
    sim_password: str
    ingest_user: str
    ingest_password: str


@dataclass
class Stream:
    """What the publishers reported."""

    sent: int = 0
    acked: int = 0
    refused: int = 0
    started: float = 0.0  # wall clock of the first publish
    finished: float = 0.0  # wall clock of the last PUBACK
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / max(self.finished - self.started, 1e-9)


@dataclass
class Database:
    url: str
    path: Path | None  # the SQLite file, for direct polling
    data_dir: Path
    api_key: str = ""
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    gauges: list[str] = field(default_factory=list)


def fresh_database(stack: ExitStack, database: str, pg_port: int, tmpdir: Path) -> Database:
    """A new SQLite file under ``tmpdir``, or a throwaway database on a durable PostgreSQL
    server on ``pg_port`` (both removed when ``stack`` closes)."""
    if database == "postgresql":
        pg = stack.enter_context(throwaway_postgres(pg_port))
        url = stack.enter_context(throwaway_database(pg.url))
        return Database(url=url, path=None, data_dir=tmpdir / "data")
    path = tmpdir / "cityops.db"
    return Database(url=f"sqlite:///{path}", path=path, data_dir=tmpdir / "data")


# --------------------------------------------------------------------------- the broker


def running_broker() -> Broker:
    script = str(ROOT / "scripts" / "mqtt.sh")
    status = subprocess.run([script, "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        port = os.environ.get("CITYOPS_MQTT_PORT", "21883")
        raise SystemExit(
            f"no MQTT broker on port {port}: run `CITYOPS_MQTT_PORT={port} scripts/mqtt.sh start`"
        )
    url = subprocess.run([script, "url"], capture_output=True, text=True, check=True).stdout
    admin, password = subprocess.run(
        [script, "admin"], capture_output=True, text=True, check=True
    ).stdout.split()
    port = int(url.strip().rsplit(":", 1)[1])
    pid_file = ROOT / "var" / f"mqtt-{port}" / "run" / "mosquitto.pid"
    try:
        pid: int | None = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pid = None
    return Broker("127.0.0.1", port, url.strip(), admin, password, pid)


def provision(broker: Broker) -> Accounts:
    from cityops.core.mqtt.address import BrokerAddress
    from cityops.core.mqtt.provision import BrokerAdmin
    from cityops.demo.simulate import ensure_simulator_client

    tag = uuid.uuid4().hex[:8]
    accounts = Accounts(
        prefix=f"bench{tag}/cityops",
        group=f"bench-{tag}",
        sim_user="",
        sim_password=secrets.token_urlsafe(18),
        ingest_user=f"bench-ingest-{tag}",
        ingest_password=secrets.token_urlsafe(18),
    )
    with BrokerAdmin(
        BrokerAddress.parse(broker.url),
        username=broker.admin,
        password=broker.admin_password,
        topic_prefix=accounts.prefix,
    ) as admin:
        accounts.sim_user = ensure_simulator_client(admin, accounts.sim_password)
        admin.ensure_ingest_client(
            accounts.ingest_user,
            accounts.ingest_password,
            share_group=accounts.group,
            role=f"bench-ingest-{tag}",
        )
    return accounts


def unprovision(broker: Broker, accounts: Accounts) -> None:
    from cityops.core.mqtt.address import BrokerAddress
    from cityops.core.mqtt.provision import BrokerAdmin

    with BrokerAdmin(
        BrokerAddress.parse(broker.url),
        username=broker.admin,
        password=broker.admin_password,
        topic_prefix=accounts.prefix,
    ) as admin:
        admin.remove_ingest_client(accounts.ingest_user, role=f"bench-ingest-{accounts.group[6:]}")


# --------------------------------------------------------------------------- the database


def device_csv() -> tuple[bytes, list[str]]:
    """The fleet as CSV with ``{lon}``/``{lat}`` to fill in, and the gauges' ids."""
    lines = ["id,type,name,lon,lat,installed_on,status"]
    for n in range(DEVICES):
        lines.append(f"tc-{n:06d},traffic_counter,车流 {n},{{lon}},{{lat}},2025-01-01,active")
    gauges = [f"wl-{n:06d}" for n in range(GAUGES)]
    for device_id in gauges:
        lines.append(f"{device_id},water_level,水位 {device_id},{{lon}},{{lat}},2025-01-01,active")
    return "\n".join(lines).encode(), gauges


def prepare_database(db: Database) -> None:
    """Migrate, seed the synthetic city, register the fleet, the alarm rule and an API key."""

    from cityops.alarms import service as alarms
    from cityops.alarms.schemas import LevelIn, RuleIn
    from cityops.app import build_runtime
    from cityops.core.auth import SYSTEM
    from cityops.core.config import load_settings
    from cityops.demo.geography import random_point_in, synthetic_city
    from cityops.demo.seed import seed_organisation
    from cityops.devices import service as devices
    from cityops.migrations import upgrade
    from cityops.org import service as org
    from cityops.org.schemas import ApiKeyIn

    settings = load_settings(
        database_url=db.url, data_dir=db.data_dir, secret_key=db.secret_key, run_scheduler=False
    )
    runtime = build_runtime(settings)
    try:
        upgrade(runtime.db.engine)
        seed_organisation(runtime, synthetic_city(), password=secrets.token_urlsafe(12))
        devices.import_default_types(runtime, actor=SYSTEM)

        grid = org.areas_geojson(runtime, level="grid")["features"][0]["geometry"]
        rng = random.Random(1)
        template, db.gauges = device_csv()
        rows = []
        for line in template.decode().splitlines():
            lon, lat = random_point_in(grid, rng)
            rows.append(line.replace("{lon}", f"{lon:.6f}").replace("{lat}", f"{lat:.6f}"))
        started = time.perf_counter()
        report = devices.import_devices(
            runtime, actor=SYSTEM, data="\n".join(rows).encode(), filename="bench.csv"
        )
        say(f"  registered {report.created} devices in {time.perf_counter() - started:.1f} s")
        alarms.create_rule(
            runtime,
            actor=SYSTEM,
            data=RuleIn(
                code="bench-wl-high",
                name_zh="水位超警戒",
                name_en="Water above the line",
                device_type="water_level",
                kind="threshold",
                metric="water_level",
                levels=[LevelIn(severity="major", above=ALARM_LINE)],
                deadband=0.05,
            ),
        )
        db.api_key = org.create_api_key(
            runtime, actor=SYSTEM, data=ApiKeyIn(name="bench", username="integration")
        ).key
    finally:
        runtime.db.engine.dispose()


class StoredCounter:
    """Counts the values stored for the traffic counters with ``first_ts <= ts <= last_ts`` (a
    readings row is a sample: its values are the keys of its JSON object), on one connection
    kept open for the polls of a run."""

    def __init__(self, db: Database) -> None:
        keys = "json_each(data)" if db.path is not None else "json_object_keys(data)"
        self.query = (
            f"SELECT count(*) FROM devices_readings, {keys} "  # noqa: S608
            "WHERE ts BETWEEN :a AND :b AND device_id LIKE 'tc-%'"
        )
        self.db = db
        self.stack = ExitStack()
        self.count: Any = None

    def __enter__(self) -> StoredCounter:
        if self.db.path is not None:
            conn = self.stack.enter_context(sqlite3.connect(self.db.path, timeout=30))
            query = self.query.replace(":a", "?").replace(":b", "?")
            self.count = lambda a, b: conn.execute(query, (a, b)).fetchone()[0]
        else:
            from sqlalchemy import create_engine, text

            engine = create_engine(self.db.url)
            self.stack.callback(engine.dispose)
            conn = self.stack.enter_context(engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            ))  # fmt: skip
            query = text(self.query)
            self.count = lambda a, b: conn.execute(query, {"a": a, "b": b}).scalar()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()

    def points(self, first_ts: int, last_ts: int) -> int:
        return int(self.count(first_ts, last_ts) or 0)


def stored_points(db: Database, first_ts: int, last_ts: int) -> int:
    """One count of :class:`StoredCounter`."""
    with StoredCounter(db) as counter:
        return counter.points(first_ts, last_ts)


# --------------------------------------------------------------------------- publishers


def publish_share(
    broker: tuple[str, int, str],
    account: tuple[str, str, str],
    share: tuple[int, int, int, int],
    go: Any,
    out: Any,
) -> None:
    """A publisher process: messages ``first, first+stride, …`` (``count`` of them), message
    ``n`` for device ``n % DEVICES`` at ``ts = base + n``; QoS 1, at most ``WINDOW`` waiting
    for their PUBACK. It speaks MQTT on its socket (cityops' own session, as the ingest
    worker does), writing what the window allows in one call, so that the publishers, not
    paho's per-message work, set the pace as little as possible."""
    from cityops.core.mqtt.address import BrokerAddress
    from cityops.core.mqtt.session import MqttSession

    username, password, prefix = account
    first, stride, count, base = share
    session = MqttSession.open(
        BrokerAddress.parse(broker[2]), client_id=f"bench-pub-{uuid.uuid4().hex[:10]}",
        username=username, password=password, keepalive=60, session_expiry=0,
        receive_maximum=10, clean_start=True,
    )  # fmt: skip
    window = min(WINDOW, session.server_receive_maximum)
    topics = [f"{prefix}/devices/tc-{n:06d}/telemetry" for n in range(DEVICES)]
    go.wait()
    cpu0 = time.process_time()
    started = time.time()
    sent = acked = refused = 0
    deadline = time.monotonic() + 600
    while (sent < count or acked + refused < sent) and time.monotonic() < deadline:
        room = min(window - (sent - acked - refused), count - sent)
        if room > 0:
            chunk = []
            for k in range(sent, sent + room):
                n = first + k * stride
                chunk.append((
                    topics[n % DEVICES],
                    f'{{"ts":{base + n},"values":{{"vehicle_count":{50 + n % 300},'
                    f'"avg_speed":{20 + n % 40:.1f},"occupancy":{5 + n % 50:.1f}}}}}'.encode(),
                ))  # fmt: skip
            session.publish(chunk)
            sent += room
        session.read(1.0)
        for _, reason in session.take_acks():
            acked += reason < 0x80
            refused += reason >= 0x80
    finished = time.time()
    out.put((sent, acked, refused, started, finished, time.process_time() - cpu0))
    session.close(graceful=True)


def publish_stream(broker: Broker, accounts: Accounts, messages: int, base: int) -> Stream:
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    per = [
        messages // PUBLISHERS + (1 if i < messages % PUBLISHERS else 0) for i in range(PUBLISHERS)
    ]
    procs = [
        ctx.Process(
            target=publish_share,
            args=(
                (broker.host, broker.port, broker.url),
                (accounts.sim_user, accounts.sim_password, accounts.prefix),
                (i, PUBLISHERS, per[i], base),
                go,
                out,
            ),
        )
        for i in range(PUBLISHERS)
    ]
    for proc in procs:
        proc.start()
    time.sleep(1.5)  # connected and waiting
    go.set()
    stream = Stream(started=float("inf"))
    for _ in procs:
        sent, acked, refused, started, finished, cpu = out.get(timeout=900)
        stream.sent += sent
        stream.acked += acked
        stream.refused += refused
        stream.started = min(stream.started, started)
        stream.finished = max(stream.finished, finished)
        stream.cpu_seconds += cpu
    for proc in procs:
        proc.join(30)
    return stream


# --------------------------------------------------------------------------- configurations


def baseline(broker: Broker, accounts: Accounts, options: Options) -> dict[str, Any]:
    say("baseline: mosquitto_sub at QoS 1, no cityops")
    command = [
        "mosquitto_sub", "-h", broker.host, "-p", str(broker.port), "-V", "5", "-q", "1",
        "-u", accounts.ingest_user, "-P", accounts.ingest_password,
        "-i", f"bench-sub-{uuid.uuid4().hex[:6]}", "-t", f"{accounts.prefix}/devices/+/telemetry",
    ]  # fmt: skip
    sub = subprocess.Popen(command, stdout=subprocess.PIPE, start_new_session=True)
    received = [0]
    done = threading.Event()
    last = [0.0]

    def count() -> None:
        assert sub.stdout is not None
        while True:
            chunk = sub.stdout.read1(1 << 16)
            if not chunk:
                return
            received[0] += chunk.count(b"\n")
            last[0] = time.time()
            if received[0] >= options.messages:
                done.set()

    reader = threading.Thread(target=count, daemon=True)
    reader.start()
    time.sleep(1.0)
    cpu_before = tree_cpu_seconds(broker.pid) if broker.pid else 0.0
    busy_before = machine_busy_seconds()
    stream = publish_stream(broker, accounts, options.messages, _base(0))
    done.wait(120)
    machine = machine_busy_seconds() - busy_before
    broker_cpu = (tree_cpu_seconds(broker.pid) - cpu_before) if broker.pid else None
    sub_cpu = tree_cpu_seconds(sub.pid)
    stop_process_group(sub)
    elapsed = max(last[0] - stream.started, 1e-9)
    rate = received[0] / elapsed
    say(
        f"  published {stream.sent} ({stream.acked} acked) at {stream.rate:,.0f}/s; "
        f"mosquitto_sub received {received[0]} at {rate:,.0f} messages/s "
        f"({rate * METRICS:,.0f} data points/s)"
    )
    return {
        "configuration": "baseline",
        "messages": stream.sent,
        "received": received[0],
        "messages_per_s": round(rate, 1),
        "points_per_s": round(rate * METRICS, 1),
        "published_per_s": round(stream.rate, 1),
        "p50_ms": None,
        "p99_ms": None,
        "lost": stream.acked - received[0],
        "cpu_s": {
            "broker": _r(broker_cpu),
            "publishers": round(stream.cpu_seconds, 2),
            "subscriber": round(sub_cpu, 2),
            "machine": round(machine, 2),
        },
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _base(config: int) -> int:
    """The first timestamp of a configuration: days apart, all within the accepted week."""
    now = int(time.time() * 1000)
    return now - 5 * DAY_MS + config * DAY_MS


def worker_env(broker: Broker, accounts: Accounts, db: Database) -> dict[str, str]:
    env = clean_environment(
        database_url=db.url,
        data_dir=str(db.data_dir),
        secret_key=db.secret_key,
        run_scheduler="false",
        log_level="WARNING",
        mqtt_url=broker.url,
        mqtt_admin_username=broker.admin,
        mqtt_admin_password=broker.admin_password,
        mqtt_ingest_username=accounts.ingest_user,
        mqtt_ingest_password=accounts.ingest_password,
        mqtt_topic_prefix=accounts.prefix,
        mqtt_share_group=accounts.group,
    )
    env["PYTHONPATH"] = str(ROOT / "src")
    return env


def start_workers(
    count: int, broker: Broker, accounts: Accounts, db: Database, log_dir: Path
) -> list[subprocess.Popen[bytes]]:
    env = worker_env(broker, accounts, db)
    workers = []
    for i in range(count):
        log = open(log_dir / f"worker-{count}-{i}.log", "wb")  # noqa: SIM115 (closed with the process)
        workers.append(
            subprocess.Popen(
                [sys.executable, "-c", "from cityops.cli.main import app; app()", "ingest",
                 "--client-id", f"bench-{accounts.group}-{i}"],
                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
    # Worker i keeps client id i across configurations: a stopped worker's persistent
    # session stays in the shared group, and the broker would queue part of the stream for it.
    return workers


def warm_up(broker: Broker, accounts: Accounts, db: Database, config: int, workers: int) -> None:
    base = _base(config) - 60_000
    # A round published before a new worker has subscribed is lost: each round waits 30 s.
    for _ in range(3):
        publish_stream(broker, accounts, 20 * workers, base)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if stored_points(db, base, base + 1000) >= 20 * workers * METRICS:
                return
            time.sleep(0.2)
    raise RuntimeError("the ingest workers did not store the warm-up messages")


def end_to_end(
    workers_count: int, broker: Broker, accounts: Accounts, db: Database, options: Options,
    log_dir: Path, config: int,
) -> tuple[dict[str, Any], list[subprocess.Popen[bytes]]]:  # fmt: skip
    say(
        f"mqtt-{workers_count}w: {workers_count} cityops ingest worker(s), QoS 1, "
        f"{options.database}"
    )
    workers = start_workers(workers_count, broker, accounts, db, log_dir)
    try:
        time.sleep(3.0)
        warm_up(broker, accounts, db, config, workers_count)
    except BaseException:  # the caller only stops the workers it was handed
        for worker in workers:
            stop_process_group(worker)
        raise
    base = _base(config)
    expected_last = base + options.messages
    cpu_before = {w.pid: tree_cpu_seconds(w.pid) for w in workers}
    broker_before = tree_cpu_seconds(broker.pid) if broker.pid else 0.0
    busy_before = machine_busy_seconds()
    stream = publish_stream(broker, accounts, options.messages, base)
    target = stream.acked * METRICS
    stored, stored_at, last_change = 0, time.time(), time.monotonic()
    # Counting everything stored takes the database tens of milliseconds by the end of a
    # run, CPU taken from the system measured: between whole counts (one a second, for
    # progress), the polls count only the stream's last messages, and count the whole once
    # those are in. Each publisher sends its share in order, so the last ones come last.
    tail_first = max(base, expected_last - TAIL_MESSAGES)
    tail_target = (expected_last - tail_first) * METRICS if stream.acked == stream.sent else 0
    whole_at = time.monotonic()
    with StoredCounter(db) as counter:
        while True:
            now = time.monotonic()
            if now - whole_at >= 1.0 or counter.points(tail_first, expected_last) >= tail_target:
                now_stored, whole_at = counter.points(base, expected_last), now
                if now_stored != stored:
                    stored, stored_at, last_change = now_stored, time.time(), time.monotonic()
            if stored >= target or time.monotonic() - last_change > 20:
                break
            time.sleep(0.05)
    elapsed = max(stored_at - stream.started, 1e-9)
    worker_cpu = sum(tree_cpu_seconds(w.pid) - cpu_before[w.pid] for w in workers)
    machine = machine_busy_seconds() - busy_before
    broker_cpu = (tree_cpu_seconds(broker.pid) - broker_before) if broker.pid else None
    messages_rate = stored / METRICS / elapsed
    lost = target - stored
    say(
        f"  published {stream.sent} ({stream.acked} acked, {stream.refused} refused) at "
        f"{stream.rate:,.0f}/s; stored {stored} data points in {elapsed:.1f} s: "
        f"{messages_rate:,.0f} messages/s, {messages_rate * METRICS:,.0f} data points/s; "
        f"lost {lost}; CPU s: workers {worker_cpu:.1f}, broker {broker_cpu or 0:.1f}, "
        f"publishers {stream.cpu_seconds:.1f}"
    )
    return {
        "configuration": f"mqtt-{workers_count}w",
        "database": options.database,
        "workers": workers_count,
        "messages": stream.sent,
        "acked": stream.acked,
        "messages_per_s": round(messages_rate, 1),
        "points_per_s": round(messages_rate * METRICS, 1),
        "published_per_s": round(stream.rate, 1),
        "p50_ms": None,
        "p99_ms": None,
        "stored_points": stored,
        "lost": lost,
        "cpu_s": {
            "workers": round(worker_cpu, 2),
            "broker": _r(broker_cpu),
            "publishers": round(stream.cpu_seconds, 2),
            "machine": round(machine, 2),
        },
        "seconds": round(elapsed, 2),
    }, workers


def alarm_latency(
    broker: Broker, accounts: Accounts, db: Database, options: Options
) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from cityops.core.mqtt.address import BrokerAddress
    from cityops.demo.simulate import MqttSink

    say(f"alarm: {options.alarms} gauges over the line, one at a time, 1 worker idle")
    sink = MqttSink(
        BrokerAddress.parse(broker.url), username=accounts.sim_user,
        password=accounts.sim_password, prefix=accounts.prefix, window=10,
    )  # fmt: skip
    engine = create_engine(db.url)
    latencies: list[float] = []
    missed = 0
    query = text("SELECT count(*) FROM alarms WHERE device_id = :d")
    try:
        with engine.connect() as conn:
            for device_id in db.gauges[: options.alarms]:
                payload = json.dumps(
                    {"ts": int(time.time() * 1000), "values": {"water_level": ALARM_LINE + 2}}
                ).encode()
                sent = time.perf_counter()
                sink.publish(f"{accounts.prefix}/devices/{device_id}/telemetry", payload)
                while time.perf_counter() - sent < 5:
                    if conn.execute(query, {"d": device_id}).scalar():
                        latencies.append(time.perf_counter() - sent)
                        break
                    conn.rollback()
                    time.sleep(0.002)
                else:
                    missed += 1
                conn.rollback()
                time.sleep(0.05)
    finally:
        sink.close()
        engine.dispose()
    summary = latency_summary(latencies)
    say(
        f"  {len(latencies)} alarms, publish → alarm row: p50 {summary['p50_ms']} ms, "
        f"p99 {summary['p99_ms']} ms, max {summary['max_ms']} ms; missed {missed}"
    )
    return {
        "configuration": "alarm",
        "database": options.database,
        "alarms": len(latencies),
        "alarms_per_s": None,
        **summary,
        "lost": missed,
    }


def http_batches(
    db: Database, options: Options, log_dir: Path, processes: int = 1
) -> dict[str, Any]:
    name = "http" if processes == 1 else f"http-{processes}p"
    say(
        f"{name}: {processes} server process(es), {HTTP_CLIENTS} clients, "
        f"batches of {HTTP_BATCH} samples "
        f"({HTTP_BATCH * METRICS} data points) to POST /api/v1/telemetry, "
        f"{options.http_seconds:.0f} s"
    )
    env = clean_environment(
        database_url=db.url,
        data_dir=str(db.data_dir),
        secret_key=db.secret_key,  # API keys are digested with it
        profile="production",
        run_scheduler="false",
        log_level="WARNING",
    )
    env["PYTHONPATH"] = str(ROOT / "src")
    base = _base(4) + (processes - 1) * DAY_MS // 2  # its own half day
    counter = [0]
    accepted = [0]
    headers = f"X-API-Key: {db.api_key}\r\nContent-Type: application/json\r\n".encode()

    async def step(conn: HttpConnection, recorder: Recorder) -> None:
        first = counter[0]
        counter[0] += HTTP_BATCH
        body = json.dumps(
            [
                {
                    "device_id": f"tc-{n % DEVICES:06d}",
                    "ts": base + n,
                    "values": {"vehicle_count": n % 300, "avg_speed": 30.5, "occupancy": 12.0},
                }
                for n in range(first, first + HTTP_BATCH)
            ]
        ).encode()
        status, data = await timed_request(
            conn, recorder, "batch", "POST", "/api/v1/telemetry", body, headers, timeout=120
        )
        if status == 200:
            accepted[0] += int(json.loads(data)["accepted"])

    with cityops_server(env=env, workers=processes, log_path=log_dir / f"{name}.log") as server:
        cpu_before = tree_cpu_seconds(server.process.pid)
        busy_before = machine_busy_seconds()
        recorder: Recorder = run_async(
            closed_loop(HTTP_CLIENTS, options.http_seconds, step, server.port)
        )
        server_cpu = tree_cpu_seconds(server.process.pid) - cpu_before
        machine = machine_busy_seconds() - busy_before
    elapsed = recorder.elapsed
    stored = stored_points(db, base, base + counter[0])
    rate = accepted[0] / elapsed
    summary = latency_summary(recorder.all_latencies())
    errors = recorder.errors_by_status()
    say(
        f"  {recorder.count()} batches, {accepted[0]} data points accepted in {elapsed:.1f} s: "
        f"{rate:,.0f} data points/s; batch p50 {summary['p50_ms']} ms p99 {summary['p99_ms']} ms; "
        f"errors {errors or 'none'}; stored {stored}; server CPU {server_cpu:.1f} s"
    )
    return {
        "configuration": name,
        "database": options.database,
        "server_processes": processes,
        "batches": recorder.count(),
        "batch_samples": HTTP_BATCH,
        "clients": HTTP_CLIENTS,
        "points_per_s": round(rate, 1),
        "messages_per_s": round(rate / METRICS, 1),
        **summary,
        "errors": errors,
        "lost": accepted[0] - stored,
        "cpu_s": {"server": round(server_cpu, 2), "machine": round(machine, 2)},
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--messages", type=int, help="messages per MQTT stream")
    parser.add_argument("--alarms", type=int, default=GAUGES)
    parser.add_argument("--http-seconds", type=float)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg-port", type=int, default=25433)
    args = parser.parse_args()
    options = Options(
        messages=args.messages or (30_000 if args.quick else 150_000),
        alarms=min(args.alarms, GAUGES),
        http_seconds=args.http_seconds or (8.0 if args.quick else 20.0),
        database=args.database,
        pg_port=args.pg_port,
        quick=args.quick,
    )
    facts = {**machine_info(), "revision": source_revision()}
    say(f"ingest benchmark on {facts['cpus']} CPUs ({facts['cpu_model']}), rev {facts['revision']}")
    broker = running_broker()
    accounts = provision(broker)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="cityops-ingest-bench-") as tmp, ExitStack() as stack:
        tmpdir = Path(tmp)
        db = fresh_database(stack, options.database, options.pg_port, tmpdir)
        say(f"preparing the database ({options.database})")
        prepare_database(db)
        workers: list[subprocess.Popen[bytes]] = []
        try:
            results.append(baseline(broker, accounts, options))
            result, workers = end_to_end(1, broker, accounts, db, options, tmpdir, 1)
            results.append(result)
            results.append(alarm_latency(broker, accounts, db, options))
            for worker in workers:
                stop_process_group(worker)
            result, workers = end_to_end(2, broker, accounts, db, options, tmpdir, 2)
            results.append(result)
            for worker in workers:
                stop_process_group(worker)
            workers = []
            results.append(http_batches(db, options, tmpdir))
            results.append(http_batches(db, options, tmpdir, processes=2))
        finally:
            for worker in workers:
                stop_process_group(worker)
            unprovision(broker, accounts)
    base_rate = results[0]["messages_per_s"]
    for result in results:
        if result["configuration"].startswith("mqtt-"):
            result["share_of_baseline"] = round(result["messages_per_s"] / base_rate, 3)
    say("")
    for result in results:
        print_json_line({"bench": "ingest", **result, "quick": options.quick, **facts})


if __name__ == "__main__":
    main()
