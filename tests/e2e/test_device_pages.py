"""The perception pages in headless Chromium on a 1440×900 laptop: the device list and its
filters, a device page with its latest values and a chart, an alarm acknowledged then cleared,
the rule editor's field errors, a CSV import with a bad row (nothing imported, then the valid
rows), and who may open what. Writes docs/screenshots/devices.png, device-page.png, alarms.png
and device-import.png."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from playwright.sync_api import Browser, Page, expect

from cityops.alarms import service as alarms
from cityops.alarms.schemas import AlarmFilter, LevelIn, OverrideIn, RuleIn
from cityops.app import connect_perception
from cityops.core.i18n import text
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter
from factories.alarms import FLOODING, water_rule
from factories.browser import log_in
from factories.devices import OTHER_DISTRICT, make_device, send
from factories.i18n import ZH

pytestmark = pytest.mark.e2e

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LAPTOP = {"width": 1440, "height": 900}
OpenPage = Callable[[], tuple[Page, list[str]]]


@pytest.fixture
def open_page(browser: Browser, rt: Runtime) -> Iterator[OpenPage]:
    contexts = []

    def opener() -> tuple[Page, list[str]]:
        context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.clock.set_fixed_time(rt.clock.now())  # periods are counted from the server's now
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page, errors

    yield opener
    for context in contexts:
        context.close()


def _ms(rt: Runtime, minutes_ago: float) -> int:
    return int((rt.clock.now() - timedelta(minutes=minutes_ago)).timestamp() * 1000)


def test_device_list_filters_and_the_device_page(
    rt: Runtime, actor: Any, live_url: str, open_page: OpenPage
) -> None:
    make_device(rt, actor, "aq-000001", "air_quality", name="五一广场空气站")
    make_device(rt, actor, "wl-000001", "water_level", name="解放路下穿隧道积水监测")
    make_device(
        rt, actor, "wl-000002", "water_level", at=OTHER_DISTRICT, status="maintenance",
        name="河西积水点",
    )  # fmt: skip
    samples = [
        {"ts": _ms(rt, minutes), "values": {"pm25": 30 + minutes / 10, "pm10": 60}}
        for minutes in range(0, 360, 15)
    ]
    samples[0]["values"].update({"battery": 87, "rssi": -71})
    assert send(rt, "aq-000001", samples).accepted == len(samples) * 2 + 2
    assert send(rt, "wl-000001", {"values": {"water_level": 0.12}}).accepted == 1
    rule = alarms.create_rule(
        rt,
        actor=actor("admin"),
        data=RuleIn(
            code="pm25-high", name_zh="PM2.5 超标", name_en="PM2.5 high", device_type="air_quality",
            kind="threshold", metric="pm25", levels=[LevelIn(severity="warning", above=75)],
        ),
    )  # fmt: skip
    alarms.set_override(
        rt, actor=actor("admin"), rule_id=rule.id, device_id="aq-000001",
        data=OverrideIn(levels=[LevelIn(severity="warning", above=115)], note="交通枢纽"),
    )  # fmt: skip

    page, errors = open_page()
    log_in(page, live_url, "operator", lands_on="/screen")
    page.goto(f"{live_url}/devices")
    rows = page.get_by_test_id("device-row")
    expect(rows).to_have_count(3)
    aq = page.locator("[data-testid=device-row][data-id=aq-000001]")
    expect(aq.get_by_test_id("device-state")).to_have_text("在线")
    expect(aq).to_contain_text("87 %")
    expect(aq).to_contain_text("-71 dBm")
    expect(aq).to_contain_text("(UTC+8)")
    expect(page.locator("[data-testid=device-row][data-id=wl-000002]")).to_contain_text("维护中")

    page.select_option("select[name=type]", "water_level")
    expect(rows).to_have_count(2)
    page.select_option("select[name=status]", "maintenance")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", "wl-000002")
    page.select_option("select[name=status]", "")
    page.select_option("select[name=type]", "")
    page.fill("input[name=q]", "隧道")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", "wl-000001")
    assert "q=" in page.url
    page.fill("input[name=q]", "")
    page.select_option("select[name=online]", "true")
    expect(rows).to_have_count(2)
    page.select_option("select[name=online]", "")
    page.get_by_test_id("sort-id").click()  # ascending → descending
    expect(rows).to_have_count(3)
    expect(rows.first).to_have_attribute("data-id", "wl-000002")
    page.get_by_test_id("sort-id").click()
    expect(rows.first).to_have_attribute("data-id", "aq-000001")
    page.screenshot(path=str(SHOTS / "devices.png"))

    aq.get_by_role("link", name="aq-000001").click()
    page.wait_for_url(f"{live_url}/devices/aq-000001")
    pm25 = page.locator("[data-testid=latest-row][data-metric=pm25]")
    expect(pm25.get_by_test_id("latest-value")).to_have_text("30 µg/m³")
    expect(page.get_by_test_id("battery")).to_have_text("87 %")
    expect(page.get_by_test_id("device-state")).to_have_text("在线")
    chart = page.get_by_test_id("series-chart")
    expect(chart).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("chart-empty")).to_have_count(0)
    page.select_option("select[name=period]", "6h")
    page.select_option("select[name=step]", "")
    expect(chart).to_have_attribute("data-ready", "true")
    page.select_option("select[name=metric]", "no2")  # never reported
    expect(page.get_by_test_id("chart-empty")).to_be_visible()
    page.select_option("select[name=metric]", "pm25")
    page.select_option("select[name=period]", "24h")
    expect(page.get_by_test_id("chart-empty")).to_have_count(0)
    expect(chart).to_have_attribute("data-ready", "true")
    page.screenshot(path=str(SHOTS / "device-page.png"))

    rule_row = page.get_by_test_id("device-rule")
    expect(rule_row).to_contain_text("PM2.5 超标")
    expect(rule_row).to_contain_text("> 115")  # this device's own line, not the type's 75
    expect(rule_row.get_by_test_id("device-override")).to_contain_text("交通枢纽")
    expect(page.get_by_test_id("faults")).to_contain_text("在线")
    page.goto(f"{live_url}/devices/xx-404")
    expect(page.get_by_test_id("device-missing")).to_be_visible()
    page.get_by_role("button", name="EN").click()
    expect(page.get_by_test_id("device-missing")).to_contain_text("No such device")
    page.get_by_test_id("tab-devices").click()
    expect(page.locator("[data-testid=device-row][data-id=aq-000001]")).to_contain_text("Online")
    assert errors == []


def _raise_flood(rt: Runtime, actor: Any) -> Any:
    connect_perception(rt)
    make_device(rt, actor, "wl-000001", "water_level", name="解放路下穿隧道积水监测")
    water_rule(rt, actor, metric="water_level")
    send(rt, "wl-000001", {"values": {"water_level": 0.58}})
    [alarm] = alarms.list_alarms(
        rt, actor=actor("admin"), filters=AlarmFilter(device_id="wl-000001"), params=PageParams()
    ).items
    return alarm


def test_an_alarm_is_acknowledged_then_cleared(
    rt: Runtime, actor: Any, live_url: str, open_page: OpenPage
) -> None:
    alarm = _raise_flood(rt, actor)
    assert (alarm.state, alarm.severity) == ("active", "critical")

    page, errors = open_page()
    log_in(page, live_url, "operator", lands_on="/screen")
    page.goto(f"{live_url}/alarms?device=wl-000001")
    row = page.get_by_test_id("alarm-row")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("alarm-state")).to_have_text("未确认")
    row.click()
    detail = page.get_by_test_id("alarm-detail")
    expect(detail).to_contain_text("道路积水超警戒")
    expect(page.get_by_test_id("alarm-readings")).to_contain_text("0.58")
    assert alarm.case.id is not None  # critical opens a case
    expect(page.get_by_test_id("alarm-case")).to_have_attribute(
        "href", f"/ops?case={alarm.case.id}"
    )
    page.get_by_test_id("acknowledge").click()
    expect(page.get_by_test_id("detail-state")).to_have_text("已确认")
    expect(row.get_by_test_id("alarm-state")).to_have_text("已确认")
    page.screenshot(path=str(SHOTS / "alarms.png"))

    page.get_by_test_id("clear").click()  # a clear needs a note
    expect(page.get_by_test_id("error-note")).to_be_visible()
    expect(page.get_by_test_id("detail-state")).to_have_text("已确认")
    page.fill("#a-note", "现场排水完毕")
    page.get_by_test_id("clear").click()
    expect(page.get_by_test_id("detail-state")).to_have_text("已解除")
    expect(page.get_by_test_id("alarm-history")).to_contain_text("现场排水完毕")
    expect(page.get_by_test_id("alarms-empty")).to_be_visible()  # the default shows open alarms
    stored = alarms.get_alarm(rt, actor=actor("admin"), alarm_id=alarm.id)
    assert (stored.state, stored.clear_note, stored.cleared_by) == (
        "cleared",
        "现场排水完毕",
        "operator",
    )

    page.select_option("select[name=state]", "cleared")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("alarm-state")).to_have_text("已解除")
    assert errors == []


def test_a_dispatcher_sees_alarms_but_may_not_acknowledge(
    rt: Runtime, actor: Any, live_url: str, open_page: OpenPage
) -> None:
    _raise_flood(rt, actor)
    page, _ = open_page()
    log_in(page, live_url, "dispatcher", lands_on="/screen")
    page.goto(f"{live_url}/alarms")
    page.get_by_test_id("alarm-row").click()
    expect(page.get_by_test_id("alarm-detail")).to_be_visible()
    expect(page.get_by_test_id("acknowledge")).to_have_count(0)
    expect(page.get_by_test_id("clear")).to_have_count(0)
    expect(page.get_by_test_id("tab-rules")).to_have_count(0)
    expect(page.get_by_test_id("tab-import")).to_have_count(0)


def test_the_rule_editor_shows_field_errors_and_keeps_the_form(
    rt: Runtime, actor: Any, live_url: str, open_page: OpenPage
) -> None:
    page, errors = open_page()
    log_in(page, live_url, "admin", lands_on="/admin/users")
    page.get_by_test_id("nav-devices").click()
    page.get_by_test_id("tab-rules").click()
    page.wait_for_url(f"{live_url}/alarms/rules")
    page.get_by_test_id("new-rule").click()
    page.fill("#r-code", "wl-high")
    page.fill("#r-name-zh", "道路积水超警戒")
    page.fill("#r-name-en", "Road flooding")
    page.select_option("#r-type", "water_level")
    page.fill("input[name=level-0-above]", "0.5")  # warning above critical
    page.fill("input[name=level-1-above]", "0.3")
    page.fill("#r-deadband", "0.05")
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("error-metric")).to_be_visible()  # no metric chosen

    page.select_option("#r-metric", "water_level")
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("error-levels")).to_contain_text(ZH.term("critical"))
    expect(page.get_by_test_id("error-metric")).to_have_count(0)
    expect(page.locator("#r-name-zh")).to_have_value("道路积水超警戒")
    expect(page.locator("input[name=level-0-above]")).to_have_value("0.5")
    expect(page.locator("#r-metric")).to_have_value("water_level")
    assert alarms.list_rules(rt, actor=actor("admin")) == []

    page.fill("input[name=level-0-above]", "0.3")
    page.fill("input[name=level-1-above]", "0.5")
    page.select_option("#r-case-severity", "critical")
    page.select_option("#r-case-category", FLOODING)
    page.get_by_test_id("save-rule").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.locator("[data-testid=rule-row][data-code=wl-high]")).to_be_visible()
    [rule] = alarms.list_rules(rt, actor=actor("admin"))
    assert (rule.metric, rule.case_category) == ("water_level", FLOODING)
    assert [(lv.severity, lv.above) for lv in rule.levels] == [("warning", 0.3), ("critical", 0.5)]

    make_device(rt, actor, "wl-000009", "water_level")
    page.fill("#o-device", "wl-000009")
    page.fill("input[name=override-0-above]", "0.4")
    page.fill("#o-note", "低洼路段")
    page.get_by_test_id("save-override").click()
    expect(page.get_by_test_id("override-row")).to_contain_text("wl-000009")
    [override] = alarms.list_overrides(rt, actor=actor("admin"), rule_id=rule.id)
    assert override.levels is not None
    assert override.levels[0].above == 0.4
    assert errors == []


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([["id", "type", "name", "lon", "lat"], *rows])
    return out.getvalue().encode()


def _ids(rt: Runtime, actor: Any) -> list[str]:
    page = devices.list_devices(
        rt, actor=actor("admin"), filters=DeviceFilter(), params=PageParams(sort="id")
    )
    return [d.id for d in page.items]


def test_an_import_with_a_bad_row_stores_nothing_then_the_valid_rows(
    rt: Runtime, actor: Any, live_url: str, open_page: OpenPage, tmp_path: Path
) -> None:
    upload = tmp_path / "devices.csv"
    upload.write_bytes(
        _csv(
            [
                ["mh-000001", "manhole_cover", "人民路井盖 1", "112.95", "28.12"],
                ["mh-000002", "teapot", "人民路井盖 2", "112.95", "28.12"],
                ["mh-000003", "manhole_cover", "人民路井盖 3", "112.95", "28.17"],
            ]
        )
    )
    page, errors = open_page()
    log_in(page, live_url, "admin", lands_on="/admin/users")
    page.goto(f"{live_url}/devices/import")
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("error-file")).to_be_visible()
    page.set_input_files("#i-file", str(upload))
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-result")).to_contain_text("未导入")
    error = page.locator("[data-testid=import-error][data-row='3']")
    expect(error).to_contain_text(ZH.say(text("unknown device type {code!r}", code="teapot")))
    expect(page.get_by_test_id("import-error")).to_have_count(1)
    expect(page.get_by_test_id("import-progress")).to_have_attribute("value", "100")
    assert _ids(rt, actor) == []

    with page.expect_download() as download:
        page.get_by_test_id("download-errors").click()
    report = download.value.path().read_text(encoding="utf-8-sig").splitlines()
    assert report[0] == "row,column,code,message"
    assert report[1].startswith("3,type,")

    page.get_by_test_id("mode-valid").check()
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-result")).to_contain_text("已导入 2 台设备")
    expect(page.get_by_test_id("import-error")).to_have_count(1)
    assert _ids(rt, actor) == ["mh-000001", "mh-000003"]
    page.screenshot(path=str(SHOTS / "device-import.png"))

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["设备编号", "设备类型", "设备名称", "经度", "纬度"],
                ["sd-000001", "smoke_detector", "农贸市场烟感", 112.95, 28.12]):  # fmt: skip
        sheet.append(row)
    workbook.save(tmp_path / "devices.xlsx")
    page.set_input_files("#i-file", str(tmp_path / "devices.xlsx"))
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-result")).to_contain_text("已导入 1 台设备")
    expect(page.get_by_test_id("import-error")).to_have_count(0)
    assert "sd-000001" in _ids(rt, actor)
    assert errors == []


@pytest.mark.parametrize(
    ("username", "lands_on", "path"),
    [
        ("gridworker", "/m/grid", "/devices"),
        ("citizen", "/m/report", "/alarms"),
        ("operator", "/screen", "/alarms/rules"),
        ("operator", "/screen", "/devices/import"),
    ],
)
def test_a_role_without_the_permission_gets_no_access(
    live_url: str, open_page: OpenPage, username: str, lands_on: str, path: str
) -> None:
    page, _ = open_page()
    log_in(page, live_url, username, lands_on=lands_on)
    page.goto(f"{live_url}{path}")
    expect(page.get_by_test_id("no-access")).to_be_visible()
    expect(page.get_by_test_id("devices")).to_have_count(0)
