"""The command screen (一屏观览) in headless Chromium: log in, read the KPI tiles, see the map,
switch language, watch a new report arrive live, follow a tile to the cases behind it; writes
the screenshots under docs/screenshots/ (1920×1080 wall screen and 1366×768 laptop)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from cityops.cases.tasks import scan_sla
from cityops.core.runtime import Runtime
from factories.browser import log_in
from factories.cases import IN_GRID, OTHER_DISTRICT, OTHER_GRID, make_case

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct-horse-battery"
OPEN = ["reported", "registered", "dispatched", "returned", "accepted", "handled", "verified"]


def _seed_cases(rt: Runtime, actor: Callable[[str], Any]) -> None:
    """Old cases gone overdue and closed ones, a few closed in the last days (the trend and the
    ranking), then a few reported today."""
    make_case(rt, actor, "dispatched")
    make_case(rt, actor, "accepted", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "evaluated", lon=IN_GRID[0] + 0.01)
    rt.clock.advance(days=16)  # type: ignore[attr-defined]
    days = [("E-01-02", "B-01-01"), ("B-02-01",), ("E-01-02", "B-01-01")]
    for day, categories in enumerate(days):
        for index, category in enumerate(categories):
            lon = OTHER_GRID[0] + 0.01 * index + 0.004 * day
            make_case(rt, actor, "evaluated", category=category, lon=lon, lat=OTHER_GRID[1])
        rt.clock.advance(days=1)  # type: ignore[attr-defined]
    rt.clock.advance(days=1)  # type: ignore[attr-defined]
    scan_sla(rt)
    for offset in range(4):
        make_case(rt, actor, "reported", lon=IN_GRID[0] + offset * 0.004, lat=IN_GRID[1])


def _expected(client: TestClient, headers: dict[str, str], today: str) -> dict[str, str]:
    def total(**params: Any) -> int:
        response = client.get("/api/v1/cases", params={**params, "page_size": 1}, headers=headers)
        return int(response.json()["total"])

    kpi = client.get("/api/v1/kpi", params={"group_by": "city"}, headers=headers).json()
    figures = kpi["total"]["figures"]
    rate, satisfaction = figures["on_time_rate"], figures["satisfaction"]
    return {
        "today": str(total(since=today)),
        "open": str(total(state=OPEN)),
        "overdue": str(total(state=OPEN, sla_status="overdue")),
        "on-time": "—" if rate is None else f"{rate * 100:.1f}%",
        "satisfaction": "—" if satisfaction is None else f"{satisfaction:.2f}",
    }


def _seeded(
    rt: Runtime, actor: Callable[[str], Any], client: TestClient, headers: dict[str, str]
) -> tuple[datetime, dict[str, str]]:
    """Seed the cases; the frozen now, and the text each KPI tile must show."""
    _seed_cases(rt, actor)
    now = rt.clock.now()
    today = (now + timedelta(hours=8)).strftime("%Y-%m-%dT00:00:00+08:00")
    return now, _expected(client, headers, today)


def _login(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", "operator")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    expect(page.get_by_test_id("password-error")).to_have_text("用户名或密码不正确")
    expect(page.locator("#username")).to_have_value("operator")
    page.screenshot(path=str(SHOTS / "login.png"))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/screen")


def test_command_screen(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    client: TestClient,
    live_url: str,
    browser: Browser,
) -> None:
    now, expected = _seeded(rt, actor, client, auth("operator"))
    assert expected["today"] == "4"
    assert expected["overdue"] == "2"
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.set_fixed_time(now)  # the browser's "today" is the frozen server clock's day
    _login(page, live_url)
    [city] = client.get("/api/v1/areas", params={"level": "city"}, headers=auth("operator")).json()
    expect(page.get_by_test_id("city-name")).to_have_text(city["name_zh"])
    for name, value in expected.items():
        expect(page.locator(f"[data-kpi={name}] b")).to_have_text(value)
    expect(page.get_by_test_id("city-map")).to_have_attribute(
        "data-map-ready", "true", timeout=30_000
    )
    page.click("[data-locale=en]")
    expect(page.locator("[data-kpi=open] .label")).to_have_text("Open cases")
    page.click("[data-locale=zh-CN]")
    expect(page.locator("[data-kpi=open] .label")).to_have_text("在办案件")
    expect(page.get_by_test_id("trend-chart").locator("canvas")).to_have_count(1)
    expect(page.get_by_test_id("ranking-chart").locator("canvas")).to_have_count(1)
    _a_report_arrives_live(page, live_url, auth("citizen"))
    expect(page.locator("[data-kpi=today] b")).to_have_text(str(int(expected["today"]) + 1))
    page.screenshot(path=str(SHOTS / "command-screen.png"))
    _the_overdue_tile_opens_its_cases(page, live_url, expected["overdue"])
    context.close()
    assert errors == []


def _a_report_arrives_live(page: Page, base: str, citizen: dict[str, str]) -> None:
    """A report made through the API shows in the feed and on the map without a reload. How
    soon is measured by benchmarks/command_screen.py (feed and map latency), not here."""
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "live")
    body = {
        "description": "人行道上的井盖缺失，行人容易踩空",
        "category_code": "E-01-02",
        "location": {"lon": IN_GRID[0] + 0.02, "lat": IN_GRID[1] + 0.01},
    }
    response = httpx.post(f"{base}/api/v1/cases", json=body, headers=citizen, timeout=10)
    assert response.status_code == 201, response.text
    number = response.json()["number"]
    item = page.locator(f'[data-testid=live-feed] [data-case-number="{number}"]')
    expect(item).to_be_visible()
    expect(page.get_by_test_id("city-map")).to_have_attribute(
        "data-live-cases", re.compile(rf"(^| ){number}( |$)")
    )
    expect(item).to_contain_text(response.json()["title"])
    expect(page.locator("[data-testid=live-feed] li").first).to_have_attribute(
        "data-case-number", str(number)
    )


def _the_overdue_tile_opens_its_cases(page: Page, base: str, overdue: str) -> None:
    page.click("[data-kpi=overdue] a")
    page.wait_for_url(re.compile(rf"{re.escape(base)}/ops\?.*overdue=1"))
    expect(page.locator("select[name=state]")).to_have_value("open")
    expect(page.locator("input[name=overdue]")).to_be_checked()
    expect(page.get_by_test_id("queue-row")).to_have_count(int(overdue))
    expect(page.get_by_test_id("overdue-badge")).to_have_count(int(overdue))
    expect(page.get_by_test_id("pager")).to_contain_text(f"共 {overdue} 件")


def test_the_feed_opens_the_case_and_the_laptop_layout(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    """On a 1366×768 laptop: every panel is on screen, and a feed item opens its case."""
    _seed_cases(rt, actor)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.set_fixed_time(rt.clock.now())
    log_in(page, live_url, "operator", lands_on="/screen")
    expect(page.get_by_test_id("city-map")).to_have_attribute(
        "data-map-ready", "true", timeout=30_000
    )
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "live")
    expect(page.locator("[data-kpi=on-time] b")).not_to_have_text("…")
    for panel in ("kpi-tiles", "city-map", "trend-chart", "ranking-chart", "live-feed"):
        box = page.get_by_test_id(panel).bounding_box()
        assert box is not None, panel
        assert box["width"] > 100, panel
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 1366, panel
        assert 0 <= box["y"] < 768, panel
    case = make_case(rt, actor, "registered", lon=IN_GRID[0] + 0.03)
    item = page.locator(f'[data-testid=live-feed] [data-case-number="{case.number}"]')
    expect(item.first).to_be_visible()
    page.screenshot(path=str(SHOTS / "command-screen-laptop.png"))
    page.get_by_test_id("heat-toggle").click()
    expect(page.get_by_test_id("heat-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("map-legend")).to_contain_text("事件密度")
    page.get_by_test_id("heat-toggle").click()
    expect(page.get_by_test_id("map-legend")).to_contain_text("聚合(含超期)")
    item.first.locator("button").click()
    page.wait_for_url(re.compile(rf"/ops\?case={case.number}$"))
    expect(page.get_by_test_id("case-detail")).to_contain_text(f"#{case.number}")
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-state", "registered")
    context.close()
    assert errors == []


COUNTS = re.compile(r".*/api/v1/cases\?.*page_size=1.*")
RATES = re.compile(r".*/api/v1/overview/performance.*")


@pytest.mark.parametrize("late", ["counts", "rates"])
def test_every_tile_is_filled_whichever_request_answers_last(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    client: TestClient,
    live_url: str,
    browser: Browser,
    late: str,
) -> None:
    """The page asks for the counts and the rates at once: held back in the browser until the
    other has answered, either kind comes last and every tile is still filled."""
    now, expected = _seeded(rt, actor, client, auth("operator"))
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    page.clock.set_fixed_time(now)
    held: list[Any] = []
    page.route(COUNTS if late == "counts" else RATES, lambda route: held.append(route))
    log_in(page, live_url, "operator", lands_on="/screen")
    # The other request's answer is in the page: the ranking (rates) or the count tiles.
    if late == "counts":
        expect(page.get_by_test_id("ranking-chart")).to_be_visible()
        expect(page.get_by_test_id("kpi-tiles")).to_have_count(0)
    else:
        expect(page.locator("[data-kpi=open] b")).to_have_text(expected["open"])
        expect(page.locator("[data-kpi=on-time] b")).to_have_text("…")
    assert held, "the held requests were not made"
    for route in held:
        route.continue_()
    for name, value in expected.items():
        expect(page.locator(f"[data-kpi={name}] b")).to_have_text(value)
    context.close()


ORDER = """() => {
  const at = (name) => performance.getEntriesByName(name)[0]?.startTime ?? null;
  const asked = (part) => performance.getEntriesByType("resource")
    .filter((entry) => entry.name.includes(part)).map((entry) => entry.startTime);
  return { created: at("cityops:map-created"), painted: at("cityops:map-cases-painted"),
    points: asked("/api/v1/overview/points"), performance: asked("/api/v1/overview/performance"),
    hotspots: asked("/api/v1/hotspots") };
}"""


def test_the_data_is_asked_for_before_the_map_and_the_hot_spots_after_its_cases(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    """The screen's order: the points and figures go out before the map is made (its start-up
    holds the page's thread), the charts and the hot spots come once the map has drawn its
    cases."""
    _seed_cases(rt, actor)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()  # the page's own clock: a fixed one has no performance entries
    log_in(page, live_url, "operator", lands_on="/screen")
    expect(page.get_by_test_id("ranking-chart")).to_be_visible()
    page.wait_for_function(f"() => ({ORDER})().hotspots.length > 0")
    order = page.evaluate(ORDER)
    assert order["created"] is not None, order
    assert order["painted"] is not None, order
    [points], [rates], [hotspots] = order["points"], order["performance"], order["hotspots"]
    assert points < order["created"], order
    assert rates < order["created"], order
    assert hotspots >= order["painted"], order
    context.close()
