"""The admin desk's dispatch models tab in headless Chromium: the versions with their figures,
the active version's per-category figures (sortable), activate, roll back and retrain with a
confirmation, an error shown when the action is refused; writes
docs/screenshots/admin-models.png."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from cityops.brain import runs, versions
from cityops.core.i18n import text
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.brain import wire
from factories.browser import signed_in
from factories.i18n import ZH
from factories.models import history

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_admin_activates_rolls_back_and_retrains(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    wire(rt, auto_dispatch=False)
    history(rt, actor, per_code=8)
    first = versions.retrain_model(rt, actor=actor("admin"), activate="always")
    history(rt, actor, per_code=10, codes=("E-01-02", "E-05-21", "A-01-01", "E-01-23"))
    versions.retrain_model(rt, actor=actor("dataofficer"), activate="never")
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = signed_in(browser, live_url, "admin", lands_on="/admin/users")

    page.get_by_test_id("tab-models").click()
    page.wait_for_url(f"{live_url}/admin/models")
    rows = page.get_by_test_id("model-row")
    expect(rows).to_have_count(2)
    expect(page.locator("[data-testid=model-row][data-version='1']")).to_have_attribute(
        "data-status", "active"
    )
    assert first.macro_f1 is not None
    expect(page.locator("[data-version='1'] [data-testid=macro-f1]")).to_have_text(
        f"{first.macro_f1 * 100:.1f}%"
    )
    expect(page.get_by_test_id("active-summary")).to_contain_text("版本 1")
    classes = page.get_by_test_id("class-row")
    expect(classes).to_have_count(3)
    expect(page.get_by_test_id("count-registered")).to_have_text(
        "64"
    )  # 3 × 8 + 4 × 10, each registered by the operator
    page.get_by_test_id("sort-label").click()
    labels = [row.get_attribute("data-label") for row in classes.all()]
    page.get_by_test_id("sort-label").click()
    assert [row.get_attribute("data-label") for row in classes.all()] == labels[::-1]
    page.get_by_test_id("sort-f1").click()
    f1 = [float(cell.inner_text().rstrip("%")) for cell in page.get_by_test_id("class-f1").all()]
    assert f1 == sorted(f1)
    assert set(labels) == {"E-01-02", "E-05-21", "A-01-01"}

    # Activate version 2, after a confirmation; cancelling first changes nothing.
    page.locator("[data-version='2'] [data-testid=activate]").click()
    page.get_by_test_id("confirm-no").click()
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    page.locator("[data-version='2'] [data-testid=activate]").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("版本 2")
    page.get_by_test_id("confirm-yes").click()
    expect(page.get_by_test_id("models-done")).to_have_text("版本 2 已启用。")
    expect(page.locator("[data-testid=model-row][data-version='2']")).to_have_attribute(
        "data-status", "active"
    )
    expect(classes).to_have_count(4)
    assert versions.list_models(rt, actor=actor("admin"), params=_page()).active == 2

    # Roll back to version 1.
    page.get_by_test_id("rollback").click()
    expect(page.get_by_test_id("confirm")).to_contain_text("从版本 2 回退到版本 1")
    page.get_by_test_id("confirm-yes").click()
    expect(page.get_by_test_id("models-done")).to_have_text("已回退到版本 1。")
    expect(page.locator("[data-testid=model-row][data-version='1']")).to_have_attribute(
        "data-status", "active"
    )

    # Someone else activates version 2 meanwhile: this page's activation is refused, shown.
    versions.activate_model(rt, actor=actor("dataofficer"), version=2)
    page.locator("[data-version='2'] [data-testid=activate]").click()
    page.get_by_test_id("confirm-yes").click()
    expect(page.get_by_test_id("models-error")).to_contain_text(
        ZH.say(text("version {version} is already active", version=2))
    )

    # Retrain, keeping the new version inactive.
    page.get_by_test_id("retrain-activate").select_option("never")
    page.get_by_test_id("retrain").click()
    page.get_by_test_id("confirm-yes").click()
    expect(page.get_by_test_id("models-done")).to_have_text(
        "版本 3 已训练（已训练）。", timeout=60_000
    )
    expect(rows).to_have_count(3)
    expect(page.locator("[data-testid=model-row][data-version='3']")).to_have_attribute(
        "data-status", "trained"
    )
    newest = page.get_by_test_id("run-row").first
    expect(newest).to_have_attribute("data-status", "succeeded")
    expect(newest).to_contain_text("版本 3")
    expect(newest).to_contain_text("手动")
    expect(page.get_by_test_id("run-row")).to_have_count(3)
    page.get_by_test_id("sort-f1").click()
    page.screenshot(path=str(SHOTS / "admin-models.png"))
    assert errors == []
    context.close()


def test_a_running_retraining_is_followed_and_its_failure_shown(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    """A retraining started elsewhere (another worker, the schedule) is shown running and
    blocks a second; when it fails the page says why without a reload."""
    history(rt, actor, per_code=8)
    run = runs.begin_run(rt, actor("dataofficer"), "schedule", "if_better", "", 24)
    context, page, errors = signed_in(
        browser, live_url, "admin", lands_on="/admin/users", size=(1440, 900), locale="en"
    )
    page.goto(f"{live_url}/admin/models")
    page.click("[data-locale=en]")
    expect(page.get_by_test_id("run-running")).to_contain_text("Training on 24 messages")
    expect(page.get_by_test_id("retrain")).to_be_disabled()
    expect(page.get_by_test_id("run-row")).to_have_attribute("data-status", "running")
    runs.fail_run(rt, actor("dataofficer"), run, MemoryError("out of memory"))
    failed = page.get_by_test_id("run-failed")
    expect(failed).to_contain_text(
        "The last retraining failed: MemoryError: out of memory", timeout=20_000
    )
    expect(page.get_by_test_id("run-row")).to_have_attribute("data-status", "failed")
    expect(page.get_by_test_id("retrain")).to_be_enabled()
    assert errors == []
    context.close()


def _page() -> PageParams:
    return PageParams(page=1, page_size=20)
