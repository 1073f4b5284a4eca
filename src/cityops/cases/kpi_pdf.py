"""The KPI report as a PDF: A4 landscape, the title block, then one table per section of
figures (handling and quality, stage durations, current states), each splitting across pages
with its header repeated. Chinese is set in reportlab's built-in CID font ``STSong-Light``,
so no font file is needed (a PDF reader supplies the glyphs)."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cityops.cases.kpi_export import SECTIONS, Column, ExportRow, ExportSheet

__all__ = ["CHINESE_FONT", "MEDIA_TYPE", "pdf_bytes"]

MEDIA_TYPE = "application/pdf"
CHINESE_FONT = "STSong-Light"
_PAGE = landscape(A4)
_MARGIN = 12 * mm
_NAME_WIDTH = 110.0
_HEADER_BG = colors.HexColor("#DCE6F1")
_TOTAL_BG = colors.HexColor("#FFF2CC")
_ZEBRA_BG = colors.HexColor("#F5F8FB")
_GRID = colors.HexColor("#B0BEC5")


@cache
def _fonts(lang: str) -> tuple[str, str]:
    """(regular, bold) font names; the CID font is registered once per process."""
    if lang != "zh-CN":
        return "Helvetica", "Helvetica-Bold"
    pdfmetrics.registerFont(UnicodeCIDFont(CHINESE_FONT))
    return CHINESE_FONT, CHINESE_FONT


def pdf_bytes(sheet: ExportSheet) -> bytes:
    """The PDF of one export sheet."""
    regular, bold = _fonts(sheet.lang)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=_PAGE,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN + 4 * mm,
        title=sheet.title,
        author="cityops",
        creator="cityops",
    )
    story = _story(sheet, regular, bold, doc.width)
    footer = _footer(sheet, regular)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _styles(regular: str, bold: str) -> dict[str, ParagraphStyle]:
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=22, spaceAfter=4),
        "meta": ParagraphStyle("meta", fontName=regular, fontSize=9, leading=13),
        "section": ParagraphStyle(
            "section", fontName=bold, fontSize=11, leading=15, spaceBefore=10, spaceAfter=4
        ),
        "head": ParagraphStyle("head", fontName=bold, fontSize=6, leading=7.5, alignment=TA_CENTER),
        "name": ParagraphStyle("name", fontName=regular, fontSize=7.5, leading=9),
        "note": ParagraphStyle(
            "note", fontName=regular, fontSize=7.5, leading=10, textColor=colors.grey
        ),
    }


def _story(sheet: ExportSheet, regular: str, bold: str, width: float) -> list[Flowable]:
    styles = _styles(regular, bold)
    sep = "：" if sheet.lang == "zh-CN" else ": "
    story: list[Flowable] = [Paragraph(escape(sheet.title), styles["title"])]
    story += [
        Paragraph(escape(f"{label}{sep}{value}"), styles["meta"]) for label, value in sheet.heading
    ]
    for section, columns in SECTIONS:
        story.append(Paragraph(escape(sheet.section_title(section)), styles["section"]))
        story.append(_table(sheet, columns, styles, regular, width))
    story.append(Spacer(1, 6))
    story += [Paragraph(escape(note), styles["note"]) for note in sheet.notes]
    return story


def _table(
    sheet: ExportSheet,
    columns: tuple[Column, ...],
    styles: dict[str, ParagraphStyle],
    font: str,
    width: float,
) -> Table:
    header = [Paragraph(escape(sheet.group_column), styles["head"])]
    header += [_head(sheet, column, styles["head"]) for column in columns]
    body = [
        [Paragraph(escape(row.name), styles["name"]), *(_cell(sheet, row, c) for c in columns)]
        for row in sheet.rows
    ]
    figure_width = (width - _NAME_WIDTH) / len(columns)
    table = Table(
        [header, *body],
        colWidths=[_NAME_WIDTH, *([figure_width] * len(columns))],
        repeatRows=1,
    )
    table.setStyle(_table_style(sheet.rows, font))
    return table


def _head(sheet: ExportSheet, column: Column, style: ParagraphStyle) -> Paragraph:
    """The name, then the unit on a line of its own (a bracket never wraps alone)."""
    name, unit = sheet.header_parts(column)
    return Paragraph(f"{escape(name)}<br/>{escape(unit)}", style)


def _cell(sheet: ExportSheet, row: ExportRow, column: Column) -> str:
    value: Any = row.values[column.key]
    if value is None:
        return sheet.none
    if column.kind == "rate":
        return f"{value * 100:.1f}%"
    if column.kind in ("working_hours", "hours", "score"):
        return f"{value:.2f}"
    return f"{value:,}"


def _table_style(rows: tuple[ExportRow, ...], font: str) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), font, 7.5),
        ("GRID", (0, 0), (-1, -1), 0.4, _GRID),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    for number, row in enumerate(rows, start=1):
        if row.is_total:
            commands.append(("BACKGROUND", (0, number), (-1, number), _TOTAL_BG))
            commands.append(("LINEABOVE", (0, number), (-1, number), 1, colors.black))
        elif number % 2 == 0:
            commands.append(("BACKGROUND", (0, number), (-1, number), _ZEBRA_BG))
    return TableStyle(commands)


def _footer(sheet: ExportSheet, font: str) -> Callable[[Canvas, Any], None]:
    """Title and generation time on the left of each page, the page number on the right."""
    left = f"{sheet.title} · {sheet.generated}"

    def draw(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.grey)
        canvas.drawString(_MARGIN, _MARGIN / 2, left)
        page = sheet.page_label(canvas.getPageNumber())
        canvas.drawRightString(_PAGE[0] - _MARGIN, _MARGIN / 2, page)
        canvas.restoreState()

    return draw
