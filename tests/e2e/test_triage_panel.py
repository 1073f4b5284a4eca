"""Triage on /ops in headless Chromium: an operator sees the machine's suggestions for a report
it was unsure about and dispatches with one click; recalls a machine-dispatched case (a reason
is required); writes docs/screenshots/ops-triage.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.cases import service
from cityops.core.runtime import Runtime
from factories.brain import CONFIDENT_TEXT, CONFIDENT_TITLE, THRESHOLD, wire
from factories.browser import signed_in
from factories.cases import IN_GRID, report

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_operator_dispatches_with_a_suggestion_and_recalls_a_machine_dispatch(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    wire(rt)
    # 井盖松动 points to the water-supply cover, but 井盖 alone could be any of three: unsure.
    unsure = report(
        rt,
        actor,
        category=None,
        title="井盖松动",
        description="小区门口井盖松动了，晚上路过很危险",
        address="芙蓉路 8 号",
    )
    sure = report(
        rt,
        actor,
        category=None,
        title=CONFIDENT_TITLE,
        description=CONFIDENT_TEXT,
        lon=IN_GRID[0] + 0.004,
        address="芙蓉路 20 号",
    )
    assert service.get_case(rt, actor=actor("operator"), case_id=unsure.id).state == "reported"
    for offset in (1, 2):  # more of the queue, for the screenshot
        report(rt, actor, category="E-01-02", lon=IN_GRID[0] + offset * 0.002)
    machine = service.get_case(rt, actor=actor("operator"), case_id=sure.id).machine_dispatch
    assert machine is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = signed_in(browser, live_url, "operator", lands_on="/screen")

    page.goto(f"{live_url}/ops?case={unsure.number}")
    detail = page.get_by_test_id("case-detail")
    expect(detail).to_have_attribute("data-state", "reported")
    suggestions = page.get_by_test_id("triage-suggestion")
    expect(suggestions).to_have_count(3)
    expect(suggestions.first).to_have_attribute("data-code", "B-01-01")
    expect(suggestions.first).to_contain_text("井盖松动")
    top = float(suggestions.first.get_by_role("meter").get_attribute("aria-valuenow") or 0)
    assert 0 < top < THRESHOLD * 100
    expect(page.get_by_test_id("triage-decision")).to_contain_text("等待人工派单")
    page.screenshot(path=str(SHOTS / "ops-triage.png"))
    suggestions.first.get_by_test_id("dispatch-with").click()
    expect(detail).to_have_attribute("data-state", "dispatched")
    after = service.get_case(rt, actor=actor("operator"), case_id=unsure.id)
    assert after.category is not None
    assert after.category.code == "B-01-01"
    assert after.department is not None
    assert after.department.code.startswith("shuiwu")
    assert after.machine_dispatch is None

    page.goto(f"{live_url}/ops?state=dispatched&case={sure.number}")
    expect(detail).to_have_attribute("data-state", "dispatched")
    row = page.locator(f"[data-testid=queue-row][data-number='{sure.number}']")
    expect(row.get_by_test_id("queue-machine-badge")).to_contain_text("机器派单")
    badge = page.get_by_test_id("machine-badge")
    expect(badge).to_have_text(f"机器派单 · {round(machine.confidence * 100)}%")
    page.get_by_role("button", name="EN", exact=True).click()
    expect(badge).to_have_text(f"Machine-dispatched · {round(machine.confidence * 100)}%")
    expect(page.get_by_test_id("recall")).to_have_text("Recall dispatch")
    page.get_by_role("button", name="中文", exact=True).click()
    page.get_by_test_id("recall").click()
    page.get_by_test_id("confirm-recall").click()
    expect(page.get_by_test_id("error-recall-reason")).to_be_visible()
    assert service.get_case(rt, actor=actor("operator"), case_id=sure.id).state == "dispatched"
    page.fill("#recall-reason", "是建筑垃圾，不是生活垃圾")
    page.get_by_test_id("confirm-recall").click()
    expect(detail).to_have_attribute("data-state", "registered")
    expect(badge).to_have_count(0)
    expect(page.get_by_test_id("triage-suggestion").first).to_contain_text("E-01-02")
    expect(page.locator("[data-testid=timeline] [data-action=recall]")).to_contain_text("撤回派单")
    recalled = service.get_case(rt, actor=actor("operator"), case_id=sure.id)
    assert (recalled.state, recalled.department, recalled.machine_dispatch) == (
        "registered",
        None,
        None,
    )
    assert errors == []
    context.close()
