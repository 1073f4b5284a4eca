"""A small server-sent-events reader over a real HTTP connection (for the live feed tests)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx


@dataclass(frozen=True)
class Sse:
    event: str
    data: str
    id: str | None

    def json(self) -> Any:
        return json.loads(self.data)


class EventStream:
    """Reads one event at a time; a silent server fails the read after ``timeout`` seconds."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()
        # What the server replayed (after Last-Event-ID) before it said ``ready``.
        self.replayed: list[Sse] = []

    def next(self) -> Sse:
        event, data, event_id = "message", "", None
        for line in self._lines:
            if line == "":
                if data:
                    return Sse(event, data, event_id)
                event, event_id = "message", None
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data = f"{data}\n{value}" if data else value
            elif name == "id":
                event_id = value
        raise EOFError("the stream ended")

    def until(self, done: Callable[[Sse], bool]) -> list[Sse]:
        """Every event up to and including the first for which ``done`` is true."""
        seen: list[Sse] = []
        while True:
            seen.append(self.next())
            if done(seen[-1]):
                return seen


@contextmanager
def event_stream(
    url: str, headers: dict[str, str], *, timeout: float = 10.0
) -> Iterator[EventStream]:
    """``GET url`` as an event stream; yields once the server has answered ``ready``."""
    with (
        httpx.Client(timeout=timeout) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        stream.replayed = stream.until(lambda e: e.event == "ready")[:-1]
        yield stream
