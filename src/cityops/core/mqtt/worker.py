"""The ingest worker: reads device telemetry from the broker through an MQTT v5 shared
subscription and hands it, in batches, to a handler that stores it.

Guarantee: at-least-once for QoS 1. A message is acknowledged (PUBACK) only after the handler
has returned for the batch that holds it; until then the broker keeps it in this worker's
session (clean start off, session expiry on), and resends it when the worker reconnects, also
after the worker was killed, provided it comes back with the same client id within the session
expiry. A handler exception acknowledges nothing: the worker reconnects after a back-off so the
broker resends the batch. Duplicates are therefore possible; storage de-duplicates.

Threads: paho's network thread only appends arriving messages to an in-process queue; the
thread in ``run`` cuts batches (up to ``batch_size`` messages or ``batch_seconds`` after the
first), calls the handler and acknowledges. The broker sends at most ``receive_maximum``
unacknowledged messages, which bounds the queue.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import NamedTuple

from paho.mqtt.client import Client, ConnectFlags, DisconnectFlags, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from cityops.core.config import Settings
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.connection import new_client, shut_down
from cityops.core.mqtt.topics import TopicParser, shared_filter

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One telemetry message as the handler sees it."""

    device_id: str
    payload: bytes
    received_at: datetime
    qos: int
    topic: str
    redelivered: bool = False  # the broker's DUP flag: this may have been handled before


Handler = Callable[[list[Message]], None]


class _Inbound(NamedTuple):
    generation: int
    mid: int
    qos: int
    raw: MQTTMessage
    received_at: datetime


@dataclass
class WorkerMetrics:
    """Counters since the worker started; ``snapshot`` reads them consistently."""

    received: int = 0  # messages that arrived
    handled: int = 0  # messages the handler returned for
    acked: int = 0  # QoS 1 acknowledgements sent
    ignored: int = 0  # messages on a topic that is not a device's telemetry topic (acked)
    redelivered: int = 0  # messages with the DUP flag (possible duplicates)
    stale: int = 0  # dropped unhandled after a reconnect (the broker sends them again)
    batches: int = 0
    handler_errors: int = 0
    connects: int = 0
    connected: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def snapshot(self) -> dict[str, int | bool]:
        with self.lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lock"}


@dataclass(frozen=True)
class WorkerOptions:
    address: BrokerAddress
    username: str
    password: str | None
    client_id: str
    topic_prefix: str = "cityops"
    share_group: str = "cityops-ingest"
    session_expiry_seconds: int = 3600
    receive_maximum: int = 1000
    batch_size: int = 500
    batch_seconds: float = 0.05
    keepalive_seconds: int = 30
    retry_min_seconds: float = 0.5
    retry_max_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings, *, client_id: str | None = None) -> WorkerOptions:
        """Options from the CITYOPS_MQTT_* settings; the ingest account, else the admin one."""
        if not settings.mqtt_url:
            raise ValueError("CITYOPS_MQTT_URL is not set")
        own = settings.mqtt_ingest_password is not None
        return cls(
            address=BrokerAddress.parse(settings.mqtt_url),
            username=settings.mqtt_ingest_username if own else settings.mqtt_admin_username,
            password=settings.mqtt_ingest_password if own else settings.mqtt_admin_password,
            client_id=client_id or settings.mqtt_client_id,
            topic_prefix=settings.mqtt_topic_prefix,
            share_group=settings.mqtt_share_group,
            session_expiry_seconds=settings.mqtt_session_expiry_seconds,
            receive_maximum=settings.mqtt_receive_maximum,
            batch_size=settings.mqtt_batch_size,
            batch_seconds=settings.mqtt_batch_seconds,
        )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IngestWorker:
    """``run()`` blocks until ``stop()`` (from another thread or a signal handler)."""

    def __init__(
        self, options: WorkerOptions, handle: Handler, *, now: Callable[[], datetime] = _utcnow
    ) -> None:
        self.options = options
        self.metrics = WorkerMetrics()
        self._handle = handle
        self._now = now
        self._parser = TopicParser(options.topic_prefix)
        self._inbox: queue.SimpleQueue[_Inbound] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._flushed = threading.Event()
        self._generation = 0  # bumped on each disconnect: older unacked messages come again
        self._client = self._new_client()

    def _new_client(self) -> Client:
        o = self.options
        client = new_client(
            o.address,
            client_id=o.client_id,
            username=o.username,
            password=o.password,
            manual_ack=True,
        )
        client.reconnect_delay_set(
            max(1, round(o.retry_min_seconds)), max(1, round(o.retry_max_seconds))
        )
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_unsubscribe = lambda *_: self._flushed.set()
        return client

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def subscribed(self) -> threading.Event:
        """Set once the broker has granted the shared subscription (tests and health checks)."""
        return self._subscribed

    def stop(self) -> None:
        """Ask ``run`` to finish the batch in hand, acknowledge it and disconnect."""
        self._stopping.set()

    def run(self) -> None:
        backoff = self.options.retry_min_seconds
        self._start_session()
        try:
            while not self._stopping.is_set():
                if self._consume_one_batch():
                    backoff = self.options.retry_min_seconds
                    continue
                # The handler failed: nothing was acknowledged. Reconnect after a pause, and
                # the broker resends every unacknowledged message of the session.
                self._end_session()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.options.retry_max_seconds)
                if not self._stopping.is_set():
                    self._start_session()
        finally:
            self._end_session()

    def _start_session(self) -> None:
        o = self.options
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = o.session_expiry_seconds
        props.ReceiveMaximum = o.receive_maximum
        self._client.connect_async(
            o.address.host,
            o.address.port,
            keepalive=o.keepalive_seconds,
            clean_start=False,
            properties=props,
        )
        self._client.loop_start()

    def _end_session(self) -> None:
        self._flush()
        shut_down(self._client)
        with self.metrics.lock:
            self.metrics.connected = False
            self._generation += 1
        self._subscribed.clear()

    def _flush(self) -> None:
        """Wait until the broker has read every acknowledgement sent so far.

        Closing a socket that still has unread messages in it resets the connection, and the
        broker then drops what it had not yet read: acknowledgements would be lost (and their
        messages handled twice). The broker answers an UNSUBSCRIBE only after the packets
        before it, so one for a filter never subscribed is a harmless round trip.
        """
        if not self._client.is_connected():
            return
        self._flushed.clear()
        self._client.unsubscribe(f"{self.options.client_id}/flush")
        self._flushed.wait(2)

    # -- paho callbacks (network thread) -----------------------------------------------------

    def _on_connect(
        self,
        client: Client,
        userdata: object,
        flags: ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error(
                "MQTT broker %s refused %s: %s", self.options.address, self.options.username, reason
            )
            return
        with self.metrics.lock:
            self.metrics.connects += 1
            self.metrics.connected = True
        # Subscribing again is harmless when the session kept the subscription, and needed
        # when the session expired while the worker was away.
        options = SubscribeOptions(qos=1)
        client.subscribe(
            shared_filter(self.options.share_group, self.options.topic_prefix), options=options
        )

    def _on_subscribe(
        self,
        client: Client,
        userdata: object,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(r.is_failure for r in reasons):
            log.error("MQTT broker refused the ingest subscription: %s", reasons[0])
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: Client,
        userdata: object,
        flags: DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self.metrics.lock:
            self.metrics.connected = False
            self._generation += 1
        self._subscribed.clear()
        if not self._stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, client: Client, userdata: object, message: MQTTMessage) -> None:
        self._inbox.put(_Inbound(self._generation, message.mid, message.qos, message, self._now()))

    # -- batches (the run thread) ------------------------------------------------------------

    def _next_batch(self) -> list[_Inbound]:
        try:
            first = self._inbox.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.options.batch_seconds
        while len(batch) < self.options.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self._inbox.get_nowait()
                    if remaining <= 0
                    else self._inbox.get(timeout=remaining)
                )
            except queue.Empty:
                break
        return batch

    def _consume_one_batch(self) -> bool:
        """Handle and acknowledge one batch; False when the handler failed."""
        batch = self._next_batch()
        if not batch:
            return True
        generation = self._generation
        current = [item for item in batch if item.generation == generation]
        messages, ignored, redelivered = self._messages(current)
        with self.metrics.lock:
            self.metrics.received += len(batch)
            self.metrics.stale += len(batch) - len(current)
            self.metrics.ignored += ignored
            self.metrics.redelivered += redelivered
        if messages:
            try:
                self._handle(messages)
            except Exception:
                log.exception(
                    "ingest handler failed on %d messages; not acknowledged", len(messages)
                )
                with self.metrics.lock:
                    self.metrics.handler_errors += 1
                return False
        self._acknowledge(current, handled=len(messages))
        return True

    def _messages(self, items: list[_Inbound]) -> tuple[list[Message], int, int]:
        messages: list[Message] = []
        ignored = redelivered = 0
        for item in items:
            raw = item.raw
            redelivered += raw.dup
            try:
                topic = raw.topic
            except UnicodeDecodeError:
                topic = ""
            device_id = self._parser.device_id(topic)
            if device_id is None:
                ignored += 1
                continue
            messages.append(
                Message(
                    device_id, bytes(raw.payload), item.received_at, item.qos, topic, bool(raw.dup)
                )
            )
        return messages, ignored, redelivered

    def _acknowledge(self, items: list[_Inbound], *, handled: int) -> None:
        acked = 0
        for item in items:
            # After a reconnect the broker resends these itself; an old packet id is not ours.
            if item.qos and item.generation == self._generation:
                self._client.ack(item.mid, item.qos)
                acked += 1
        with self.metrics.lock:
            self.metrics.batches += 1
            self.metrics.handled += handled
            self.metrics.acked += acked
