"""The command screen's perception layer in headless Chromium: devices registered through the
devices service are drawn with their status, an alarm raised through the perception path
(stored readings → the alarm rules) arrives in the live feed within 1 s and rings its device
on the map, the device tiles show the right figures, and a device on the map leads to its page
and its alarms. Writes docs/screenshots/command-screen-devices.png (1920×1080)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.app import connect_perception
from cityops.core.runtime import Runtime
from factories.alarms import water_rule
from factories.browser import click_city_map, log_in
from factories.devices import IN_GRID, OTHER_DISTRICT, make_device, send
from factories.org import make_user

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
GAUGE = "wl-000004"
GAUGE_AT = (IN_GRID[0] + 0.01, IN_GRID[1] + 0.005)


def _devices(rt: Runtime, actor: Callable[[str], Any]) -> None:
    """Six devices in service (four reporting, one silent, one in maintenance) and a retired
    one; the gauge has a warning line at 0.30 m."""
    connect_perception(rt)
    water_rule(rt, actor, metric="water_level")
    make_device(rt, actor, "aq-000001", at=(IN_GRID[0] - 0.01, IN_GRID[1]))
    make_device(rt, actor, "aq-000002", at=(IN_GRID[0] - 0.015, IN_GRID[1] + 0.004))
    make_device(rt, actor, "aq-000003", at=(IN_GRID[0] + 0.005, IN_GRID[1] - 0.006))
    make_device(rt, actor, "mh-000005", "manhole_cover", status="maintenance")
    make_device(rt, actor, "aq-000006", status="retired")
    make_device(rt, actor, GAUGE, "water_level", at=GAUGE_AT, name="解放路下穿隧道积水监测")
    make_device(rt, actor, "aq-000007", at=OTHER_DISTRICT)
    for device_id in ("aq-000001", "aq-000002", "aq-000007"):
        send(rt, device_id, {"values": {"pm25": 35}})
    send(rt, GAUGE, {"values": {"water_level": 0.12}})  # dry


def _reading(rt: Runtime, level: float) -> None:
    """A reading of the gauge a minute on, through the devices ingest (which hands the stored
    batch to the rules)."""
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]
    result = send(rt, GAUGE, {"values": {"water_level": level}})
    assert result.accepted == 1, result


def test_devices_and_alarms_on_the_command_screen(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    _devices(rt, actor)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.clock.set_fixed_time(rt.clock.now())
    log_in(page, live_url, "operator", lands_on="/screen")
    city_map = page.get_by_test_id("city-map")
    expect(city_map).to_have_attribute("data-map-ready", "true", timeout=30_000)
    expect(city_map).to_have_attribute("data-devices", "6")  # the retired one is not drawn
    expect(city_map).to_have_attribute("data-alarm-devices", "")
    online = page.locator("[data-kpi=online-devices]")
    expect(online).to_have_attribute("data-online", "4")
    expect(online).to_have_attribute("data-total", "6")
    expect(online.locator("b")).to_have_text("4 / 6")
    expect(online.locator(".label")).to_have_text("在线设备")
    expect(page.locator("[data-kpi=active-alarms] b")).to_have_text("0")
    expect(page.get_by_test_id("map-legend")).to_contain_text("设备离线")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "live")

    # Over the warning line: the alarm shows in the feed and on the map without a reload.
    _reading(rt, 0.42)
    item = page.locator(f'[data-testid=live-feed] li[data-alarm-device="{GAUGE}"]')
    expect(item.first).to_be_visible()
    expect(item.first).to_have_attribute("data-action", "raise")
    expect(item.first).to_have_attribute("data-severity", "warning")
    expect(item.first).to_contain_text("解放路下穿隧道积水监测")
    expect(item.first).to_contain_text("一般")
    expect(city_map).to_have_attribute("data-alarm-devices", GAUGE)
    expect(page.locator("[data-kpi=active-alarms] b")).to_have_text("1")
    expect(online.locator("b")).to_have_text("4 / 6")  # in alarm, and still online
    page.screenshot(path=str(SHOTS / "command-screen-devices.png"))

    # The device on the map leads to its page and its alarms.
    click_city_map(page, *GAUGE_AT)
    card = page.get_by_test_id("device-card")
    expect(card).to_have_attribute("data-device", GAUGE)
    expect(card).to_contain_text("解放路下穿隧道积水监测")
    expect(card).to_contain_text("告警中")
    expect(page.get_by_test_id("device-link")).to_have_attribute("href", f"/devices/{GAUGE}")
    expect(page.get_by_test_id("device-alarms-link")).to_have_attribute(
        "href", f"/alarms?device={GAUGE}"
    )
    expect(online.locator("a")).to_have_attribute("href", "/devices")

    # The water goes down: the alarm clears, in the feed and on the map.
    _reading(rt, 0.05)
    cleared = page.locator(
        f'[data-testid=live-feed] li[data-alarm-device="{GAUGE}"][data-action=condition_ended]'
    )
    expect(cleared).to_be_visible()
    expect(cleared).to_contain_text("已恢复")
    expect(city_map).to_have_attribute("data-alarm-devices", "")
    expect(page.locator("[data-kpi=active-alarms] b")).to_have_text("0")
    expect(card).to_contain_text("在线")

    # The device layer can be hidden; the legend follows.
    page.get_by_test_id("devices-toggle").click()
    expect(page.get_by_test_id("devices-toggle")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("map-legend")).not_to_contain_text("设备离线")
    page.click("[data-locale=en]")
    expect(online.locator(".label")).to_have_text("Online devices")
    expect(item.first).to_contain_text("Warning")
    context.close()
    assert errors == []


def test_the_screen_counts_only_the_devices_of_its_jurisdiction(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    """A district's operator sees the devices of the district and no alarm from elsewhere."""
    _devices(rt, actor)
    make_user(rt, actor, "district-op", "operator", area="990102")
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.clock.set_fixed_time(rt.clock.now())
    log_in(page, live_url, "district-op", lands_on="/screen")
    city_map = page.get_by_test_id("city-map")
    expect(city_map).to_have_attribute("data-map-ready", "true", timeout=30_000)
    expect(city_map).to_have_attribute("data-devices", "1")
    expect(page.locator("[data-kpi=online-devices] b")).to_have_text("1 / 1")
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-status", "live")
    _reading(rt, 0.42)  # the gauge is in the other district
    expect(page.locator("[data-kpi=active-alarms] b")).to_have_text("0")
    expect(page.locator("[data-testid=live-feed] li[data-alarm-device]")).to_have_count(0)
    expect(city_map).to_have_attribute("data-alarm-devices", re.compile(r"^$"))
    context.close()
