"""The command screen (一屏观览) in headless Chromium: log in, read the KPI tiles, see the map,
switch language; writes the screenshots under docs/screenshots/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from cityops.cases.tasks import scan_sla
from cityops.core.runtime import Runtime
from factories.cases import IN_GRID, OTHER_DISTRICT, make_case

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct-horse-battery"
OPEN = ["reported", "registered", "dispatched", "returned", "accepted", "handled", "verified"]


def _seed_cases(rt: Runtime, actor: Callable[[str], Any]) -> None:
    """Old cases gone overdue and closed ones, then a few reported today."""
    make_case(rt, actor, "dispatched")
    make_case(rt, actor, "accepted", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "evaluated", lon=IN_GRID[0] + 0.01)
    rt.clock.advance(days=20)  # type: ignore[attr-defined]
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
    _seed_cases(rt, actor)
    now = rt.clock.now()
    today = (now + timedelta(hours=8)).strftime("%Y-%m-%dT00:00:00+08:00")
    expected = _expected(client, auth("operator"), today)
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
    page.screenshot(path=str(SHOTS / "command-screen.png"))
    context.close()
    assert errors == []
