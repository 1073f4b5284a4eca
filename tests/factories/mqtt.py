"""The test broker (started by ``scripts/mqtt.sh start``, as ``make test`` does) and MQTT v5
publishers that record the broker's answer to each QoS 1 message."""

from __future__ import annotations

import os
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.connection import new_client, shut_down
from cityops.core.mqtt.worker import Handler, IngestWorker, Message, WorkerOptions

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Broker:
    address: BrokerAddress
    admin_username: str
    admin_password: str


def running_broker() -> Broker:
    """The broker of ``scripts/mqtt.sh`` on CITYOPS_MQTT_PORT; raises RuntimeError with the
    fix when it has not been started."""
    script = str(ROOT / "scripts" / "mqtt.sh")
    status = subprocess.run([script, "status"], capture_output=True, text=True, check=False)
    if status.returncode != 0:
        port = os.environ.get("CITYOPS_MQTT_PORT", "21883")
        raise RuntimeError(
            f"no test MQTT broker on port {port}: run `make mqtt-start` or "
            f"`CITYOPS_MQTT_PORT={port} scripts/mqtt.sh start` first ({status.stdout.strip()})"
        )
    url = subprocess.run([script, "url"], capture_output=True, text=True, check=True).stdout
    admin = subprocess.run([script, "admin"], capture_output=True, text=True, check=True).stdout
    username, password = admin.split()
    return Broker(BrokerAddress.parse(url.strip()), username, password)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


class Publisher:
    """A device (or any client): connects with MQTT v5 and publishes, waiting for PUBACKs."""

    def __init__(self, broker: Broker, username: str, password: str) -> None:
        self.client: Client = new_client(
            broker.address, client_id=unique("pub-"), username=username, password=password
        )
        self.connack: ReasonCode | None = None
        self.pubacks: dict[int, ReasonCode] = {}
        self.closed = threading.Event()
        self._ready = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_disconnect = self._on_disconnect
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.address.host, broker.address.port)
        self.client.loop_start()
        with self._ready:
            self._ready.wait_for(lambda: self.connack is not None or self.closed.is_set(), 10)

    @property
    def connected(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._ready:
            self.connack = reason
            self._ready.notify_all()

    def _on_publish(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._ready:
            self.pubacks[mid] = reason
            self._ready.notify_all()

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._ready:
            if self.connack is None:
                self.connack = reason
            self.closed.set()
            self._ready.notify_all()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> int:
        """Send one message; returns its packet id (see ``wait``)."""
        return self.client.publish(topic, payload, qos=qos).mid

    def wait(self, mid: int, timeout: float = 10) -> ReasonCode:
        """The broker's PUBACK reason code for a QoS 1 message."""
        with self._ready:
            if not self._ready.wait_for(lambda: mid in self.pubacks, timeout):
                raise TimeoutError(f"no PUBACK for message {mid}")
            return self.pubacks[mid]

    def send(self, topic: str, payload: bytes | str) -> ReasonCode:
        return self.wait(self.publish(topic, payload))

    def close(self) -> None:
        shut_down(self.client)


class Running:
    """Workers started in threads, stopped (and their sessions ended) afterwards."""

    def __init__(self) -> None:
        self.workers: list[tuple[IngestWorker, threading.Thread]] = []

    def start(self, options: WorkerOptions, handle: Handler) -> IngestWorker:
        worker = IngestWorker(options, handle)
        thread = threading.Thread(target=worker.run, name=options.client_id, daemon=True)
        thread.start()
        self.workers.append((worker, thread))
        assert worker.subscribed.wait(10), "the worker did not subscribe"
        return worker

    def stop(self, worker: IngestWorker) -> None:
        for candidate, thread in self.workers:
            if candidate is worker:
                worker.stop()
                thread.join(10)
                assert not thread.is_alive(), "the worker did not stop"


class Inbox:
    """A handler that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.changed = threading.Condition()

    def __call__(self, batch: list[Message]) -> None:
        with self.changed:
            self.messages.extend(batch)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10) -> list[Message]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)
