"""The front end's page routes: index.html for each page, the built assets, and a clear 503
while the front end is not built."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.web.pages import BUILD_DIR, NOT_BUILT, PAGE_ROUTES, install_pages


@pytest.mark.parametrize("path", PAGE_ROUTES)
def test_each_page_is_the_single_page_app(client: TestClient, path: str) -> None:
    assert (BUILD_DIR / "index.html").is_file(), NOT_BUILT
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in response.text
    assert "/assets/app/assets/" in response.text


def test_every_router_page_is_served() -> None:
    assert set(PAGE_ROUTES) == {
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
    }


def test_the_built_assets_are_served(client: TestClient) -> None:
    [script] = (BUILD_DIR / "assets").glob("index-*.js")
    response = client.get(f"/assets/app/assets/{script.name}")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]


def test_the_api_and_docs_keep_their_routes(client: TestClient) -> None:
    assert client.get("/health").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/api/v1/areas.geojson", params={"level": "district"}).status_code == 200


def test_pages_answer_503_while_the_front_end_is_not_built(tmp_path: Path) -> None:
    app = FastAPI()
    install_pages(app, build_dir=tmp_path / "missing")
    with TestClient(app) as client:
        response = client.get("/screen")
    assert response.status_code == 503
    assert response.text == NOT_BUILT
