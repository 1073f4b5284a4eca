"""The citizen's phone pages (/m/report, /m/mine) in headless Chromium at 390×844: an empty
description is refused beside its field, a report with a category, a photo and a tapped pin
becomes a case in the right grid; once closed, the citizen rates it 5 stars. Writes
docs/screenshots/citizen-report.png and docs/screenshots/citizen-mine.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.cases import service
from cityops.cases.schemas import CaseFilter
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.browser import log_in, png, tap_map

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
# Inside grid 99010100100101 of district 990101.
TAP = (112.95, 28.12)


def test_citizen_reports_and_rates_a_case(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, locale="zh-CN", has_touch=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    log_in(page, live_url, "citizen", lands_on="/m/report")

    page.click("button[type=submit]")
    expect(page.get_by_test_id("error-description")).to_have_text("必填")
    expect(page.get_by_test_id("error-location")).to_be_visible()

    page.fill("#description", "小区门口人行道上堆放了建筑垃圾，影响通行")
    page.select_option("#category_code", "E-01-02")
    page.set_input_files(
        "#photos", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": png()}]
    )
    expect(page.get_by_test_id("thumb")).to_have_count(1)
    page.fill("#address", "芙蓉路 66 号")
    tap_map(page, *TAP)
    expect(page.get_by_test_id("pin")).to_be_visible()
    # What was typed survived the refused submit.
    expect(page.locator("#description")).to_have_value("小区门口人行道上堆放了建筑垃圾，影响通行")
    expect(page.get_by_test_id("error-location")).to_have_count(0)
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "citizen-report.png"))
    page.click("button[type=submit]")
    number = page.get_by_test_id("case-number")
    expect(number).to_be_visible()

    citizen = actor("citizen")
    mine = service.list_cases(rt, actor=citizen, filters=CaseFilter(mine=True), params=PageParams())
    [case] = [item for item in mine.items if str(item.number) == number.inner_text().strip()]
    assert len(case.photos) == 1
    assert case.location.grid is not None
    assert case.location.grid.code == "99010100100101"
    assert case.category is not None
    assert case.category.code == "E-01-02"

    operator = actor("operator")
    service.register_case(rt, actor=operator, case_id=case.id)
    service.dispatch_case(rt, actor=actor("dispatcher"), case_id=case.id)
    handler = actor("handler-chengguan-990101")
    service.accept_case(rt, actor=handler, case_id=case.id)
    service.handle_case(rt, actor=handler, case_id=case.id, note="已清运完毕")
    service.verify_case(rt, actor=actor("gridworker"), case_id=case.id, passed=True)
    service.close_case(rt, actor=operator, case_id=case.id)

    page.get_by_test_id("to-mine").click()
    page.wait_for_url(f"{live_url}/m/mine")
    row = page.locator(f"[data-testid=my-case][data-number='{case.number}']")
    expect(row).to_have_attribute("data-state", "closed")
    expect(row.get_by_test_id("state")).to_have_text("已结案")
    row.locator("[data-star='5']").click()
    row.locator("textarea").fill("处理及时，很满意")
    page.screenshot(path=str(SHOTS / "citizen-mine.png"))
    row.locator("button[type=submit]").click()
    expect(row).to_have_attribute("data-state", "evaluated")

    after = service.get_case(rt, actor=citizen, case_id=case.id)
    assert after.state == "evaluated"
    assert after.rating == 5
    assert after.rating_comment == "处理及时，很满意"
    context.close()
    assert errors == []
