"""The ingest worker against the real broker: batching, shared subscriptions, bad topics,
handler failures, graceful stop, and no loss of an acknowledged message when it is killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cityops.core.mqtt.provision import BrokerAdmin, DeviceCredentials
from cityops.core.mqtt.session import MqttError, MqttSession, Publish
from cityops.core.mqtt.topics import shared_filter
from cityops.core.mqtt.worker import IngestWorker, Message, WorkerOptions
from factories.mqtt import ROOT, Broker, Inbox, Publisher, Running, unique

NewDevice = Callable[[], DeviceCredentials]
Connect = Callable[[DeviceCredentials], Publisher]


def send_all(sender: Publisher, topic: str, payloads: list[str]) -> list[str]:
    """Publish at QoS 1; the payloads the broker acknowledged with success."""
    mids = [(sender.publish(topic, payload), payload) for payload in payloads]
    return [payload for mid, payload in mids if not sender.wait(mid).is_failure]


def test_messages_arrive_in_batches_and_every_qos1_message_is_acknowledged(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    inbox, sizes = Inbox(), []

    def handle(batch: list[Message]) -> None:
        sizes.append(len(batch))
        inbox(batch)

    worker = workers.start(replace(options, batch_size=40, batch_seconds=0.2), handle)
    creds = device()
    sender = publisher(creds)
    payloads = [f"m{i}" for i in range(120)]
    assert send_all(sender, creds.telemetry_topic, payloads) == payloads
    sender.publish(creds.telemetry_topic, "qos0", qos=0)
    received = inbox.wait_for(121)
    assert sorted(m.payload.decode() for m in received) == sorted([*payloads, "qos0"])
    assert max(sizes) <= 40
    assert len(sizes) < 121  # batched, not one call per message
    workers.stop(worker)
    metrics = worker.metrics.snapshot()
    assert (metrics["received"], metrics["handled"], metrics["acked"]) == (121, 121, 120)
    assert metrics["handler_errors"] == metrics["ignored"] == 0


def test_bad_topics_are_ignored_counted_and_acknowledged(
    admin: BrokerAdmin,
    connect_as: Callable[[str, str], Publisher],
    workers: Running,
    options: WorkerOptions,
) -> None:
    inbox = Inbox()
    worker = workers.start(options, inbox)
    # An integration account that may publish anywhere under the prefix.
    username, role = unique("gateway-"), unique("role-")
    acl = {"acltype": "publishClientSend", "topic": f"{options.topic_prefix}/#", "allow": True}
    admin.check([{"command": "createRole", "rolename": role, "acls": [acl]}])
    admin.check([{"command": "createClient", "username": username, "password": "pw",
                  "roles": [{"rolename": role}]}])  # fmt: skip
    try:
        gateway = connect_as(username, "pw")
        prefix = options.topic_prefix
        for topic in (
            f"{prefix}/devices/bad!id/telemetry",  # matches the subscription, not a device id
            f"{prefix}/devices/{'x' * 65}/telemetry",
            f"{prefix}/devices/ok-1/status",  # not subscribed: never reaches the worker
            f"{prefix}/other/ok-1/telemetry",
        ):
            assert not gateway.send(topic, b"{}").is_failure
        assert not gateway.send(f"{prefix}/devices/ok-1/telemetry", b"good").is_failure
        assert [m.device_id for m in inbox.wait_for(1)] == ["ok-1"]
        workers.stop(worker)
        metrics = worker.metrics.snapshot()
        assert (metrics["received"], metrics["ignored"], metrics["handled"]) == (3, 2, 1)
        assert metrics["acked"] == 3
    finally:
        admin.check([{"command": "deleteClient", "username": username},
                     {"command": "deleteRole", "rolename": role}])  # fmt: skip


def test_two_workers_share_the_stream(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    first, second = Inbox(), Inbox()
    workers.start(options, first)
    workers.start(replace(options, client_id=unique("worker-")), second)
    devices = [device() for _ in range(4)]
    sent: list[str] = []
    for creds in devices:
        sender = publisher(creds)
        payloads = [f"{creds.username}:{i}" for i in range(50)]
        sent += send_all(sender, creds.telemetry_topic, payloads)
    deadline = time.monotonic() + 10
    while len(first.messages) + len(second.messages) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.02)
    a = [m.payload.decode() for m in first.messages]
    b = [m.payload.decode() for m in second.messages]
    assert a, "each worker gets a part"
    assert b, "each worker gets a part"
    assert sorted(a + b) == sorted(sent), "together all, each once"


def test_a_failing_handler_acknowledges_nothing_and_the_broker_redelivers(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    inbox, calls = Inbox(), []

    def flaky(batch: list[Message]) -> None:
        calls.append(len(batch))
        if len(calls) <= 2:
            raise RuntimeError("database unavailable")
        inbox(batch)

    worker = workers.start(options, flaky)
    creds = device()
    sender = publisher(creds)
    payloads = [f"r{i}" for i in range(10)]
    assert send_all(sender, creds.telemetry_topic, payloads) == payloads
    received = inbox.wait_for(10)
    assert sorted(m.payload.decode() for m in received) == sorted(payloads)
    assert any(m.redelivered for m in received)
    assert worker.subscribed.wait(5), "the worker lives on after the failures"
    assert not sender.send(creds.telemetry_topic, b"after").is_failure
    assert inbox.wait_for(11)[-1].payload == b"after"
    metrics = worker.metrics.snapshot()
    assert metrics["handler_errors"] == 2
    assert metrics["connects"] == 3
    assert metrics["redelivered"] >= 10


def test_a_graceful_stop_finishes_its_batch_and_a_restart_gets_the_rest(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    handled: list[str] = []
    started = threading.Event()

    def slow(batch: list[Message]) -> None:
        started.set()
        time.sleep(0.05)
        handled.extend(m.payload.decode() for m in batch)

    options = replace(options, batch_size=10, receive_maximum=20)
    worker = workers.start(options, slow)
    creds = device()
    sender = publisher(creds)
    payloads = [f"g{i}" for i in range(200)]
    mids = [sender.publish(creds.telemetry_topic, p) for p in payloads]
    assert started.wait(5)
    workers.stop(worker)
    stopped_with = len(handled)
    assert worker.metrics.snapshot()["acked"] == stopped_with
    assert all(not sender.wait(mid).is_failure for mid in mids)
    # The session kept the subscription: the rest waited in the broker for the same client id.
    workers.start(options, slow)
    deadline = time.monotonic() + 10
    while set(handled) != set(payloads) and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    assert sorted(handled) == sorted(payloads), "all, and none twice: the stop acked its batch"


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[[list[str]], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    script = Path(__file__).with_name("worker_process.py")

    def start(args: list[str]) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True, env=env
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "subscribed"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def handled_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT id FROM handled")]


def test_killing_a_worker_mid_stream_loses_no_acknowledged_message(
    broker: Broker,
    device: NewDevice,
    publisher: Connect,
    options: WorkerOptions,
    spawn: Callable[[list[str]], subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    database = tmp_path / "handled.sqlite3"
    args = [broker.address.host, str(broker.address.port), options.username,
            str(options.password), options.client_id, options.topic_prefix,
            options.share_group, str(database)]  # fmt: skip
    victim = spawn(args)
    creds = device()
    sender = publisher(creds)
    payloads = [f"k{i}" for i in range(3000)]
    acked: list[str] = []
    publishing = threading.Thread(
        target=lambda: acked.extend(send_all(sender, creds.telemetry_topic, payloads))
    )
    publishing.start()
    deadline = time.monotonic() + 10
    while len(handled_ids(database)) < 300 and time.monotonic() < deadline:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    killed_at = len(handled_ids(database))
    assert 0 < killed_at < len(payloads), "killed mid-stream"
    spawn(args)  # the replacement: same client id, so it takes over the session
    publishing.join(30)
    assert sorted(acked) == sorted(payloads), "the broker acknowledged every message"
    deadline = time.monotonic() + 20
    while not set(acked) <= set(handled_ids(database)) and time.monotonic() < deadline:
        time.sleep(0.05)
    handled = Counter(handled_ids(database))
    missing = set(acked) - set(handled)
    assert not missing, f"{len(missing)} acknowledged messages lost"
    duplicates = sum(n - 1 for n in handled.values())
    print(f"killed after {killed_at} handled; {duplicates} duplicates redelivered")


def _session(options: WorkerOptions, *, password: str | None, keepalive: int = 30) -> MqttSession:
    return MqttSession.open(
        options.address,
        client_id=options.client_id,
        username=options.username,
        password=password,
        keepalive=keepalive,
        session_expiry=60,
        receive_maximum=10,
    )


def test_the_broker_refuses_a_wrong_password_with_its_reason(options: WorkerOptions) -> None:
    with pytest.raises(MqttError) as refused:
        _session(options, password="not-the-password")
    assert refused.value.reason in (0x86, 0x87)  # bad user name or password / not authorised


def test_a_worker_refused_by_the_broker_keeps_trying_and_stops_when_asked(
    options: WorkerOptions,
) -> None:
    worker = IngestWorker(replace(options, password="not-the-password"), Inbox())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    time.sleep(0.5)  # refused at least twice (0.1 s, then 0.2 s back-off)
    assert thread.is_alive()
    assert not worker.subscribed.is_set()
    worker.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert worker.metrics.snapshot()["connects"] == 0


def test_an_idle_session_is_kept_alive_by_pings(
    device: NewDevice, publisher: Connect, options: WorkerOptions
) -> None:
    session = _session(options, password=options.password, keepalive=1)
    try:
        session.subscribe(shared_filter(options.share_group, options.topic_prefix))
        deadline = time.monotonic() + 4  # keep-alive 1 s: the broker ends a silent session at 1.5 s
        while time.monotonic() < deadline:
            assert session.read(0.1) == []
        creds = device()
        assert send_all(publisher(creds), creds.telemetry_topic, ["after the pause"])
        got: list[Publish] = []
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            got = session.read(0.1)
        assert [p.payload for p in got] == [b"after the pause"]
        session.ack([p.mid for p in got])
    finally:
        session.close(graceful=True)
