"""The single-page front end (built by ``make frontend`` from ``frontend/``): its assets under
``/assets/app`` (precompressed and cached, ``cityops.web.assets``) and its ``index.html`` for every
page route."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response

from cityops.web.assets import BuiltAssets

BUILD_DIR = Path(__file__).parent / "static" / "app"
PAGE_ROUTES = (
    "/",
    "/login",
    "/screen",
    "/ops",
    "/m/report",
    "/m/mine",
    "/dept",
    "/dept/cases/{case_id}",
    "/admin",
    "/admin/users",
    "/admin/departments",
    "/admin/categories",
    "/admin/calendar",
    "/admin/audit",
    "/admin/models",
    "/leader",
    "/devices",
    "/devices/import",
    "/devices/{device_id}",
    "/alarms",
    "/alarms/rules",
)
GRID_ROUTES = ("/m/grid", "/m/grid/report", "/m/grid/outbox", "/m/grid/cases/{case_id}")
NOT_BUILT = "front end not built: run make frontend"


def install_pages(app: FastAPI, build_dir: Path = BUILD_DIR) -> None:
    """Serve the built front end; every page answers 503 while it is not built."""
    app.mount(
        "/assets/app",
        BuiltAssets(directory=build_dir, check_dir=False),
        name="frontend-assets",
    )

    def page() -> Response:
        index = build_dir / "index.html"
        if not index.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})

    def service_worker() -> Response:
        # At the root so that its scope may cover the phone pages (/m/); never cached, so a
        # new build's worker (a new cache version) is picked up on the next visit.
        script = build_dir / "sw.js"
        if not script.is_file():
            return PlainTextResponse(NOT_BUILT, status_code=503)
        return FileResponse(
            script, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    for path in (*PAGE_ROUTES, *GRID_ROUTES):
        app.add_api_route(path, page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/sw.js", service_worker, methods=["GET"], include_in_schema=False)
