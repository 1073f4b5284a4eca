"""In-process event bus. Events are published after the transaction that caused them commits."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Event:
    """Base class of typed events; ``tag`` is ``module:subject:action``."""

    tag: ClassVar[str] = "core:event:published"


Handler = Callable[[Any], None]


class Bus:
    """Delivers each event to the handlers of its class and to the catch-all handlers."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = defaultdict(list)
        self._all: list[Handler] = []

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        self._handlers[event_type].append(handler)

    def subscribe_all(self, handler: Callable[[Event], None]) -> None:
        self._all.append(handler)

    def publish(self, event: Event) -> None:
        # A failing subscriber must not undo or hide a committed change: log and go on.
        for handler in [*self._handlers.get(type(event), []), *self._all]:
            try:
                handler(event)
            except Exception:
                log.exception("event handler failed for %s", event.tag)
