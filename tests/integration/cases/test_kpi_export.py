"""绩效报表: the KPIs as Excel and PDF downloads, checked against GET /api/v1/kpi."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from pypdf import PdfReader

from cityops.cases import service as cases
from cityops.cases.kpi_export import COLUMNS
from cityops.core.auth import SYSTEM, Actor
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import UserIn
from factories.cases import IN_GRID, OTHER_DISTRICT, make_case, report

Auth = Callable[[str], dict[str, str]]
ActorOf = Callable[[str], Actor]
PASSWORD = "correct-horse-battery"
MARCH = {"since": "2026-03-01T00:00:00+08:00", "until": "2026-04-01T00:00:00+08:00"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 4


@pytest.fixture
def busy_city(rt: Runtime, actor: ActorOf, clock: FrozenClock) -> None:
    """Cases in both districts: closed and rated, handled late, returned, waiting, rejected."""
    make_case(rt, actor, "evaluated")
    make_case(rt, actor, "returned", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    make_case(rt, actor, "rejected")
    late = make_case(rt, actor, "accepted", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    report(rt, actor, lon=IN_GRID[0], lat=IN_GRID[1])
    clock.advance(hours=2)
    waiting = report(rt, actor)
    clock.advance(hours=1)
    cases.register_case(rt, actor=actor("operator"), case_id=waiting.id)
    clock.advance(days=3)  # past the 8 working hours of the accepted case
    assert late.department is not None
    handler = actor(f"handler-{late.department.code}")
    cases.handle_case(rt, actor=handler, case_id=late.id, note="已清理")
    clock.advance(minutes=5)


def kpi_json(client: TestClient, auth: Auth, who: str = "leader", **params: str) -> Any:
    response = client.get("/api/v1/kpi", params=params, headers=auth(who))
    assert response.status_code == 200, response.text
    return response.json()


def download(
    client: TestClient, headers: dict[str, str], extension: str, **params: str
) -> tuple[bytes, str]:
    response = client.get(f"/api/v1/kpi.{extension}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.content, response.headers["content-disposition"]


def flat(figures: dict[str, Any]) -> dict[str, Any]:
    """The JSON figures by the keys of the export's columns."""
    out: dict[str, Any] = {}
    for name, value in figures.items():
        if name == "by_state":
            out.update({f"state_{state}": count for state, count in value.items()})
        elif isinstance(value, dict):
            out.update({f"{name}_{key}": figure for key, figure in value.items()})
        else:
            out[name] = value
    return out


def sheet_of(content: bytes) -> Worksheet:
    book = load_workbook(io.BytesIO(content))
    ws = book.active
    assert ws is not None
    return ws


def table(ws: Worksheet) -> list[list[Any]]:
    """The header row and the rows below it down to the first empty name."""
    rows = []
    for row in ws.iter_rows(min_row=HEADER_ROW, values_only=True):
        if row[0] is None:
            break
        rows.append(list(row))
    return rows


# --- Excel ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("busy_city")
@pytest.mark.parametrize(
    ("lang", "name", "headers"),
    [
        ("zh-CN", "name_zh", ["部门", "编码", "上报（件）", "结案（件）", "处置完成（件）"]),
        ("en", "name_en", ["Department", "Code", "Reported (cases)", "Closed (cases)"]),
    ],
)
def test_excel_holds_the_same_figures_as_the_json(
    client: TestClient, auth: Auth, lang: str, name: str, headers: list[str]
) -> None:
    expected = kpi_json(client, auth, group_by="department", **MARCH)
    content, _ = download(client, auth("leader"), "xlsx", group_by="department", lang=lang, **MARCH)
    ws = sheet_of(content)
    header, *rows = table(ws)
    assert header[: len(headers)] == headers
    assert len(header) == 2 + len(COLUMNS)
    want = [*expected["rows"], expected["total"]]
    assert [row[0] for row in rows] == [row[name] for row in want]
    assert [row[1] for row in rows] == [row["code"] for row in want]
    for got, row in zip(rows, want, strict=True):
        figures = flat(row["figures"])
        assert got[2:] == [figures[column.key] for column in COLUMNS], row[name]
    total = flat(expected["total"]["figures"])
    assert (total["reported"], total["handled"], total["on_time_rate"]) == (6, 2, 0.5)


@pytest.mark.usefixtures("busy_city")
def test_excel_layout_title_period_zone_grouping_and_formats(
    client: TestClient, auth: Auth
) -> None:
    response = client.get(
        "/api/v1/kpi.xlsx", params={"group_by": "district", **MARCH}, headers=auth("leader")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    ws = sheet_of(response.content)
    assert ws["A1"].value == "城市运行事件办理绩效报表"
    assert ws["A2"].value == (
        "统计周期：2026-03-01 至 2026-03-31　时区：中国标准时间（Asia/Shanghai, UTC+08:00）"
    )
    assert ws["A3"].value.startswith("分组：按区　生成时间：2026-03-05 13:05:00 (UTC+08:00)")
    assert ws.freeze_panes == "C5"
    header, *rows = table(ws)
    rate = header.index("按时办结率（%）") + 1
    hours = header.index("处置时长中位数（工作小时）") + 1
    assert ws.cell(row=HEADER_ROW + 1, column=rate).number_format == "0.0%"
    assert ws.cell(row=HEADER_ROW + 1, column=hours).number_format == "0.00"
    assert isinstance(ws.cell(row=HEADER_ROW + 1, column=3).value, int)
    assert [row[0] for row in rows] == ["第1区", "第2区", "全市"]
    total_row = HEADER_ROW + len(rows)
    assert ws.cell(row=total_row, column=1).font.b
    assert ws.auto_filter.ref == f"A{HEADER_ROW}:AS{total_row - 1}"
    assert ws.column_dimensions["A"].width >= 14
    assert all(ws.column_dimensions[c].width >= 10 for c in ("C", "M", "AS"))


def test_excel_file_name_carries_grouping_and_period_in_ascii_and_utf8(
    client: TestClient, auth: Auth
) -> None:
    _, disposition = download(client, auth("leader"), "xlsx", group_by="category", **MARCH)
    match = re.fullmatch(r"attachment; filename=\"([^\"]+)\"; filename\*=UTF-8''(\S+)", disposition)
    assert match is not None, disposition
    assert match[1] == "kpi-category-20260301-20260331.xlsx"
    assert unquote(match[2]) == "绩效报表-按事件类型-20260301-20260331.xlsx"
    _, english = download(client, auth("leader"), "pdf", lang="en", since="2026-03-02")
    assert 'filename="kpi-department-20260302-20260302.pdf"' in english
    assert unquote(english.split("UTF-8''")[1]) == (
        "KPI report - By department - 20260302-20260302.pdf"
    )


def test_a_whole_city_export_has_one_row(client: TestClient, auth: Auth) -> None:
    content, _ = download(client, auth("leader"), "xlsx", group_by="city", lang="en", **MARCH)
    header, *rows = table(sheet_of(content))
    assert header[0] == "Scope"
    assert [row[0] for row in rows] == ["Whole city"]
    assert rows[0][2] == 0  # reported: nothing in the test city yet
    assert rows[0][header.index("On-time rate (%)")] is None  # nothing to measure: empty


# --- PDF -----------------------------------------------------------------------------------


def pdf_text(content: bytes) -> tuple[PdfReader, str]:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


@pytest.mark.usefixtures("busy_city")
def test_pdf_in_chinese_has_title_period_names_and_figures(client: TestClient, auth: Auth) -> None:
    response = client.get(
        "/api/v1/kpi.pdf", params={"group_by": "department", **MARCH}, headers=auth("leader")
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    reader, text = pdf_text(response.content)
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(width), round(height)) == (842, 595)  # A4 landscape
    assert "城市运行事件办理绩效报表" in text
    assert "统计周期：2026-03-01 至 2026-03-31" in text
    assert "中国标准时间" in text
    assert "分组：按部门" in text
    expected = kpi_json(client, auth, group_by="department", **MARCH)
    for row in expected["rows"]:
        assert row["name_zh"] in text
    total = expected["total"]["figures"]
    assert f"{total['on_time_rate'] * 100:.1f}%" in text  # 50.0%
    assert f"{total['handling']['median_working_hours']:.2f}" in text
    for title in ("办理与质量", "各环节时长", "本期上报事件的当前状态"):
        assert title in text
    assert "按时办结率" in text
    assert "已评价" in text


@pytest.mark.usefixtures("busy_city")
def test_pdf_in_english(client: TestClient, auth: Auth) -> None:
    content, _ = download(client, auth("leader"), "pdf", group_by="district", lang="en", **MARCH)
    _, text = pdf_text(content)
    assert "City Operations Case Performance Report" in text
    assert "Period: 2026-03-01 to 2026-03-31" in text
    assert "China Standard Time" in text
    assert "Grouping: By district" in text
    assert "District 1" in text
    assert "Whole city" in text
    words = " ".join(text.split())  # header cells wrap onto several lines
    assert "On-time rate (%)" in words
    assert "Verification pass rate (%)" in words


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("extension", ["xlsx", "pdf"])
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lang": "fr"}, "lang"),
        ({"group_by": "street"}, "group_by"),
        ({"since": "last week"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "since"),
    ],
)
def test_bad_parameters_are_refused_naming_the_field(
    client: TestClient, auth: Auth, extension: str, params: dict[str, str], field: str
) -> None:
    response = client.get(f"/api/v1/kpi.{extension}", params=params, headers=auth("leader"))
    assert response.status_code == 422, response.text
    assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


@pytest.mark.parametrize("extension", ["xlsx", "pdf"])
def test_anonymous_is_refused(client: TestClient, extension: str) -> None:
    response = client.get(f"/api/v1/kpi.{extension}")
    assert response.status_code == 401


@pytest.mark.parametrize("extension", ["xlsx", "pdf"])
@pytest.mark.parametrize("who", ["citizen", "gridworker", "handler-chengguan-990101"])
def test_roles_without_kpi_read_are_refused(
    client: TestClient, auth: Auth, extension: str, who: str
) -> None:
    response = client.get(f"/api/v1/kpi.{extension}", headers=auth(who))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.usefixtures("busy_city")
def test_a_district_leader_exports_only_their_district(
    client: TestClient, auth: Auth, rt: Runtime
) -> None:
    org.create_user(
        rt,
        actor=SYSTEM,
        data=UserIn(
            username="leader-990102",
            display_name="第2区领导",
            password=PASSWORD,
            role="leader",
            area_code="990102",
        ),
    )
    token = org.login(rt, username="leader-990102", password=PASSWORD).access_token
    headers = {"Authorization": f"Bearer {token}"}
    content, _ = download(client, headers, "xlsx", group_by="district", **MARCH)
    header, *rows = table(sheet_of(content))
    assert [row[0] for row in rows] == ["第2区", "第2区"]  # the district, then its total
    reported = header.index("上报（件）")
    assert [row[reported] for row in rows] == [2, 2]
    _, text = pdf_text(download(client, headers, "pdf", group_by="district", **MARCH)[0])
    assert "第2区" in text
    assert "第1区" not in text
