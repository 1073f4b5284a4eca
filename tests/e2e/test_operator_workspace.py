"""The operator workspace (/ops) in headless Chromium: find a citizen's report in the queue,
fail to reject it without a reason, register it, dispatch it to the suggested department;
writes docs/screenshots/ops-workspace.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.cases import service
from cityops.cases.schemas import CaseIn, Point, Reporter
from cityops.core.runtime import Runtime
from factories.browser import log_in
from factories.cases import IN_GRID, make_photo, report

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_operator_registers_and_dispatches_a_report(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    photo = make_photo(rt, actor)
    case = service.report_case(
        rt,
        actor=actor("citizen"),
        data=CaseIn(
            description="芙蓉路人行道上有一堆暴露垃圾，无人清理",
            category_code="E-01-02",
            location=Point(lon=IN_GRID[0], lat=IN_GRID[1]),
            address="芙蓉路 88 号",
            photos=[photo.id],
            reporter=Reporter(name="李女士"),
        ),
    )
    for offset in (1, 2):  # more of the queue, for the screenshot
        report(rt, actor, lon=IN_GRID[0] + offset * 0.004, address=f"芙蓉路 {offset} 号")
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    log_in(page, live_url, "operator", lands_on="/screen")
    page.get_by_test_id("nav-ops").click()
    page.wait_for_url(f"{live_url}/ops")

    row = page.locator(f"[data-testid=queue-row][data-number='{case.number}']")
    expect(row).to_contain_text("待立案")
    row.click()
    detail = page.get_by_test_id("case-detail")
    expect(detail).to_have_attribute("data-state", "reported")
    expect(detail).to_contain_text("芙蓉路 88 号")
    expect(page.get_by_test_id("case-photo")).to_have_count(1)

    page.click(".actions [data-action=reject]")
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("error-reason")).to_be_visible()
    assert service.get_case(rt, actor=actor("operator"), case_id=case.id).state == "reported"

    page.click(".actions [data-action=register]")
    page.fill("#note", "属实，予以立案")
    page.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "registered")
    expect(row).to_contain_text("已立案")

    page.click(".actions [data-action=dispatch]")
    expect(page.locator("#department_code")).to_have_value("chengguan-990101")
    page.get_by_test_id("confirm").click()
    expect(detail).to_have_attribute("data-state", "dispatched")

    after = service.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert after.state == "dispatched"
    assert after.department is not None
    assert after.department.code == "chengguan-990101"
    steps = page.locator("[data-testid=timeline] li")
    expect(steps).to_have_count(3)
    assert [steps.nth(i).get_attribute("data-action") for i in range(3)] == [
        "report",
        "register",
        "dispatch",
    ]
    expect(page.locator("[data-testid=timeline] li[data-action=register]")).to_contain_text(
        "属实，予以立案"
    )
    # A dispatched case leaves the default queue (reported, registered, returned).
    expect(row).to_have_count(0)
    page.screenshot(path=str(SHOTS / "ops-workspace.png"))
    context.close()
    assert errors == []
