"""The whole 一网统管 loop, each step in the browser by the role that does it: a citizen reports
a problem with a photo and a map pin on a phone → it appears on the operator's command screen
within 1 s → the operator registers and dispatches it → the department's handler accepts it and
reports the result with a photo → the grid worker verifies it on a phone → the operator closes it
→ the citizen rates it → the command screen's indicators move."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from cityops.cases import service
from cityops.cases.schemas import CaseFilter
from cityops.core.clock import FrozenClock
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.browser import log_in, png, tap_map
from factories.cases import IN_GRID, make_case

pytestmark = pytest.mark.e2e

WALL = {"width": 1920, "height": 1080}
LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
PHOTO = {"name": "photo.png", "mimeType": "image/png", "buffer": png()}
HANDLER = "handler-chengguan-990101"


@pytest.fixture
def ticking(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Time passes between the steps, as it does in a city: each reading of the platform's clock
    is a millisecond after the one before (the indicators count what happened before now)."""
    clock = rt.clock
    assert isinstance(clock, FrozenClock)
    frozen_now = clock.now

    def now() -> datetime:
        clock.advance(milliseconds=1)
        return frozen_now()

    monkeypatch.setattr(clock, "now", now)


@pytest.fixture
def contexts(browser: Browser, rt: Runtime) -> Iterator[Callable[..., tuple[Page, list[str]]]]:
    """Pages in contexts of their own (one person each), whose script errors are collected."""
    opened: list[BrowserContext] = []

    def open_page(viewport: dict[str, int], **options: Any) -> tuple[Page, list[str]]:
        context = browser.new_context(viewport=viewport, locale="zh-CN", **options)
        opened.append(context)
        page = context.new_page()
        page.clock.set_fixed_time(rt.clock.now())  # "today" is the frozen server clock's day
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page, errors

    yield open_page
    for context in opened:
        context.close()


def _tile(page: Page, name: str) -> str:
    return page.locator(f"[data-kpi={name}] b").inner_text().strip()


@pytest.mark.usefixtures("ticking")
def test_the_loop_from_report_to_rating_in_the_browser(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, contexts: Any
) -> None:
    make_case(rt, actor, "evaluated")  # an earlier case, rated 4, so satisfaction has a value

    # The operations centre watches the command screen.
    screen, screen_errors = contexts(WALL)
    log_in(screen, live_url, "operator", lands_on="/screen")
    expect(screen.get_by_test_id("live-status")).to_have_attribute("data-status", "live")
    expect(screen.get_by_test_id("city-map")).to_have_attribute(
        "data-map-ready", "true", timeout=30_000
    )
    expect(screen.locator("[data-kpi=open] b")).to_have_text("0")
    expect(screen.locator("[data-kpi=satisfaction] b")).not_to_have_text("…")
    satisfaction_before = _tile(screen, "satisfaction")
    assert satisfaction_before[0].isdigit(), satisfaction_before

    # A citizen reports from a phone with a photo and a pin.
    phone, phone_errors = contexts(PHONE, has_touch=True)
    log_in(phone, live_url, "citizen", lands_on="/m/report")
    phone.fill("#description", "人民路口的垃圾桶满溢，垃圾散落一地")
    phone.select_option("#category_code", "E-01-02")
    phone.set_input_files("#photos", files=[PHOTO])
    expect(phone.get_by_test_id("thumb")).to_have_count(1)
    tap_map(phone, *IN_GRID)
    phone.click("button[type=submit]")
    number_shown = phone.get_by_test_id("case-number")
    expect(number_shown).to_be_visible()
    number = number_shown.inner_text().strip()

    # It reaches the command screen without a reload (how soon: benchmarks/command_screen.py).
    expect(screen.locator(f'[data-testid=live-feed] [data-case-number="{number}"]')).to_be_visible()
    expect(screen.locator("[data-kpi=open] b")).to_have_text("1")
    [case] = [
        item
        for item in service.list_cases(
            rt, actor=actor("citizen"), filters=CaseFilter(mine=True), params=PageParams()
        ).items
        if str(item.number) == number
    ]
    assert len(case.photos) == 1

    # The operator registers it and dispatches it to the suggested department.
    desk, desk_errors = contexts(WALL)
    log_in(desk, live_url, "operator", lands_on="/screen")
    desk.goto(f"{live_url}/ops?case={case.id}")
    detail = desk.get_by_test_id("case-detail")
    expect(detail).to_have_attribute("data-state", "reported")
    expect(desk.get_by_test_id("case-photo")).to_have_count(1)
    desk.click(".actions [data-action=register]")
    desk.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "registered")
    desk.click(".actions [data-action=dispatch]")
    expect(desk.locator("#department_code")).to_have_value("chengguan-990101")
    desk.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "dispatched")

    # The department's handler accepts it and reports the result with a photo.
    office, office_errors = contexts(LAPTOP)
    log_in(office, live_url, HANDLER, lands_on="/dept")
    office.locator(f"[data-testid=queue-row][data-number='{number}']").click()
    office.wait_for_url(f"{live_url}/dept/cases/{case.id}")
    handled = office.get_by_test_id("case-detail")
    office.click(".actions [data-action=accept]")
    office.get_by_test_id("confirm").click()
    expect(handled).to_have_attribute("data-state", "accepted")
    office.click(".actions [data-action=handle]")
    office.fill("#handle_note", "已清运满溢垃圾并冲洗地面")
    office.set_input_files("#handle_photos", files=[PHOTO])
    expect(office.locator("[data-testid=result-photos] li")).to_have_count(1)
    office.get_by_test_id("confirm").click()
    expect(handled).to_have_attribute("data-state", "handled")

    # The grid worker checks it on site, on a phone.
    patrol, patrol_errors = contexts(
        PHONE,
        has_touch=True,
        geolocation={"longitude": IN_GRID[0], "latitude": IN_GRID[1], "accuracy": 8},
        permissions=["geolocation"],
    )
    log_in(patrol, live_url, "gridworker", lands_on="/m/grid")
    patrol.locator(f"[data-testid=to-verify] [data-number='{number}'] a").click()
    patrol.wait_for_url(f"{live_url}/m/grid/cases/{case.id}")
    expect(patrol.get_by_test_id("handled")).to_contain_text("已清运满溢垃圾")
    patrol.get_by_test_id("verdict-pass").click()
    patrol.fill("#note", "现场已清理干净")
    patrol.set_input_files("#verify-photos", files=[PHOTO])
    patrol.click("[data-testid=verify-form] button[type=submit]")
    expect(patrol.get_by_test_id("case")).to_have_attribute("data-state", "verified")

    # The operator closes it.
    desk.goto(f"{live_url}/ops?case={case.id}")
    expect(detail).to_have_attribute("data-state", "verified")
    desk.click(".actions [data-action=close]")
    desk.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "closed")

    # The citizen rates the fix.
    phone.goto(f"{live_url}/m/mine")
    row = phone.locator(f"[data-testid=my-case][data-number='{number}']")
    expect(row).to_have_attribute("data-state", "closed")
    row.locator("[data-star='5']").click()
    row.locator("textarea").fill("很快就处理好了")
    row.locator("button[type=submit]").click()
    expect(row).to_have_attribute("data-state", "evaluated")

    # The indicators on the command screen moved, live.
    expect(screen.locator("[data-kpi=open] b")).to_have_text("0")
    # The rates are recomputed once the feed has been quiet for 5 s (at most every 15 s).
    expect(screen.locator("[data-kpi=satisfaction] b")).not_to_have_text(
        satisfaction_before, timeout=20_000
    )
    assert _tile(screen, "satisfaction") != satisfaction_before

    after = service.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert after.state == "evaluated"
    assert after.rating == 5
    timeline = service.timeline(rt, actor=actor("operator"), case_id=case.id)
    assert [step.action for step in timeline] == [
        "report",
        "register",
        "dispatch",
        "accept",
        "handle",
        "verify",
        "close",
        "evaluate",
    ]
    assert [len(step.photos) for step in timeline if step.action in ("handle", "verify")] == [1, 1]
    assert screen_errors + phone_errors + desk_errors + office_errors + patrol_errors == []
