"""The ingest worker: reads device telemetry from the broker through an MQTT v5 shared
subscription and hands it, in batches, to a handler that stores it.

Guarantee: at-least-once for QoS 1. A message is acknowledged (PUBACK) only after the handler
has returned for the batch that holds it; until then the broker keeps it in this worker's
session (clean start off, session expiry on), and resends it when the worker reconnects, also
after the worker was killed, provided it comes back with the same client id within the session
expiry. A handler exception acknowledges nothing: the worker reconnects after a back-off so the
broker resends the batch. Duplicates are therefore possible; storage de-duplicates.

One thread: ``run`` reads the connection (``session.MqttSession``, the protocol spoken
directly on the socket), cuts batches (up to ``batch_size`` messages or ``batch_seconds``
after the first), calls the handler and acknowledges the batch in one write. The broker sends
at most ``receive_maximum`` unacknowledged messages, which bounds what is read ahead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Literal

from cityops.core.config import Settings
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.session import MqttError, MqttSession, Publish
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


@dataclass
class WorkerMetrics:
    """Counters since the worker started; ``snapshot`` reads them consistently."""

    received: int = 0  # messages that arrived
    handled: int = 0  # messages the handler returned for
    acked: int = 0  # QoS 1 acknowledgements sent
    ignored: int = 0  # messages on a topic that is not a device's telemetry topic (acked)
    redelivered: int = 0  # messages with the DUP flag (possible duplicates)
    stale: int = 0  # read but dropped unhandled when the connection ended (sent again)
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
        self._stopping = threading.Event()
        self._subscribed = threading.Event()
        self._ahead: list[tuple[Publish, datetime]] = []  # read, not yet in a batch

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
        while not self._stopping.is_set():
            session = self._open()
            if session is not None:
                handled_before = self.metrics.batches  # written by this thread only
                ended = self._consume(session)
                # Unless the connection is gone, wait until the broker has read every
                # acknowledgement sent before leaving it.
                self._close(session, graceful=ended != "lost")
                if ended == "stopped":
                    break
                if self.metrics.batches > handled_before:
                    backoff = self.options.retry_min_seconds  # reset by a good batch
            # Refused, unreachable, lost, or the handler failed (nothing acknowledged): try
            # again after a pause; the broker resends every unacknowledged message of the
            # session.
            self._stopping.wait(backoff)
            backoff = min(backoff * 2, self.options.retry_max_seconds)

    def _open(self) -> MqttSession | None:
        o = self.options
        try:
            session = MqttSession.open(
                o.address,
                client_id=o.client_id,
                username=o.username,
                password=o.password,
                keepalive=o.keepalive_seconds,
                session_expiry=o.session_expiry_seconds,
                receive_maximum=o.receive_maximum,
            )
        except (OSError, MqttError) as exc:
            log.error("MQTT broker %s refused %s or is unreachable: %s", o.address, o.username, exc)
            return None
        try:
            # Subscribing again is harmless when the session kept the subscription, and
            # needed when the session expired while the worker was away.
            session.subscribe(shared_filter(o.share_group, o.topic_prefix), qos=1)
        except (OSError, MqttError) as exc:
            log.error("MQTT broker refused the ingest subscription: %s", exc)
            session.close(graceful=False)
            return None
        with self.metrics.lock:
            self.metrics.connects += 1
            self.metrics.connected = True
        self._subscribed.set()
        return session

    def _close(self, session: MqttSession, *, graceful: bool) -> None:
        if graceful:
            # Closing a socket that still has unread data in it resets the connection, and
            # the broker then drops what it had not yet read: acknowledgements would be lost
            # (and their messages handled twice). The broker answers an UNSUBSCRIBE only
            # after the packets before it; one for a filter never subscribed is harmless.
            try:
                session.unsubscribe(f"{self.options.client_id}/flush")
            except (OSError, MqttError):
                graceful = False
        session.close(graceful=graceful)
        with self.metrics.lock:
            self.metrics.connected = False
            self.metrics.stale += len(self._ahead)
        self._ahead = []
        self._subscribed.clear()

    # -- batches -----------------------------------------------------------------------------

    def _consume(self, session: MqttSession) -> Literal["stopped", "failed", "lost"]:
        """Handle and acknowledge batches until ``stop``, the handler fails, or the
        connection ends."""
        try:
            while not self._stopping.is_set():
                batch = self._next_batch(session)
                if batch and not self._handle_batch(session, batch):
                    return "failed"
        except MqttError as exc:
            if not self._stopping.is_set():
                log.warning("MQTT connection lost (%s); reconnecting", exc)
            return "lost"
        return "stopped"

    def _next_batch(self, session: MqttSession) -> list[tuple[Publish, datetime]]:
        ahead, size = self._ahead, self.options.batch_size
        deadline = None
        while len(ahead) < size:
            if deadline is None:
                if ahead:
                    deadline = time.monotonic() + self.options.batch_seconds
                    continue
                wait = 0.1  # nothing yet: look at the stop flag now and then
            else:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
            arrived = session.read(wait)
            if arrived:
                received_at = self._now()
                ahead.extend((packet, received_at) for packet in arrived)
            elif deadline is None:
                return []
        batch, self._ahead = ahead[:size], ahead[size:]
        return batch

    def _handle_batch(self, session: MqttSession, batch: list[tuple[Publish, datetime]]) -> bool:
        messages, ignored, redelivered = self._messages(batch)
        with self.metrics.lock:
            self.metrics.received += len(batch)
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
        mids = [packet.mid for packet, _ in batch if packet.qos]
        session.ack(mids)
        with self.metrics.lock:
            self.metrics.batches += 1
            self.metrics.handled += len(messages)
            self.metrics.acked += len(mids)
        return True

    def _messages(self, batch: list[tuple[Publish, datetime]]) -> tuple[list[Message], int, int]:
        messages: list[Message] = []
        ignored = redelivered = 0
        device_id_of = self._parser.device_id
        for packet, received_at in batch:
            redelivered += packet.dup
            device_id = device_id_of(packet.topic)
            if device_id is None:
                ignored += 1
                continue
            messages.append(
                Message(
                    device_id, packet.payload, received_at, packet.qos, packet.topic, packet.dup
                )
            )
        return messages, ignored, redelivered
