"""Browser fixtures: the real app on a loopback port and Debian's headless Chromium (no
browser downloads: ``make e2e-deps`` installs ``/usr/bin/chromium``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from cityops.app import create_app
from cityops.core.runtime import Runtime
from cityops.web.pages import BUILD_DIR
from factories.server import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def live_url(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The whole app served by uvicorn on a free loopback port."""
    assert (BUILD_DIR / "index.html").is_file(), "front end not built: run make frontend"
    with serving(create_app(runtime=rt), monkeypatch) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert CHROMIUM.is_file(), f"{CHROMIUM} missing: run make e2e-deps"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
