"""The KPI report as an Excel workbook (.xlsx): a title block, one header row with units
(frozen, with a filter), one row per group and the total; numbers stay numbers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from cityops.cases.kpi_export import COLUMNS, ExportRow, ExportSheet, display_width

__all__ = ["HEADER_ROW", "MEDIA_TYPE", "workbook_bytes"]

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER_ROW = 4  # title, period and zone, grouping and times, then the header
_FIRST_FIGURE = 3  # columns A (name) and B (code) come first

_FORMATS = {
    "cases": "#,##0",
    "times": "#,##0",
    "ratings": "#,##0",
    "working_hours": "0.00",
    "hours": "0.00",
    "rate": "0.0%",
    "score": "0.00",
}
_THIN = Side(style="thin", color="B0BEC5")
_HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
_TOTAL_FILL = PatternFill("solid", fgColor="FFF2CC")


def workbook_bytes(sheet: ExportSheet, *, generated_at: datetime) -> bytes:
    """The workbook of one export sheet, as the bytes of an .xlsx file."""
    book = Workbook()
    ws = book.active
    assert ws is not None  # a new workbook has one sheet
    ws.title = sheet.sheet_name
    _title_block(ws, sheet)
    _header(ws, sheet)
    last = HEADER_ROW
    for last, row in enumerate(sheet.rows, start=HEADER_ROW + 1):
        _data_row(ws, last, row)
    _notes(ws, sheet, last + 2)
    _layout(ws, sheet, last)
    book.properties.title = sheet.title
    book.properties.creator = "cityops"
    stamp = generated_at.astimezone(UTC).replace(tzinfo=None)
    book.properties.created = book.properties.modified = stamp
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _title_block(ws: Worksheet, sheet: ExportSheet) -> None:
    ws["A1"] = sheet.title
    ws["A1"].font = Font(size=14, bold=True)
    sep = "：" if sheet.lang == "zh-CN" else ": "
    gap = "　" if sheet.lang == "zh-CN" else "   "
    period, zone, *times = sheet.heading
    ws["A2"] = gap.join(f"{label}{sep}{value}" for label, value in (period, zone))
    ws["A3"] = gap.join(f"{label}{sep}{value}" for label, value in times)


def _header(ws: Worksheet, sheet: ExportSheet) -> None:
    titles = [sheet.group_column, sheet.code_column, *(sheet.header(c) for c in COLUMNS)]
    for index, title in enumerate(titles, start=1):
        cell = ws.cell(row=HEADER_ROW, column=index, value=title)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        cell.border = Border(top=_THIN, bottom=_THIN, left=_THIN, right=_THIN)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    ws.row_dimensions[HEADER_ROW].height = 48


def _data_row(ws: Worksheet, number: int, row: ExportRow) -> None:
    ws.cell(row=number, column=1, value=row.name)
    ws.cell(row=number, column=2, value=row.code or None)
    for index, column in enumerate(COLUMNS, start=_FIRST_FIGURE):
        # None stays an empty cell, not 0: nothing to measure
        cell = ws.cell(row=number, column=index, value=row.values[column.key])
        cell.number_format = _FORMATS[column.kind]
    if row.is_total:
        for cell in ws[number]:
            cell.font = Font(bold=True)
            cell.fill = _TOTAL_FILL
            cell.border = Border(top=_THIN)


def _notes(ws: Worksheet, sheet: ExportSheet, first: int) -> None:
    for offset, note in enumerate(sheet.notes):
        cell = ws.cell(row=first + offset, column=1, value=note)
        cell.font = Font(italic=True, color="607D8B")


def _layout(ws: Worksheet, sheet: ExportSheet, last: int) -> None:
    """Frozen header and name column, a filter over the groups, widths, printing."""
    ws.freeze_panes = f"{get_column_letter(_FIRST_FIGURE)}{HEADER_ROW + 1}"
    last_column = get_column_letter(_FIRST_FIGURE + len(COLUMNS) - 1)
    groups_end = last - 1 if sheet.rows and sheet.rows[-1].is_total else last
    ws.auto_filter.ref = f"A{HEADER_ROW}:{last_column}{max(groups_end, HEADER_ROW)}"
    names = [display_width(sheet.group_column), *(display_width(r.name) for r in sheet.rows)]
    ws.column_dimensions["A"].width = min(max(max(names) + 2, 14), 48)
    codes = [display_width(sheet.code_column), *(len(r.code) for r in sheet.rows)]
    ws.column_dimensions["B"].width = min(max(max(codes) + 2, 8), 24)
    for index, column in enumerate(COLUMNS, start=_FIRST_FIGURE):
        header = display_width(sheet.header(column))
        # the header wraps onto up to three lines; numbers need about ten characters
        ws.column_dimensions[get_column_letter(index)].width = min(max(header / 3 + 2, 10), 18)
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
