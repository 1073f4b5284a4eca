"""``GET /api/v1/live``: the live feed as server-sent events (see docs/pages/live.md).

Events: ``case`` (a timeline entry and the case as it is now), ``alarm`` (a step of an alarm
and the alarm as it is now, for readers with ``alarms.read`` in its jurisdiction), ``reset`` (the
reader missed
more than can be replayed: reload the snapshot), ``ready`` (replay done, live from here),
``unauthorized`` (the token was revoked or expired), ``bye`` (the server is going away or the
stream reached its age limit: reconnect with ``Last-Event-ID``). Comments keep the line alive.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import StreamingResponse

from cityops.core.auth import Actor
from cityops.core.errors import NotAuthenticated
from cityops.core.live import Closed, LiveEvent, LiveHub, Subscription, format_sse
from cityops.org.roles import Perm
from cityops.web.deps import BearerToken, CurrentActor, RuntimeDep, current_actor

router = APIRouter(prefix="/api/v1", tags=["live"])

HEARTBEAT_SECONDS = 15.0
# A stream ends itself after this long; the client reconnects at once with Last-Event-ID, so
# nothing is lost, workers rebalance, and a revoked token cannot listen for ever.
STREAM_SECONDS = 15 * 60.0
REAUTH_SECONDS = 60.0
REPLAY_LIMIT = 1000
RETRY_MS = 2000


def live_hub(request: Request) -> LiveHub:
    hub = request.app.state.live
    assert isinstance(hub, LiveHub)
    return hub


@router.get(
    "/live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "an event stream"}},
)
async def live(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    bearer: BearerToken,
    last_event_id: Annotated[uuid.UUID | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Case and alarm changes you may see, as they are committed (by any worker process)."""
    actor.require(Perm.cases_read)
    hub = live_hub(request)
    hub.start()
    try:
        subscription = hub.subscribe(actor)
    except Closed:
        raise HTTPException(503, "the server is shutting down") from None

    async def still_allowed() -> bool:
        try:
            await current_actor(request, rt, bearer)
        except NotAuthenticated:
            return False
        return True

    stream = _stream(hub, subscription, actor, last_event_id, still_allowed)
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _encode(event: LiveEvent) -> bytes:
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return format_sse(event=event.kind, data=data, event_id=str(event.id))


async def _replay(
    hub: LiveHub, subscription: Subscription, actor: Actor, after: uuid.UUID
) -> AsyncIterator[bytes]:
    events = await asyncio.to_thread(hub.replay, after, REPLAY_LIMIT)
    if events is None:
        yield format_sse(event="reset", data='{"reason":"too_far_behind"}')
        return
    for event in events:
        if event.visible(actor) and not subscription.was_sent(event.id):
            subscription.mark_sent(event.id)
            yield _encode(event)


async def _stream(
    hub: LiveHub,
    subscription: Subscription,
    actor: Actor,
    last_event_id: uuid.UUID | None,
    still_allowed: Callable[[], Awaitable[bool]],
) -> AsyncIterator[bytes]:
    started = time.monotonic()
    checked = started
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if last_event_id is not None:
            async for chunk in _replay(hub, subscription, actor, last_event_id):
                yield chunk
        yield format_sse(event="ready", data="{}")
        while True:
            if subscription.overflowed:
                subscription.overflowed = False
                yield format_sse(event="reset", data='{"reason":"too_slow"}')
            now = time.monotonic()
            if now - started >= STREAM_SECONDS:
                yield format_sse(event="bye", data='{"reason":"age"}')
                return
            if now - checked >= REAUTH_SECONDS:
                checked = now
                if not await still_allowed():
                    yield format_sse(event="unauthorized", data="{}")
                    return
            event = await subscription.next(HEARTBEAT_SECONDS)
            yield b": keep-alive\n\n" if event is None else _encode(event)
    except Closed:
        yield format_sse(event="bye", data='{"reason":"shutdown"}')
    finally:
        hub.unsubscribe(subscription)
