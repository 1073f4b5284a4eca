"""The grid worker's installable app: its page routes, the service worker at /sw.js (whose scope
may cover the whole site) listing every built file under a content version, and the web app
manifest with its PNG icons."""

from __future__ import annotations

import io
import json
import re
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from cityops.web.pages import BUILD_DIR, GRID_ROUTES, NOT_BUILT, install_pages

MANIFEST = "/assets/app/grid/manifest.webmanifest"


def _built() -> None:
    assert (BUILD_DIR / "sw.js").is_file(), NOT_BUILT


@pytest.mark.parametrize("path", GRID_ROUTES)
def test_each_grid_page_is_the_single_page_app(client: TestClient, path: str) -> None:
    _built()
    response = client.get(path.replace("{case_id}", str(uuid.uuid4())))
    assert response.status_code == 200
    assert '<div id="app">' in response.text


def test_the_service_worker_is_served_at_the_root_uncached(client: TestClient) -> None:
    _built()
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "no-cache"
    assert re.search(r'^const VERSION = "[0-9a-f]{16}";', response.text, re.MULTILINE)


def _precache(text: str) -> list[str]:
    match = re.search(r"^const PRECACHE = (\[.*?\]);", text, re.MULTILINE | re.DOTALL)
    assert match, "no PRECACHE list"
    urls = json.loads(match.group(1))
    assert isinstance(urls, list)
    return [str(url) for url in urls]


def test_the_service_worker_caches_every_built_file(client: TestClient) -> None:
    # The compressed copies are another encoding of the same files, not files of their own.
    _built()
    urls = _precache(client.get("/sw.js").text)
    built = {
        "/assets/app/" + path.relative_to(BUILD_DIR).as_posix()
        for path in BUILD_DIR.rglob("*")
        if path.is_file() and path.name != "sw.js" and path.suffix not in {".gz", ".br"}
    }
    assert set(urls) == built
    assert "/assets/app/index.html" in urls
    for url in urls:
        assert client.get(url).status_code == 200, url


def test_the_manifest_makes_the_app_installable(client: TestClient) -> None:
    _built()
    manifest = client.get(MANIFEST).json()
    assert manifest["start_url"] == "/m/grid"
    assert manifest["display"] == "standalone"
    assert manifest["name"]
    assert manifest["short_name"]
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    sizes = set()
    for icon in manifest["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200, icon["src"]
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "PNG"
        assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes


def test_the_service_worker_answers_503_while_the_front_end_is_not_built(tmp_path: Path) -> None:
    app = FastAPI()
    install_pages(app, build_dir=tmp_path / "missing")
    with TestClient(app) as client:
        response = client.get("/sw.js")
    assert response.status_code == 503
    assert response.text == NOT_BUILT
