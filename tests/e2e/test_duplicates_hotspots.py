"""Duplicates and hot spots in headless Chromium: the operator sees "可能与 #N 重复" on a
repeat report in /ops and merges it from the banner, or says it is not a duplicate; the
command screen lists a burst of reports as a hot spot and draws it on the map, and a click on
either opens /ops on it. Writes
docs/screenshots/ops-duplicate.png and docs/screenshots/screen-hotspots.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.browser import click_city_map, signed_in
from factories.cases import IN_GRID, report

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LON, LAT = IN_GRID
FIRST = "人民路与五一路交叉口的井盖被偷了，晚上路过很危险"
REWORDED = "五一路人民路交叉口井盖丢失，晚上路过危险"


def test_operator_merges_a_proposed_duplicate(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    first = report(rt, actor, reporter="operator", description=FIRST, address="人民路 1 号")
    later = report(rt, actor, description=REWORDED, lat=LAT + 0.0003, address="人民路 3 号")
    other = report(rt, actor, description=REWORDED, lat=LAT + 0.0002, address="人民路 2 号")
    SHOTS.mkdir(parents=True, exist_ok=True)
    _context, page, errors = signed_in(browser, live_url, "operator", lands_on="/screen")

    page.goto(f"{live_url}/ops?case={later.number}")
    banner = page.get_by_test_id("duplicate-banner")
    proposal = banner.locator(f"[data-number='{first.number}']")
    expect(proposal).to_contain_text(f"可能与 #{first.number} 重复")
    expect(proposal).to_contain_text("%")
    page.screenshot(path=str(SHOTS / "ops-duplicate.png"))
    proposal.get_by_test_id("duplicate-merge").click()
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-state", "merged")
    expect(banner).to_have_count(0)  # a merged case takes no more duplicates

    page.goto(f"{live_url}/ops?case={other.number}")
    banner = page.get_by_test_id("duplicate-banner")
    expect(banner.locator(f"[data-number='{first.number}']")).to_be_visible()
    # The case it repeated word for word was merged away: not offered any more.
    expect(banner.locator(f"[data-number='{later.number}']")).to_have_count(0)
    banner.locator(f"[data-number='{first.number}']").get_by_test_id("duplicate-dismiss").click()
    expect(banner.locator(f"[data-number='{first.number}']")).to_have_count(0)
    expect(page.get_by_test_id("case-detail")).to_have_attribute("data-state", "reported")
    assert errors == []


TEXTS = ("人民路口井盖丢了很危险", "人民路路口井盖丢失，很危险", "人民路口的井盖丢了")


def _burst(rt: Runtime, actor: Callable[[str], Any], clock: FrozenClock) -> list[int]:
    """Three people report the same missing manhole cover at one corner, two hours apart."""
    numbers = []
    for i, (who, text) in enumerate(zip(("citizen", "gridworker", "operator"), TEXTS, strict=True)):
        clock.advance(hours=2)
        case = report(rt, actor, reporter=who, description=text, lon=LON + i * 0.0001)
        numbers.append(case.number)
    return numbers


def test_the_command_screen_lists_hot_spots(
    rt: Runtime,
    actor: Callable[[str], Any],
    live_url: str,
    browser: Browser,
    clock: FrozenClock,
) -> None:
    numbers = _burst(rt, actor, clock)
    _context, page, _ = signed_in(browser, live_url, "operator", lands_on="/screen")
    panel = page.get_by_test_id("hotspot-panel")
    expect(panel).to_contain_text("热点问题")
    item = panel.get_by_test_id("hotspots").locator("li")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("3 次上报 · 3 人")
    # Named by what the first report said, with its category and place below.
    expect(item.get_by_test_id("hotspot-title")).to_have_text(TEXTS[0])
    expect(item.get_by_test_id("hotspot-place")).to_contain_text("暴露垃圾 · ")
    expect(page.get_by_test_id("kpi-tiles")).to_be_visible()  # the rest of the wall, for the shot
    page.wait_for_timeout(1500)  # let the map draw its tiles before the screenshot
    page.screenshot(path=str(SHOTS / "screen-hotspots.png"))
    item.get_by_role("button").click()
    page.wait_for_url(f"{live_url}/ops?**")
    assert "near=" in page.url
    assert f"case={max(numbers)}" in page.url


def test_the_command_screen_map_draws_hot_spots(
    rt: Runtime,
    actor: Callable[[str], Any],
    live_url: str,
    browser: Browser,
    clock: FrozenClock,
) -> None:
    numbers = _burst(rt, actor, clock)
    report(rt, actor, reporter="citizen", description="路灯不亮", lon=LON + 0.05)  # no hot spot
    _context, page, errors = signed_in(browser, live_url, "operator", lands_on="/screen")
    city_map = page.get_by_test_id("city-map")
    expect(city_map).to_have_attribute("data-map-ready", "true", timeout=30_000)
    expect(city_map).to_have_attribute("data-hotspots", "1")
    expect(page.get_by_test_id("legend-hotspot")).to_have_text("热点问题（圈越大越热）")
    click_city_map(page, LON + 0.0001, LAT)
    page.wait_for_url(f"{live_url}/ops?**")
    assert "category=" in page.url
    assert "near=" in page.url
    assert f"case={max(numbers)}" in page.url
    assert errors == []
