"""Shared helpers of the benchmarks: a throwaway server process, a throwaway PostgreSQL
database, a small keep-alive HTTP client, latency statistics, machine facts and the JSON line.

Everything listens on and talks to loopback only, and everything is bounded: servers are
killed in a ``finally``, every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOOPBACK = "127.0.0.1"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- output


def say(message: str) -> None:
    """A human-readable progress line (flushed, so it shows while the benchmark runs)."""
    print(message, flush=True)


def print_json_line(result: dict[str, Any]) -> None:
    """One result as one JSON object on its own line (what tools and docs read)."""
    print(json.dumps(result, ensure_ascii=False, sort_keys=False), flush=True)


def machine_info() -> dict[str, Any]:
    """The facts a benchmark figure needs beside it: CPUs, memory, CPU model, Python."""
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cpus": os.cpu_count() or 0,
        "cpus_usable": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
    }


def source_revision() -> str:
    """The commit measured, with ``+dirty`` when the working tree has uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..1) of an ascending list; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max of latencies given in seconds, as rounded milliseconds
    (None when there were no requests: JSON has no NaN)."""
    values = sorted(seconds)
    if not values:
        return dict.fromkeys(("p50_ms", "p90_ms", "p99_ms", "max_ms"))
    return {
        "p50_ms": _ms(percentile(values, 0.50)),
        "p90_ms": _ms(percentile(values, 0.90)),
        "p99_ms": _ms(percentile(values, 0.99)),
        "max_ms": _ms(values[-1]),
    }


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@dataclass
class Recorder:
    """Per-request latency and status, grouped by a kind ("intake", "register", …)."""

    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    server_seconds: dict[str, list[float]] = field(default_factory=dict)  # from Server-Timing
    started: float = field(default_factory=time.perf_counter)
    stopped: float | None = None

    def add(self, kind: str, seconds: float, status: int, server_ms: float | None = None) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.statuses.setdefault(kind, Counter())[status] += 1
        if server_ms is not None:
            self.server_seconds.setdefault(kind, []).append(server_ms / 1000)

    def stop(self) -> None:
        self.stopped = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return (self.stopped or time.perf_counter()) - self.started

    def count(self, kinds: list[str] | None = None) -> int:
        names = self.latencies.keys() if kinds is None else kinds
        return sum(len(self.latencies.get(kind, ())) for kind in names)

    def all_latencies(self, kinds: list[str] | None = None) -> list[float]:
        names = self.latencies.keys() if kinds is None else kinds
        return [value for kind in names for value in self.latencies.get(kind, ())]

    def all_server_times(self, kinds: list[str] | None = None) -> list[float]:
        """Durations the server reported (``Server-Timing``), in seconds."""
        names = self.server_seconds.keys() if kinds is None else kinds
        return [value for kind in names for value in self.server_seconds.get(kind, ())]

    def errors_by_status(self) -> dict[str, int]:
        """Non-2xx answers by status; 0 stands for a transport error or a client timeout."""
        errors: Counter[int] = Counter()
        for counts in self.statuses.values():
            errors.update({status: n for status, n in counts.items() if not 200 <= status < 300})
        return {str(status): n for status, n in sorted(errors.items())}


# --------------------------------------------------------------------------- HTTP client


class HttpError(Exception):
    """The server broke the HTTP exchange (closed early, sent garbage)."""


class _ClosedBeforeAnswer(HttpError):
    """The connection ended before a single byte of the answer."""


class HttpConnection:
    """One keep-alive HTTP/1.1 connection over asyncio streams.

    Deliberately small: the load generator shares two CPUs with the server and the database,
    so its per-request cost must stay in the tens of microseconds (a full client library
    costs several times that). Reconnects transparently after an error or ``Connection: close``.
    """

    def __init__(self, port: int, host: str = LOOPBACK) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"Host: {host}:{port}\r\n".encode()
        self.server_ms: float | None = None  # ``Server-Timing: app;dur=…`` of the last answer

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request (``headers`` pre-encoded ``Name: value\\r\\n`` lines).

        A reused connection that the server had already closed (uvicorn closes it after an
        unhandled exception's 500) answers nothing at all; the request is then sent once more
        on a new connection, as HTTP clients do: the server never read it.
        """
        message = b"%s %s HTTP/1.1\r\n%s%sContent-Length: %d\r\n\r\n%s" % (
            method.encode(),
            path.encode(),
            self._host_header,
            headers,
            len(body),
            body,
        )
        reused = self._writer is not None
        try:
            return await self._exchange(message)
        except _ClosedBeforeAnswer:
            if not reused:
                raise HttpError("the server closed a new connection without answering") from None
            return await self._exchange(message)

    async def _exchange(self, message: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._reader is None or self._reader.at_eof():
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        try:
            writer.write(message)
            return await self._response(reader)
        except BaseException:
            self.close()
            raise

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes]:
        try:
            line = await reader.readline()
        except ConnectionResetError:
            line = b""
        if not line:
            raise _ClosedBeforeAnswer()
        parts = line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise HttpError(f"bad status line {line[:80]!r}")
        status = int(parts[1])
        length, chunked, close = None, False, False
        self.server_ms = None
        while True:
            header = await reader.readline()
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
            elif name == b"server-timing":
                self.server_ms = _server_duration(value)
        if chunked:
            data = await _read_chunked(reader)
        elif length is not None:
            data = await reader.readexactly(length)
        else:
            data, close = await reader.read(), True
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


def _server_duration(value: bytes) -> float | None:
    for part in value.split(b";"):
        name, _, number = part.strip().partition(b"=")
        if name == b"dur":
            with contextlib.suppress(ValueError):
                return float(number)
    return None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    while True:
        size = int((await reader.readline()).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            await reader.readline()  # trailer end (no trailers are sent here)
            return b"".join(chunks)
        chunks.append(await reader.readexactly(size))
        await reader.readline()


def bearer(token: str) -> bytes:
    """Pre-encoded headers of a JSON request made with ``token``."""
    return f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n".encode()


async def login(port: int, username: str, password: str) -> str:
    """Log in through ``POST /api/v1/auth/token`` and return the access token."""
    from urllib.parse import urlencode

    conn = HttpConnection(port)
    try:
        body = urlencode({"username": username, "password": password}).encode()
        headers = b"Content-Type: application/x-www-form-urlencoded\r\n"
        status, data = await asyncio.wait_for(
            conn.request("POST", "/api/v1/auth/token", body, headers), 30
        )
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"login of {username} failed: {status} {data[:200]!r}")
    token = json.loads(data)["access_token"]
    assert isinstance(token, str)
    return token


async def closed_loop(
    clients: int,
    seconds: float,
    step: Callable[[HttpConnection, Recorder], Any],
    port: int,
    *,
    progress: Callable[[Recorder], None] | None = None,
    progress_every: float = 5.0,
) -> Recorder:
    """Run ``clients`` coroutines, each with its own keep-alive connection, calling ``step``
    back to back until ``seconds`` have passed; requests in flight then finish (bounded)."""
    recorder = Recorder()
    deadline = time.perf_counter() + seconds
    connections = [HttpConnection(port) for _ in range(clients)]

    async def client(conn: HttpConnection) -> None:
        while time.perf_counter() < deadline:
            await step(conn, recorder)

    async def report() -> None:
        while True:
            await asyncio.sleep(progress_every)
            if progress is not None:
                progress(recorder)

    reporter = asyncio.create_task(report())
    try:
        async with asyncio.timeout(seconds + 120):
            await asyncio.gather(*(client(conn) for conn in connections))
    finally:
        reporter.cancel()
        recorder.stop()
        for conn in connections:
            conn.close()
    return recorder


async def timed_request(
    conn: HttpConnection,
    recorder: Recorder,
    kind: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: bytes = b"",
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """One request, its latency and status recorded; transport errors record status 0."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            status, data = await conn.request(method, path, body, headers)
    except (OSError, TimeoutError, HttpError, asyncio.IncompleteReadError, ValueError):
        status, data = 0, b""
        conn.server_ms = None
    recorder.add(kind, time.perf_counter() - started, status, conn.server_ms)
    return status, data


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (it is, with uvicorn[standard]): a cheaper load generator."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_async(coroutine: Any) -> Any:
    """Run a coroutine to completion on a new event loop. Where this thread already runs one
    (Playwright's sync API keeps a loop running in its thread), in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            return runner.run(coroutine)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = run_async(coroutine)
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="run-async")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


# --------------------------------------------------------------------------- server process


def free_port() -> int:
    """A TCP port that is free on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port = sock.getsockname()[1]
        assert isinstance(port, int)
        return port


def clean_environment(**cityops: str) -> dict[str, str]:
    """This process's environment without any ``CITYOPS_*`` variable, plus ``cityops``
    (keys without the prefix: ``database_url="…"`` sets ``CITYOPS_DATABASE_URL``)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYOPS_")}
    env.update({f"CITYOPS_{key.upper()}": value for key, value in cityops.items()})
    return env


@dataclass
class ServerProcess:
    """A running server: its process (the group leader), port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pids(self) -> list[int]:
        return process_tree(self.process.pid)

    def rss_mb(self) -> float:
        return tree_rss_mb(self.process.pid)

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextmanager
def cityops_server(
    *, env: dict[str, str], workers: int, log_path: Path, port: int | None = None
) -> Iterator[ServerProcess]:
    """Start ``cityops serve`` (the production start: its worker processes each accept their
    own connections) on loopback in its own process group; wait for ``GET /health``; kill
    the whole group on the way out, whatever happened."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "cityops",
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = ServerProcess(process=process, port=port, log_path=log_path)
    try:
        run_async(wait_for_health(server, timeout=90))
        yield server
    finally:
        stop_process_group(process)


async def wait_for_health(server: ServerProcess, *, timeout: float) -> None:
    """Poll ``GET /health`` until it answers 200; fail early if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"server exited with {code}:\n{server.log_tail()}")
        conn = HttpConnection(server.port)
        try:
            status, _ = await asyncio.wait_for(conn.request("GET", "/health"), 5)
            if status == 200:
                return
        except (OSError, TimeoutError, HttpError, asyncio.IncompleteReadError):
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout:.0f} s:\n{server.log_tail()}")


def stop_process_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # stragglers of the group (workers)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5)


# --------------------------------------------------------------------------- /proc


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, ()))
    return tree


def tree_rss_mb(root: int) -> float:
    """Resident memory (VmRSS) of ``root`` and its descendants, in MiB."""
    total_kb = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
    return round(total_kb / 1024, 1)


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s live tree, plus what its reaped children used."""
    total = 0
    for pid in process_tree(root):
        fields = _stat_fields(pid)
        if fields is not None:
            # utime, stime at fields 14, 15 of stat (1-based); cutime, cstime at 16, 17.
            total += int(fields[11]) + int(fields[12])
            if pid == root:
                total += int(fields[13]) + int(fields[14])
    return total / _CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs, /proc/stat), steal included."""
    with open("/proc/stat", encoding="utf-8") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def wait_until_quiet(max_wait: float, *, threshold_pct: float = 15.0, window: float = 2.0) -> float:
    """Wait (at most ``max_wait`` seconds) until the machine is idle: busy below
    ``threshold_pct`` of one CPU over ``window`` seconds. Returns the last busy percentage."""
    deadline = time.monotonic() + max_wait
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        busy = (machine_busy_seconds() - before) / window * 100
        if busy < threshold_pct or time.monotonic() >= deadline:
            return busy
        say(f"  machine busy ({busy:.0f}% of one CPU, not ours): waiting for it to settle")


def self_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class PostgresServer:
    """A PostgreSQL server to make throwaway databases in; ``pid`` when we know the postmaster."""

    url: str
    pid: int | None = None
    started_here: bool = False


@contextmanager
def throwaway_postgres(port: int) -> Iterator[PostgresServer]:
    """A durable PostgreSQL server on ``port`` via ``scripts/pg.sh`` (default fsync and
    synchronous_commit), stopped afterwards if this call started it."""
    env = {**os.environ, "CITYOPS_PG_PORT": str(port), "CITYOPS_PG_DURABLE": "1"}
    script = str(ROOT / "scripts" / "pg.sh")
    running = subprocess.run(
        [script, "status"], env=env, capture_output=True, timeout=120, check=False
    )
    if running.returncode == 0:
        say(f"  a PostgreSQL server already runs on port {port}: using it as it is")
    subprocess.run([script, "start"], env=env, check=True, timeout=600)
    url = subprocess.run(
        [script, "url"], env=env, check=True, capture_output=True, text=True, timeout=30
    ).stdout.strip()
    started_here = running.returncode != 0
    server = PostgresServer(url=url, pid=_postmaster_pid(port), started_here=started_here)
    try:
        yield server
    finally:
        if server.started_here:
            subprocess.run([script, "stop"], env=env, check=False, timeout=120)


def _postmaster_pid(port: int) -> int | None:
    path = ROOT / "var" / f"pg-{port}" / "data" / "postmaster.pid"
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text().splitlines()[0])
    return None


@contextmanager
def throwaway_database(server_url: str, prefix: str = "cityops_bench") -> Iterator[str]:
    """``CREATE DATABASE`` a fresh database on ``server_url``, yield its URL, drop it after."""
    from sqlalchemy import create_engine, make_url, text

    server = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def postgres_facts(url: str) -> dict[str, str]:
    """Server version and the durability settings that matter for commit latency."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            names = ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
            return {name: str(conn.execute(text(f"SHOW {name}")).scalar()) for name in names}
    finally:
        engine.dispose()
