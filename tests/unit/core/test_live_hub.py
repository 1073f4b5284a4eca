"""The live hub without a database: an in-memory change log stands in for a module's source."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

import pytest

from cityops.core.auth import SYSTEM, Actor
from cityops.core.ids import new_id
from cityops.core.live import Closed, LiveEvent, LiveHub, format_sse, id_floor, id_seconds

NOW = 1_800_000_000.0
CITIZEN = Actor(user_id=uuid.uuid4(), username="c", role="citizen")


class MemoryLog:
    def __init__(self) -> None:
        self.events: dict[uuid.UUID, LiveEvent] = {}

    def add(self, at: float, *, public: bool = True) -> LiveEvent:
        event_id = uuid.UUID(int=id_floor(at).int | (new_id().int & ((1 << 80) - 1)))
        event = LiveEvent(
            id=event_id,
            kind="case",
            data={"n": len(self.events)},
            visible=lambda actor: public or actor.role == "system",
        )
        self.events[event_id] = event
        return event

    def ids_after(self, after: uuid.UUID, limit: int) -> list[uuid.UUID]:
        return sorted(i for i in self.events if i > after)[:limit]

    def load(self, ids: Sequence[uuid.UUID]) -> list[LiveEvent]:
        return [self.events[i] for i in ids if i in self.events]


def test_ids_order_by_the_time_they_were_made() -> None:
    assert id_seconds(id_floor(NOW)) == NOW
    assert id_floor(NOW) < id_floor(NOW + 0.001)
    made = new_id()
    millis = made.int >> 80
    assert id_floor(millis / 1000) <= made < id_floor((millis + 1) / 1000)
    assert id_seconds(made) == millis / 1000


def test_collect_looks_back_and_delivers_each_entry_once() -> None:
    log = MemoryLog()
    now = [NOW]
    hub = LiveHub([log], lookback_seconds=5, clock=lambda: now[0])
    too_old = log.add(NOW - 6)
    late = log.add(NOW - 4)  # made before the last poll, committed after it
    assert hub.collect() == [late]
    assert hub.collect() == []
    now[0] += 1
    fresh = log.add(NOW + 0.5)
    older_but_new = log.add(NOW - 3)
    assert hub.collect() == [older_but_new, fresh]
    assert too_old not in hub.collect()


def test_replay_answers_none_when_too_much_was_missed() -> None:
    log = MemoryLog()
    hub = LiveHub([log], lookback_seconds=5)
    first = log.add(NOW)
    later = [log.add(NOW + i) for i in range(1, 4)]
    replayed = hub.replay(first.id, limit=10)
    assert replayed is not None
    assert later[-1] in replayed
    assert first in replayed
    assert hub.replay(first.id, limit=2) is None


def test_subscribers_get_what_they_may_see_and_end_at_shutdown() -> None:
    log = MemoryLog()

    async def scenario() -> tuple[list[int], list[int], bool]:
        hub = LiveHub([log], poll_seconds=0.05)
        hub.start()
        everyone, citizen = hub.subscribe(SYSTEM), hub.subscribe(CITIZEN)
        log.add(time.time() - 0.01, public=False)
        log.add(time.time())
        hub.wake()
        seen_all = [(await everyone.next(2.0)), (await everyone.next(2.0))]
        seen_citizen = [await citizen.next(2.0)]
        await hub.stop()
        try:
            await everyone.next(1.0)
        except Closed:
            closed = True
        else:
            closed = False
        return (
            [e.data["n"] for e in seen_all if e],
            [e.data["n"] for e in seen_citizen if e],
            closed,
        )

    seen_all, seen_citizen, closed = asyncio.run(scenario())
    assert seen_all == [0, 1]
    assert seen_citizen == [1]
    assert closed


def test_a_closed_hub_takes_no_subscribers() -> None:
    hub = LiveHub([])
    hub.close_streams()
    with pytest.raises(Closed):
        hub.subscribe(SYSTEM)


def test_format_sse() -> None:
    assert format_sse(event="case", data='{"a":1}', event_id="x") == (
        b'id: x\nevent: case\ndata: {"a":1}\n\n'
    )
