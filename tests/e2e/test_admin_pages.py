"""The administration pages (/admin) in headless Chromium on a 1440×900 laptop: an admin creates
a user who can then log in (a taken username and a short password are refused beside their
fields, keeping what was typed) and deactivates them; edits a department; changes a category's
time limit and responsible department, marks a holiday in the working calendar and finds those
changes in the audit log; an operator gets no access. Writes docs/screenshots/admin-users.png,
admin-categories.png, admin-calendar.png and admin-audit.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from cityops.cases import service as cases
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org import service as org
from factories.browser import PASSWORD, log_in
from factories.i18n import ZH

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1440, "height": 900}
CATEGORY = "E-01-02"


def open_page(browser: Browser) -> tuple[BrowserContext, Page, list[str]]:
    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def test_admin_creates_a_user_who_can_log_in(rt: Runtime, live_url: str, browser: Browser) -> None:
    context, page, errors = open_page(browser)
    log_in(page, live_url, "admin", lands_on="/admin/users")
    expect(page.locator("[data-testid=user-row][data-username=admin]")).to_be_visible()

    page.get_by_test_id("new-user").click()
    page.fill("#u-username", "operator")
    page.fill("#u-display", "王芳")
    page.select_option("#u-role", "operator")
    page.fill("#u-password", PASSWORD)
    page.get_by_test_id("save-user").click()
    expect(page.get_by_test_id("error-username")).to_contain_text(
        ZH.say(text("username {username!r} is taken", username="operator"))
    )
    expect(page.locator("#u-display")).to_have_value("王芳")
    expect(page.locator("#u-password")).to_have_value(PASSWORD)

    page.fill("#u-username", "wangfang")
    page.fill("#u-password", "short")
    page.get_by_test_id("save-user").click()
    expect(page.get_by_test_id("error-password")).to_be_visible()
    expect(page.get_by_test_id("error-username")).to_have_count(0)
    expect(page.locator("#u-username")).to_have_value("wangfang")
    expect(page.locator("#u-display")).to_have_value("王芳")
    expect(page.locator("#u-role")).to_have_value("operator")
    with rt.db.read() as session:
        assert org.get_user_by_username(session, "wangfang") is None

    page.fill("#u-password", PASSWORD)
    page.get_by_test_id("save-user").click()
    expect(page.get_by_test_id("saved")).to_contain_text("wangfang")
    page.fill("input[name=q]", "wang")
    page.keyboard.press("Enter")
    row = page.locator("[data-testid=user-row][data-username=wangfang]")
    expect(row).to_contain_text("受理员")
    expect(page.locator("[data-testid=user-row]")).to_have_count(1)
    page.screenshot(path=str(SHOTS / "admin-users.png"))

    other, newcomer, other_errors = open_page(browser)
    log_in(newcomer, live_url, "wangfang", lands_on="/screen")
    other.close()

    expect(row.get_by_test_id("user-status")).to_have_text("启用")
    row.get_by_test_id("deactivate").click()
    expect(row.get_by_test_id("user-status")).to_have_text("停用")
    expect(row.get_by_test_id("activate")).to_be_visible()
    with rt.db.read() as session:
        user = org.get_user_by_username(session, "wangfang")
    assert user is not None
    assert (user.display_name, user.role, user.active) == ("王芳", "operator", False)
    context.close()
    assert errors == other_errors == []


def test_admin_changes_the_catalogue_and_calendar_and_finds_them_in_the_audit_log(
    rt: Runtime, actor: Callable[[str], Any], live_url: str, browser: Browser
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context, page, errors = open_page(browser)
    log_in(page, live_url, "admin", lands_on="/admin/users")

    page.get_by_test_id("tab-categories").click()
    page.wait_for_url(f"{live_url}/admin/categories")
    row = page.locator(f"[data-testid=category-row][data-code='{CATEGORY}']")
    row.click()
    expect(page.get_by_test_id("category-editor")).to_contain_text(CATEGORY)
    page.fill("#c-handle_hours", "")
    page.get_by_test_id("save-category").click()
    expect(page.get_by_test_id("error-handle_hours")).to_be_visible()
    page.fill("#c-handle_hours", "48")
    page.get_by_test_id("save-category").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(row.get_by_test_id("handle-hours")).to_have_text("48")
    expect(page.locator("#c-handle_hours")).to_have_value("48")  # the saved leaf keeps its form

    expect(page.get_by_test_id("routes")).to_contain_text("未设置")
    page.select_option("#r-area", "990101")
    page.select_option("#r-department", "zhujian-990101")
    page.get_by_test_id("set-route").click()
    expect(page.locator("[data-testid=route-row][data-area='990101']")).to_contain_text(
        "第1区住房和城乡建设局"
    )
    [leaf] = [c for c in cases.list_categories(rt) if c.code == CATEGORY]
    assert leaf.handle_hours == 48
    [route] = cases.list_routes(rt, actor=actor("admin"), category_code=CATEGORY)
    assert (route.area_code, route.department.code) == ("990101", "zhujian-990101")
    page.screenshot(path=str(SHOTS / "admin-categories.png"))

    page.goto(f"{live_url}/admin/calendar?month=2026-04")
    day = page.locator("[data-testid=day][data-day='2026-04-06']")
    expect(day).to_have_attribute("data-working", "true")
    day.click()
    page.check("input[name=mark][value=holiday]")
    page.fill("#day-name", "清明节")
    page.get_by_test_id("save-day").click()
    expect(day).to_have_attribute("data-override", "holiday")
    expect(day).to_have_attribute("data-working", "false")
    expect(day).to_contain_text("清明节")
    [marked] = cases.calendar_days(
        rt, actor=actor("admin"), since=date(2026, 4, 6), until=date(2026, 4, 6)
    )
    assert (marked.working, marked.override, marked.name) == (False, "holiday", "清明节")
    page.screenshot(path=str(SHOTS / "admin-calendar.png"))

    page.get_by_test_id("tab-audit").click()
    page.fill("input[name=actor_name]", "admin")
    page.get_by_test_id("audit-search").click()
    rows = page.get_by_test_id("audit-row")
    for tag in ("cases:category:updated", "cases:route:set", "cases:calendar:set"):
        expect(rows.and_(page.locator(f"[data-action='{tag}']"))).to_have_count(1)
    page.locator("[data-testid=audit-row][data-action='cases:category:updated']").click()
    detail = page.get_by_test_id("audit-detail")
    changed = detail.locator("[data-testid=diff-row][data-field=handle_hours]")
    expect(changed).to_have_attribute("data-changed", "true")
    expect(changed.locator(".new")).to_have_text("48")
    expect(detail.locator("[data-testid=diff-row][data-field=name_zh]")).to_have_attribute(
        "data-changed", "false"
    )
    expect(detail.get_by_test_id("request-id")).to_have_text(re.compile(r"^\s*[0-9a-f]{32}\s*$"))
    page.screenshot(path=str(SHOTS / "admin-audit.png"))

    page.fill("input[name=action]", "cases:calendar")
    page.get_by_test_id("audit-search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-subject", "2026-04-06")
    context.close()
    assert errors == []


def test_an_operator_has_no_access_to_administration(live_url: str, browser: Browser) -> None:
    context, page, errors = open_page(browser)
    log_in(page, live_url, "operator", lands_on="/screen")
    expect(page.get_by_test_id("nav-ops")).to_be_visible()
    expect(page.get_by_test_id("nav-admin")).to_have_count(0)

    page.goto(f"{live_url}/admin/users")

    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_test_id("users")).to_have_count(0)
    expect(page.get_by_test_id("tab-users")).to_have_count(0)
    context.close()
    assert errors == []


def test_an_admin_also_opens_the_command_screen_and_the_workspace(
    live_url: str, browser: Browser
) -> None:
    """An administrator holds every permission (``*``): the other desks open for them too."""
    context, page, errors = open_page(browser)
    log_in(page, live_url, "admin", lands_on="/admin/users")

    page.goto(f"{live_url}/screen")
    expect(page.get_by_test_id("kpi-tiles")).to_be_visible()
    expect(page.get_by_test_id("no-access")).to_have_count(0)
    expect(page.get_by_test_id("nav-ops")).to_be_visible()
    page.get_by_test_id("nav-ops").click()
    page.wait_for_url(f"{live_url}/ops")
    expect(page.get_by_test_id("nav-screen")).to_be_visible()
    expect(page.get_by_test_id("no-access")).to_have_count(0)
    context.close()
    assert errors == []


def test_admin_edits_a_department_and_sees_a_taken_code_beside_its_field(
    rt: Runtime, live_url: str, browser: Browser
) -> None:
    context, page, errors = open_page(browser)
    log_in(page, live_url, "admin", lands_on="/admin/users")
    page.get_by_test_id("tab-departments").click()
    page.click(".locale-switch [data-locale=en]")
    row = page.locator("[data-testid=department-row][data-code='chengguan-990101']")
    row.click()

    page.fill("#d-code", "chengguan-990102")
    page.fill("#d-name-en", "District 1 City Enforcement")
    page.get_by_test_id("save-department").click()
    expect(page.get_by_test_id("error-code")).to_contain_text("already exists")
    expect(page.locator("#d-name-en")).to_have_value("District 1 City Enforcement")

    page.fill("#d-code", "chengguan-990101")
    page.select_option("#d-area", "990101001")
    page.get_by_test_id("save-department").click()
    expect(page.get_by_test_id("saved")).to_have_text("Saved")
    expect(row).to_contain_text("District 1 City Enforcement")
    expect(row).to_contain_text("Street 1")
    with rt.db.read() as session:
        saved = org.get_department_by_code(session, "chengguan-990101")
    assert saved is not None
    assert saved.name_en == "District 1 City Enforcement"
    context.close()
    assert errors == []
