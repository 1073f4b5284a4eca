"""Steps shared by the browser tests."""

from __future__ import annotations

import io
import math

from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

PASSWORD = "correct-horse-battery"


def log_in(page: Page, base: str, username: str, *, lands_on: str) -> None:
    """Log in through the login page and wait for the page the role lands on."""
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{lands_on}")


def signed_in(
    browser: Browser,
    base: str,
    username: str,
    *,
    lands_on: str,
    size: tuple[int, int] = (1920, 1080),
    locale: str = "zh-CN",
) -> tuple[BrowserContext, Page, list[str]]:
    """A new browser context logged in as ``username``, its page, and the page's uncaught
    errors as they happen (a test ends by asserting there were none)."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page, base, username, lands_on=lands_on)
    return context, page, errors


def png() -> bytes:
    """A small PNG, as a phone camera would hand it to the page."""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def _mercator_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def _position(bounds: str, width: float, height: float, lon: float, lat: float) -> dict[str, float]:
    """The pixel of a point on a web-mercator map showing ``bounds`` ("west,south,east,north")."""
    west, south, east, north = (float(v) for v in bounds.split(","))
    top, bottom = _mercator_y(north), _mercator_y(south)
    return {
        "x": (lon - west) / (east - west) * width,
        "y": (top - _mercator_y(lat)) / (top - bottom) * height,
    }


def tap_map(page: Page, lon: float, lat: float) -> None:
    """Tap the pin map at a point, from the bounds the fitted map reports."""
    pin_map = page.get_by_test_id("pin-map")
    expect(pin_map).to_have_attribute("data-map-ready", "true")
    size = page.evaluate(
        "() => { const r = document.querySelector('[data-testid=pin-map]')"
        ".getBoundingClientRect(); return { width: r.width, height: r.height }; }"
    )
    bounds = pin_map.get_attribute("data-bounds")
    pin_map.click(position=_position(bounds, size["width"], size["height"], lon, lat))


def click_city_map(page: Page, lon: float, lat: float) -> None:
    """Click the command screen's map at a point, from the bounds it reports."""
    city_map = page.get_by_test_id("city-map")
    box = city_map.bounding_box()
    assert box is not None
    bounds = city_map.get_attribute("data-bounds")
    city_map.click(position=_position(bounds, box["width"], box["height"], lon, lat))
