"""FastAPI factory: middleware, error mapping, health, and the routers of every module."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityops import __version__
from cityops.core import heap
from cityops.core.context import request_id_var
from cityops.core.live import LiveHub
from cityops.core.runtime import Runtime
from cityops.web.docs_pages import install_docs
from cityops.web.errors import install_error_handlers
from cityops.web.lanes import open_lanes
from cityops.web.pages import install_pages


def create_web_app(
    runtime: Runtime, routers: list[APIRouter], *, live: LiveHub | None = None
) -> FastAPI:
    """Build the ASGI app around an already composed runtime."""
    live = live or LiveHub([])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime.settings.run_scheduler:
            runtime.scheduler.start()
        live.start()
        restore = _end_streams_on_signal(live)
        # What start-up loaded out of the garbage collector's sight (a full collection had
        # stalled every request for 0.1 s), and fewer collections (core/heap.py).
        collector = heap.settle()
        open_lanes(app, runtime)
        yield
        heap.release(collector)
        restore()
        await live.stop()
        runtime.scheduler.stop()
        for worker in runtime.workers:
            worker.stop()

    app = FastAPI(
        title="cityops",
        version=__version__,
        summary="City operations platform: the unified case loop (一网统管), Open311, KPIs.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.live = live
    app.add_middleware(RequestContext)
    install_error_handlers(app)
    install_docs(app)
    app.add_api_route("/health", _health, methods=["GET"], tags=["meta"])
    for router in routers:
        app.include_router(router)
    install_pages(app)
    return app


def _end_streams_on_signal(live: LiveHub) -> Callable[[], None]:
    """uvicorn waits for every open response before it shuts down, and an event stream never
    ends by itself: on SIGINT/SIGTERM end the streams first, then run the server's handler."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(sig: int, frame: Any) -> None:
        loop.call_soon_threadsafe(live.close_streams)
        prior = previous[signal.Signals(sig)]
        if callable(prior):
            prior(sig, frame)

    for sig in previous:
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, prior in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, prior)

    return restore


class RequestContext:
    """Plain ASGI middleware: a request id for logs and the audit trail (taken from the
    ``X-Request-ID`` header or made up) and the app's own time in ``Server-Timing``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 64 else uuid.uuid4().hex
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                headers.append((b"server-timing", f"app;dur={elapsed:.1f}".encode()))
                message["headers"] = headers
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            request_id_var.reset(token)


def _health(request: Request) -> JSONResponse:
    """Liveness and readiness: the database answers, and the version."""
    runtime: Runtime = request.app.state.runtime
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "database": runtime.db.dialect,
        "database_ok": True,
    }
    try:
        with runtime.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"
        body.update(status="unavailable", database_ok=False, error=type(exc).__name__)
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
