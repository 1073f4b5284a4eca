"""The KPI exports without a database: labels, the period in words, file names, and a long
report's PDF splitting across pages with its header repeated."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from cityops.cases.kpi import GroupBy
from cityops.cases.kpi_export import COLUMNS, LANGS, content_disposition, export_sheet, labels
from cityops.cases.kpi_pdf import pdf_bytes
from cityops.cases.kpi_service import KpiDurations, KpiFigures, KpiReport, KpiRow, flat_row
from cityops.cases.kpi_xlsx import workbook_bytes
from cityops.cases.workflow import State

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def durations(count: int) -> KpiDurations:
    return KpiDurations(
        count=count,
        median_working_hours=1.5,
        p90_working_hours=3.25,
        median_hours=2.0,
        p90_hours=None,
    )


def figures(n: int) -> KpiFigures:
    return KpiFigures(
        reported=n,
        closed=n // 2,
        by_state={state.value: n if state is State.closed else 0 for state in State},
        registration=durations(n),
        dispatch=durations(n),
        handling=durations(n),
        handled=n,
        on_time=n - 1,
        on_time_rate=(n - 1) / n,
        dispatched=n,
        returned=1,
        return_rate=1 / n,
        verified=n,
        verify_failures=0,
        verification_pass_rate=1.0,
        reopened=0,
        reopen_rate=0.0,
        rating_count=n,
        satisfaction=4.25,
        overdue_open=1,
    )


def row(n: int) -> KpiRow:
    return KpiRow(
        id=uuid.uuid4(),
        code=f"dept-{n:03d}",
        name_zh=f"第{n}部门",
        name_en=f"Department {n}",
        figures=figures(n),
    )


def kpi_report(
    rows: int,
    since: str = "2026-02-28T16:00:00+00:00",
    until: str = "2026-03-31T16:00:00+00:00",
    group_by: GroupBy = "department",
) -> KpiReport:
    return KpiReport(
        since=datetime.fromisoformat(since),
        until=datetime.fromisoformat(until),
        as_of=NOW,
        group_by=group_by,
        timezone="Asia/Shanghai",
        total=KpiRow(id=None, code=None, name_zh="全市", name_en="Whole city", figures=figures(99)),
        rows=[row(n) for n in range(2, rows + 2)],
    )


def keys(tree: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in tree.items():
        out |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
    return out


def test_both_languages_have_the_same_labels_for_every_column_and_unit() -> None:
    text = resources.files("cityops.cases").joinpath("kpi_labels.json").read_text("utf-8")
    catalogue = json.loads(text)
    assert set(catalogue) == set(LANGS)
    assert keys(catalogue["zh-CN"]) == keys(catalogue["en"])
    for lang in LANGS:
        assert {c.key for c in COLUMNS} == set(labels(lang)["columns"])
        assert {c.kind for c in COLUMNS} <= set(labels(lang)["units"])


def test_the_columns_are_every_figure_once() -> None:
    figures_only = set(flat_row(row(1))) - {"id", "code", "name_zh", "name_en"}
    assert [c.key for c in COLUMNS] == list(dict.fromkeys(c.key for c in COLUMNS))
    assert {c.key for c in COLUMNS} == figures_only


@pytest.mark.parametrize(
    ("since", "until", "zh", "en"),
    [
        ("2026-02-28T16:00:00+00:00", "2026-03-31T16:00:00+00:00", "2026-03-01 至 2026-03-31",
         "2026-03-01 to 2026-03-31"),
        ("2026-03-01T16:00:00+00:00", "2026-03-02T16:00:00+00:00", "2026-03-02", "2026-03-02"),
        ("2026-02-01T02:00:00+00:00", "2026-03-02T02:00:00+00:00",
         "2026-02-01 10:00 至 2026-03-02 10:00", "2026-02-01 10:00 to 2026-03-02 10:00"),
    ],
)  # fmt: skip
def test_the_period_in_words_in_city_time(since: str, until: str, zh: str, en: str) -> None:
    report = kpi_report(1, since, until)
    assert export_sheet(report, lang="zh-CN", generated_at=NOW).heading[0] == ("统计周期", zh)
    assert export_sheet(report, lang="en", generated_at=NOW).heading[0] == ("Period", en)


def test_file_names_use_the_last_day_the_period_touches() -> None:
    whole_days = content_disposition(kpi_report(1), lang="zh-CN", extension="xlsx")
    assert 'filename="kpi-department-20260301-20260331.xlsx"' in whole_days
    assert unquote(whole_days.split("UTF-8''")[1]) == "绩效报表-按部门-20260301-20260331.xlsx"
    rolling = kpi_report(1, "2026-02-01T02:00:00+00:00", "2026-03-02T02:00:00+00:00", "district")
    disposition = content_disposition(rolling, lang="en", extension="pdf")
    assert 'filename="kpi-district-20260201-20260302.pdf"' in disposition
    assert disposition.split("; ")[2].isascii()


def test_a_long_pdf_splits_across_pages_repeating_the_header() -> None:
    sheet = export_sheet(kpi_report(60), lang="zh-CN", generated_at=NOW)
    reader = PdfReader(io.BytesIO(pdf_bytes(sheet)))
    pages = [page.extract_text() for page in reader.pages]
    assert len(pages) >= 4
    text = "\n".join(pages)
    for n in range(2, 62):
        assert f"第{n}部门" in text
    # each section's table repeats its header on the pages it continues onto
    assert sum("按时办结率" in page for page in pages) >= 2
    assert sum("处置时长 P90" in page for page in pages) >= 2
    assert all(f"第 {i} 页" in page for i, page in enumerate(pages, start=1))


def test_workbook_percentages_are_fractions_formatted_as_percent() -> None:
    sheet = export_sheet(kpi_report(3), lang="en", generated_at=NOW)
    ws = load_workbook(io.BytesIO(workbook_bytes(sheet, generated_at=NOW))).active
    assert ws is not None
    header = [cell.value for cell in ws[4]]
    column = header.index("On-time rate (%)") + 1
    cell = ws.cell(row=5, column=column)
    assert cell.value == pytest.approx(0.5)  # (2 - 1) / 2
    assert cell.number_format == "0.0%"
    p90 = ws.cell(row=5, column=header.index("Registration p90 (clock h)") + 1)
    assert p90.value is None  # nothing to measure: an empty cell, not 0
    assert ws.title == "KPIs"
    assert ws.print_title_rows == "$4:$4"
