"""The live feed's hub: one per process, fed by sources that read a shared change log.

A source (the cases module's timeline, the alarms module's history) answers "the entries
whose id is above this one", where ids are UUIDv7 made in Python, so they order by the time
they were made. The hub polls its sources every ``poll_seconds`` while anyone listens, and at
once when the in-process bus says something changed here. Each poll looks back
``lookback_seconds`` (a transaction that made its ids earlier may commit later) and drops what
it already delivered.
That is how a change committed by another worker process reaches this one's subscribers
without any broker, and why the feed is correct whatever the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cityops.core.auth import Actor

log = logging.getLogger(__name__)

# Seconds to wait after a wake-up, so that a burst of commits is read in one poll.
MIN_POLL_GAP = 0.05
# Ids per detail query (keeps the IN list short).
LOAD_CHUNK = 500


@dataclass(frozen=True)
class LiveEvent:
    """One entry of the feed. ``kind`` names the SSE event (``case``, ``alarm``)."""

    id: uuid.UUID
    kind: str
    data: dict[str, Any]
    visible: Callable[[Actor], bool] = field(compare=False)


class LiveSource(Protocol):
    """A change log the hub can poll (its rows' ids are UUIDv7)."""

    def ids_after(self, after: uuid.UUID, limit: int) -> list[uuid.UUID]:
        """Ids of the entries above ``after``, lowest first, at most ``limit`` (cheap: an
        index range scan)."""
        ...

    def load(self, ids: Sequence[uuid.UUID]) -> list[LiveEvent]:
        """The entries with these ids, as events (ids that vanished are left out)."""
        ...


def id_floor(epoch_seconds: float) -> uuid.UUID:
    """The lowest UUIDv7 made at ``epoch_seconds``: every id made later compares above it."""
    # The epsilon keeps id_floor(id_seconds(x)) exact despite binary fractions.
    millis = max(math.floor(epoch_seconds * 1000 + 1e-3), 0)
    return uuid.UUID(int=(millis & ((1 << 48) - 1)) << 80)


def id_seconds(value: uuid.UUID) -> float:
    """When a UUIDv7 was made (seconds since the epoch)."""
    return (value.int >> 80) / 1000


class Closed(Exception):
    """The subscription ended: the hub shut down."""


class Subscription:
    """What one stream reads: events visible to its actor, in the order the hub saw them."""

    def __init__(self, actor: Actor, size: int) -> None:
        self.actor = actor
        self.overflowed = False
        self._queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(size)
        self._sent: OrderedDict[uuid.UUID, None] = OrderedDict()

    def offer(self, event: LiveEvent) -> None:
        if event.id in self._sent or not event.visible(self.actor):
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            # A reader this far behind gets a reset and reloads its snapshot instead.
            self.overflowed = True
            return
        self.mark_sent(event.id)

    def mark_sent(self, event_id: uuid.UUID) -> None:
        self._sent[event_id] = None
        while len(self._sent) > 4096:
            self._sent.popitem(last=False)

    def was_sent(self, event_id: uuid.UUID) -> bool:
        return event_id in self._sent

    def close(self) -> None:
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next event, or None after ``timeout`` seconds of quiet; Closed at shutdown."""
        try:
            event = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if event is None:
            raise Closed
        return event


class LiveHub:
    """Fans the sources' new entries out to the subscriptions of this process."""

    def __init__(
        self,
        sources: Sequence[LiveSource],
        *,
        poll_seconds: float = 0.5,
        lookback_seconds: float = 5.0,
        batch: int = 20_000,
        queue_size: int = 2000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = list(sources)
        self.poll_seconds = poll_seconds
        self.lookback_seconds = lookback_seconds
        self.batch = batch
        self.queue_size = queue_size
        self._clock = clock
        self._subscriptions: set[Subscription] = set()
        self._delivered: dict[uuid.UUID, float] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling on the running event loop (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = self._loop.create_task(self._run(), name="live-hub")

    async def stop(self) -> None:
        """End every stream and stop polling."""
        self.close_streams()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close_streams(self) -> None:
        """End every stream now (at shutdown: clients reconnect to another worker)."""
        self._closed = True
        for subscription in list(self._subscriptions):
            subscription.close()
        self._subscriptions.clear()

    def wake(self, *_: object) -> None:
        """Poll now (thread-safe; the bus calls it after a local commit). Nothing to do while
        no one listens, or while a wake-up is pending: the poll it leads to reads this commit."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None or loop.is_closed():
            return
        if not self._subscriptions or wake.is_set():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between
            loop.call_soon_threadsafe(wake.set)

    @property
    def closed(self) -> bool:
        return self._closed

    # --- subscribers ------------------------------------------------------------------------

    def subscribe(self, actor: Actor) -> Subscription:
        if self._closed:
            raise Closed
        subscription = Subscription(actor, self.queue_size)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    def replay(self, after: uuid.UUID, limit: int) -> list[LiveEvent] | None:
        """Entries since ``after`` (and the look-back before it, since ids are not commit
        order), or None when there are more than ``limit``: the reader must reload instead.
        Blocking: run it in a thread."""
        floor = id_floor(id_seconds(after) - self.lookback_seconds)
        found: list[LiveEvent] = []
        for source in self.sources:
            ids = source.ids_after(floor, limit + 1)
            if len(found) + len(ids) > limit:
                return None
            found.extend(_load(source, ids))
        found.sort(key=lambda event: event.id)
        return found

    # --- polling ----------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            # Let a burst of commits land before reading them in one query.
            await asyncio.sleep(MIN_POLL_GAP)
            self._wake.clear()
            if not self._subscriptions:
                continue
            try:
                fresh = await asyncio.to_thread(self.collect)
            except Exception:
                log.exception("live feed poll failed")
                continue
            for event in fresh:
                for subscription in list(self._subscriptions):
                    subscription.offer(event)

    def collect(self) -> list[LiveEvent]:
        """New entries of every source since the look-back floor (blocking)."""
        now = self._clock()
        cutoff = now - self.lookback_seconds
        floor = id_floor(cutoff)
        fresh: list[LiveEvent] = []
        for source in self.sources:
            new = [i for i in source.ids_after(floor, self.batch) if i not in self._delivered]
            for event in _load(source, new):
                self._delivered[event.id] = id_seconds(event.id)
                fresh.append(event)
        self._delivered = {k: at for k, at in self._delivered.items() if at >= cutoff - 1}
        fresh.sort(key=lambda event: event.id)
        return fresh


def _load(source: LiveSource, ids: Sequence[uuid.UUID]) -> list[LiveEvent]:
    events: list[LiveEvent] = []
    for start in range(0, len(ids), LOAD_CHUNK):
        events.extend(source.load(ids[start : start + LOAD_CHUNK]))
    return events


def format_sse(
    *, event: str | None = None, data: str | None = None, event_id: str | None = None
) -> bytes:
    """One server-sent event (data is one line of JSON, so no line splitting is needed)."""
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event is not None:
        lines.append(f"event: {event}")
    if data is not None:
        lines.append(f"data: {data}")
    return ("\n".join(lines) + "\n\n").encode()
