"""The leader's dashboard (/leader) in headless Chromium: the KPIs by period and grouping,
sorting, a custom range with a field error, the Excel and PDF downloads; writes
docs/screenshots/leader-dashboard.png (1440×900)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Download, Page, expect
from pypdf import PdfReader

from cityops.cases import service as cases
from cityops.cases.kpi import GroupBy
from cityops.cases.kpi_service import KpiReport, case_kpis
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.browser import log_in
from factories.cases import IN_GRID, OTHER_DISTRICT, make_case, report

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ActorOf = Callable[[str], Any]
WEDNESDAY = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _walk(
    rt: Runtime,
    actor: ActorOf,
    clock: FrozenClock,
    where: tuple[float, float],
    handling_hours: float,
) -> None:
    """A report registered after an hour, dispatched half an hour later, handled in time or not."""
    case = report(rt, actor, lon=where[0], lat=where[1])
    clock.advance(hours=1)
    cases.register_case(rt, actor=actor("operator"), case_id=case.id)
    clock.advance(minutes=30)
    out = cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=case.id)
    assert out.department is not None
    handler = actor(f"handler-{out.department.code}")
    cases.accept_case(rt, actor=handler, case_id=case.id)
    clock.advance(hours=handling_hours)
    cases.handle_case(rt, actor=handler, case_id=case.id, note="已处置")


def _seed(rt: Runtime, actor: ActorOf, clock: FrozenClock) -> None:
    """Monday and Tuesday: cases around the loop in both districts, one handled late;
    Wednesday 10:00: two new reports."""
    make_case(rt, actor, "evaluated")
    make_case(rt, actor, "closed", lon=IN_GRID[0] + 0.01)
    make_case(rt, actor, "returned", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "handled", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "rejected")
    _walk(rt, actor, clock, IN_GRID, handling_hours=2)
    _walk(rt, actor, clock, OTHER_DISTRICT, handling_hours=30)  # past its 8 working hours
    clock.set(WEDNESDAY)
    report(rt, actor, lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "dispatched", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    clock.advance(minutes=5)


def _expected(rt: Runtime, actor: ActorOf, since: str, until: str, group_by: GroupBy) -> KpiReport:
    return case_kpis(
        rt,
        actor=actor("leader"),
        since=datetime.fromisoformat(since),
        until=datetime.fromisoformat(until),
        group_by=group_by,
    )


def _table(page: Page) -> list[tuple[str, str]]:
    """(name, reported) of each row of the table on the page."""
    rows = page.locator("[data-testid=kpi-row]")
    return [
        (
            rows.nth(i).locator("th").inner_text().strip(),
            rows.nth(i).locator("td[data-key=reported]").inner_text().strip(),
        )
        for i in range(rows.count())
    ]


def _expect_table(page: Page, expected: KpiReport) -> None:
    want = [(row.name_zh, str(row.figures.reported)) for row in expected.rows]
    expect(page.locator("[data-testid=kpi-row]")).to_have_count(len(want))
    assert _table(page) == want
    total = page.locator("[data-testid=kpi-total]")
    expect(total.locator("td[data-key=reported]")).to_have_text(
        str(expected.total.figures.reported)
    )


def _download(page: Page, button: str) -> Download:
    with page.expect_download() as info:
        page.get_by_test_id(button).click()
    return info.value


def _workbook(download: Download) -> Any:
    # the saved download has no extension, which openpyxl refuses as a path
    return load_workbook(io.BytesIO(Path(download.path()).read_bytes()))


def test_leader_reads_switches_sorts_and_exports(
    rt: Runtime, actor: ActorOf, clock: FrozenClock, live_url: str, browser: Browser
) -> None:
    _seed(rt, actor, clock)
    month = ("2026-03-01T00:00:00+08:00", "2026-04-01T00:00:00+08:00")
    wednesday = ("2026-03-04T00:00:00+08:00", "2026-03-05T00:00:00+08:00")
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    context.clock.install(time=clock.now())  # the page's "today" is the platform's; time runs on
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    log_in(page, live_url, "leader", lands_on="/leader?period=month&group_by=department")
    period = page.get_by_test_id("period-text")
    expect(period).to_contain_text("2026-03-01 至 2026-03-31")
    expect(period).to_contain_text("中国标准时间")
    by_department = _expected(rt, actor, *month, "department")
    _expect_table(page, by_department)
    summary = page.get_by_test_id("summary")
    expect(summary.locator("[data-kpi=reported] b")).to_have_text(
        str(by_department.total.figures.reported)
    )
    rate = by_department.total.figures.on_time_rate
    assert rate is not None
    expect(summary.locator("[data-kpi=on-time] b")).to_have_text(f"{rate * 100:.1f}%")
    expect(page.locator(".actions, [data-action]")).to_have_count(0)  # read-only
    expect(page.locator("[data-testid=kpi-row] a")).to_have_count(0)  # /ops is not theirs

    page.click("[data-preset=today]")
    expect(period).to_contain_text("2026-03-04")
    _expect_table(page, _expected(rt, actor, *wednesday, "department"))
    on_time = page.locator("[data-chart=on-time] [data-testid=chart-empty]")
    expect(on_time).to_have_text("本期没有处置完成的事件")  # nothing handled on Wednesday

    page.click("[data-group=district]")
    expect(page).to_have_url(f"{live_url}/leader?period=today&group_by=district")
    _expect_table(page, _expected(rt, actor, *wednesday, "district"))
    expect(page.locator("[data-testid=kpi-row]")).to_have_count(1)  # only district 2 today

    page.click("[data-preset=month]")
    by_district = _expected(rt, actor, *month, "district")
    _expect_table(page, by_district)
    page.click("[data-sort=reported]")
    most_first = sorted(by_district.rows, key=lambda row: -row.figures.reported)
    assert [name for name, _ in _table(page)] == [row.name_zh for row in most_first]
    expect(page.locator("th[aria-sort=descending] [data-sort=reported]")).to_have_count(1)

    page.click("[data-section=durations]")
    expect(page.get_by_test_id("kpi-table")).to_have_attribute("data-section", "durations")
    expect(page.locator("[data-testid=kpi-table] thead")).to_contain_text("处置时长中位数")
    page.click("[data-section=overview]")

    excel = _download(page, "export-xlsx")
    assert excel.suggested_filename == "绩效报表-按区-20260301-20260331.xlsx"
    sheet = _workbook(excel).active
    assert sheet is not None
    assert sheet["A1"].value == "城市运行事件办理绩效报表"
    names = [sheet.cell(row=r, column=1).value for r in range(5, 5 + len(by_district.rows) + 1)]
    assert names == [*(row.name_zh for row in by_district.rows), "全市"]
    assert sheet.cell(row=4, column=3).value == "上报（件）"
    reported = [sheet.cell(row=r, column=3).value for r in range(5, 5 + len(by_district.rows))]
    assert reported == [row.figures.reported for row in by_district.rows]

    pdf = _download(page, "export-pdf")
    assert pdf.suggested_filename == "绩效报表-按区-20260301-20260331.pdf"
    content = Path(pdf.path()).read_bytes()
    assert content.startswith(b"%PDF-")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)
    assert "城市运行事件办理绩效报表" in text
    assert "统计周期：2026-03-01 至 2026-03-31" in text
    assert "第2区" in text

    for chart in ("on-time", "volume", "satisfaction"):
        expect(page.locator(f"[data-chart={chart}]")).to_have_attribute("data-ready", "true")
    page.screenshot(path=str(SHOTS / "leader-dashboard.png"))

    page.click("[data-locale=en]")
    expect(page.locator("[data-group=district]")).to_have_text("By district")
    english = _download(page, "export-xlsx")
    assert english.suggested_filename == "KPI report - By district - 20260301-20260331.xlsx"
    sheet = _workbook(english).active
    assert sheet is not None
    assert sheet.cell(row=4, column=3).value == "Reported (cases)"
    page.click("[data-locale=zh-CN]")
    context.close()
    assert errors == []


def test_a_custom_range_and_its_field_error(
    rt: Runtime, actor: ActorOf, clock: FrozenClock, live_url: str, browser: Browser
) -> None:
    _seed(rt, actor, clock)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.clock.install(time=clock.now())
    page = context.new_page()
    log_in(page, live_url, "leader", lands_on="/leader?period=month&group_by=department")
    page.click("[data-preset=custom]")
    page.fill("#from", "2026-03-04")
    page.fill("#to", "2026-03-02")
    page.get_by_test_id("apply-range").click()
    expect(page.get_by_test_id("error-to")).to_have_text("结束日期不能早于开始日期")
    expect(page.locator("#from")).to_have_value("2026-03-04")  # what was typed stays
    expect(page.locator("#to")).to_have_value("2026-03-02")

    page.fill("#from", "2026-03-02")
    page.get_by_test_id("apply-range").click()
    expect(page.get_by_test_id("error-to")).to_have_count(0)
    expect(page.get_by_test_id("period-text")).to_contain_text("2026-03-02")
    monday = ("2026-03-02T00:00:00+08:00", "2026-03-03T00:00:00+08:00")
    _expect_table(page, _expected(rt, actor, *monday, "department"))
    expect(page).to_have_url(
        f"{live_url}/leader?period=custom&group_by=department&from=2026-03-02&to=2026-03-02"
    )
    context.close()


def test_who_may_open_the_dashboard(
    rt: Runtime, actor: ActorOf, clock: FrozenClock, live_url: str, browser: Browser
) -> None:
    _seed(rt, actor, clock)
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    context.clock.install(time=clock.now())
    page = context.new_page()
    log_in(page, live_url, "operator", lands_on="/screen")
    page.get_by_test_id("nav-leader").click()
    page.wait_for_url(f"{live_url}/leader?period=month&group_by=department")
    link = page.locator("[data-testid=kpi-row][data-code=chengguan-990101] a")
    href = link.get_attribute("href")
    assert href is not None
    assert href.startswith("/ops?department=chengguan-990101&since=2026-02-28T16%3A00%3A00Z")
    context.close()

    citizen = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = citizen.new_page()
    log_in(page, live_url, "citizen", lands_on="/m/report")
    page.goto(f"{live_url}/leader")
    expect(page.get_by_test_id("no-access")).to_have_text("您的角色无权查看绩效指标。")
    expect(page.get_by_test_id("kpi-table")).to_have_count(0)
    citizen.close()
