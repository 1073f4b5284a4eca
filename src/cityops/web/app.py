"""FastAPI factory: middleware, error mapping, health, and the routers of every module."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from cityops import __version__
from cityops.core.context import request_id_var
from cityops.core.runtime import Runtime
from cityops.web.docs_pages import install_docs
from cityops.web.errors import install_error_handlers

REQUEST_ID_HEADER = "X-Request-ID"


def create_web_app(runtime: Runtime, routers: list[APIRouter]) -> FastAPI:
    """Build the ASGI app around an already composed runtime."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runtime.settings.run_scheduler:
            runtime.scheduler.start()
        yield
        runtime.scheduler.stop()

    app = FastAPI(
        title="cityops",
        version=__version__,
        summary="City operations platform: the unified case loop (一网统管), Open311, KPIs.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.middleware("http")(_request_context)
    install_error_handlers(app)
    install_docs(app)
    app.add_api_route("/health", _health, methods=["GET"], tags=["meta"])
    for router in routers:
        app.include_router(router)
    return app


async def _request_context(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if 0 < len(incoming) <= 64 else uuid.uuid4().hex
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    try:
        response = await call_next(request)
    finally:
        request_id_var.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


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
