"""What Chromium fetches: the login page, a phone page and an admin page load neither the MapLibre
nor the ECharts chunk; the command screen does, compressed, and still paints its map. How fast is
measured by benchmarks/command_screen.py, not here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, Response, Route, expect

from factories.browser import PASSWORD

pytestmark = pytest.mark.e2e

HEAVY = re.compile(r"/assets/app/assets/(maplibre|echarts)-[^/]+\.js$")
MAP_CHUNK = re.compile(r"/assets/app/assets/maplibre-[^/]+\.js$")


def _heavy(urls: list[str]) -> list[str]:
    return [url for url in urls if HEAVY.search(url)]


def _open_login(browser: Browser, base: str, size: tuple[int, int]) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="zh-CN")
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(f"{base}/login")
    expect(page.locator("#username")).to_be_visible()
    page.wait_for_load_state("networkidle")
    return page, urls


def _submit(page: Page, base: str, username: str, lands_on: str) -> None:
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


@pytest.mark.parametrize(
    ("username", "lands_on", "shows", "size"),
    [
        ("gridworker", "/m/grid", "to-verify-count", (390, 844)),
        ("admin", "/admin/users", "new-user", (1440, 900)),
    ],
)
def test_the_login_phone_and_admin_pages_load_neither_map_nor_charts(
    live_url: str,
    browser: Browser,
    username: str,
    lands_on: str,
    shows: str,
    size: tuple[int, int],
) -> None:
    page, urls = _open_login(browser, live_url, size)
    assert any("/assets/app/assets/LoginView-" in url for url in urls), urls
    assert _heavy(urls) == []
    _submit(page, live_url, username, lands_on)
    expect(page.get_by_test_id(shows)).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert _heavy(urls) == []
    page.context.close()


def test_the_command_screen_loads_its_map_chunk_compressed_and_paints_the_map(
    live_url: str, browser: Browser
) -> None:
    page, urls = _open_login(browser, live_url, (1920, 1080))
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    _submit(page, live_url, "operator", "/screen")
    expect(page.get_by_test_id("city-map")).to_have_attribute(
        "data-map-ready", "true", timeout=30_000
    )
    # Laid out, not only loaded: style.css must still win over MapLibre's own rules.
    expect(page.get_by_test_id("city-map")).to_be_visible()
    expect(page.get_by_test_id("trend-chart").locator("canvas")).to_have_count(1)
    # Both libraries come in their own chunks (so the other tests' check by name holds).
    libraries = {match.group(1) for url in urls if (match := HEAVY.search(url))}
    assert libraries == {"maplibre", "echarts"}, urls
    [chunk] = [response for response in responses if MAP_CHUNK.search(response.url)]
    assert chunk.status == 200
    assert chunk.header_value("content-encoding") in {"gzip", "br"}
    assert chunk.header_value("cache-control") == "public, max-age=31536000, immutable"
    page.context.close()


def test_a_page_whose_chunk_fails_to_load_is_loaded_afresh_once(
    live_url: str, browser: Browser
) -> None:
    """As after a new build, when the open tab's chunk names are gone: the first request for the
    screen's chunk fails, the page reloads itself at /screen and the screen opens; a chunk that
    keeps failing is not retried in a loop."""
    page, urls = _open_login(browser, live_url, (1920, 1080))
    failed: list[str] = []

    def gone_until_reloaded(route: Route) -> None:
        if any(url.endswith("/screen") for url in urls):
            route.continue_()
        else:
            failed.append(route.request.url)
            route.fulfill(status=404, body="gone")

    page.route(re.compile(r"/assets/app/assets/ScreenView-[^/]+\.js$"), gone_until_reloaded)
    _submit(page, live_url, "operator", "/screen")
    expect(page.get_by_test_id("city-map")).to_have_attribute(
        "data-map-ready", "true", timeout=30_000
    )
    assert failed
    assert len([url for url in urls if url.endswith("/screen")]) == 1  # the page loaded afresh
    page.unroute_all()
    attempts: list[str] = []

    def always_fail(route: Route) -> None:
        attempts.append(route.request.url)
        route.fulfill(status=404, body="gone")

    page.route(re.compile(r"/assets/app/assets/OpsView-[^/]+\.js$"), always_fail)
    page.goto(f"{live_url}/ops", wait_until="commit")

    def loads_of_ops() -> int:
        return len([url for url in urls if url == f"{live_url}/ops"])

    for _ in range(300):  # until the page has loaded afresh; a loop would load on and on
        if loads_of_ops() >= 2:
            break
        page.wait_for_timeout(100)
    page.wait_for_load_state("networkidle")
    assert attempts
    assert loads_of_ops() == 2  # opened, then loaded afresh once, no more
    assert page.evaluate("sessionStorage.getItem('cityops-chunk-reload')") == "/ops"
    page.context.close()
