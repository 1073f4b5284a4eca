"""What the KPI exports (绩效报表) share: the columns and their units, the labels in zh-CN
and en, the heading lines (title, period, time zone, grouping, generation time) and the file
name. The Excel and PDF builders (``kpi_xlsx``, ``kpi_pdf``) lay these out.

Every figure of :class:`~cityops.cases.kpi_service.KpiFigures` is one column, named by its key
in :func:`~cityops.cases.kpi_service.flat_row`; the columns fall into three sections (handling
and quality, stage durations, current states) that the PDF prints as separate tables.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cityops.cases.kpi_service import KpiReport, KpiRow, flat_row
from cityops.cases.workflow import State

__all__ = [
    "COLUMNS",
    "LANGS",
    "SECTIONS",
    "Column",
    "ExportSheet",
    "Lang",
    "content_disposition",
    "display_width",
    "export_sheet",
]

Lang = Literal["zh-CN", "en"]
LANGS: tuple[Lang, ...] = ("zh-CN", "en")
# How a figure is measured; its unit comes from the catalogue, its format from the builder.
Kind = Literal["cases", "times", "ratings", "working_hours", "hours", "rate", "score"]


@dataclass(frozen=True)
class Column:
    """One figure: its key in ``flat_row`` and what it measures."""

    key: str
    kind: Kind


def _stage(stage: str) -> tuple[Column, ...]:
    return (
        Column(f"{stage}_count", "cases"),
        Column(f"{stage}_median_working_hours", "working_hours"),
        Column(f"{stage}_p90_working_hours", "working_hours"),
        Column(f"{stage}_median_hours", "hours"),
        Column(f"{stage}_p90_hours", "hours"),
    )


SECTIONS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    (
        "overview",
        (
            Column("reported", "cases"),
            Column("closed", "cases"),
            Column("handled", "cases"),
            Column("on_time", "cases"),
            Column("on_time_rate", "rate"),
            Column("dispatched", "cases"),
            Column("returned", "cases"),
            Column("return_rate", "rate"),
            Column("verified", "cases"),
            Column("verify_failures", "times"),
            Column("verification_pass_rate", "rate"),
            Column("reopened", "cases"),
            Column("reopen_rate", "rate"),
            Column("rating_count", "ratings"),
            Column("satisfaction", "score"),
            Column("overdue_open", "cases"),
        ),
    ),
    ("durations", (*_stage("registration"), *_stage("dispatch"), *_stage("handling"))),
    ("states", tuple(Column(f"state_{state.value}", "cases") for state in State)),
)
COLUMNS: tuple[Column, ...] = tuple(column for _, columns in SECTIONS for column in columns)


@cache
def labels(lang: Lang) -> dict[str, Any]:
    """The export's strings in one language, from ``kpi_labels.json``."""
    text = resources.files(__package__).joinpath("kpi_labels.json").read_text("utf-8")
    catalogue: dict[str, dict[str, Any]] = json.loads(text)
    return catalogue[lang]


@dataclass(frozen=True)
class ExportRow:
    """One row of the export: the group's name and code and its flat figures."""

    name: str
    code: str
    values: dict[str, Any]
    is_total: bool


@dataclass(frozen=True)
class ExportSheet:
    """Everything a builder lays out, in one language."""

    lang: Lang
    title: str
    sheet_name: str
    heading: tuple[tuple[str, str], ...]  # (label, value): period, zone, grouping, times
    generated: str
    group_column: str
    code_column: str
    rows: tuple[ExportRow, ...]  # the groups, then the total unless grouped by city
    notes: tuple[str, ...]

    def header_parts(self, column: Column) -> tuple[str, str]:
        """The column's name and its unit in brackets: ``按时办结率``, ``（%）``."""
        strings = labels(self.lang)
        name, unit = strings["columns"][column.key], strings["units"][column.kind]
        return name, f"（{unit}）" if self.lang == "zh-CN" else f"({unit})"

    def header(self, column: Column) -> str:
        """The column's heading with its unit: ``按时办结率（%）``, ``On-time rate (%)``."""
        name, unit = self.header_parts(column)
        return f"{name}{unit}" if self.lang == "zh-CN" else f"{name} {unit}"

    def section_title(self, section: str) -> str:
        title: str = labels(self.lang)["sections"][section]
        return title

    def page_label(self, page: int) -> str:
        text: str = labels(self.lang)["page"]
        return text.format(page=page)

    @property
    def none(self) -> str:
        text: str = labels(self.lang)["none"]
        return text


def export_sheet(report: KpiReport, *, lang: Lang, generated_at: datetime) -> ExportSheet:
    """The report's rows and heading lines in ``lang``, times in the report's time zone."""
    strings = labels(lang)
    zone = ZoneInfo(report.timezone)
    grouped = report.group_by != "city"
    rows = [*report.rows, report.total] if grouped else [report.total]
    generated = _moment(generated_at.astimezone(zone))
    heading = (
        (strings["period"], _period_text(report, lang)),
        (strings["timezone"], _zone_text(report.timezone, report.since.astimezone(zone), lang)),
        (strings["grouping"], strings["group_by"][report.group_by]),
        (strings["generated"], generated),
        (strings["as_of"], _moment(report.as_of.astimezone(zone))),
    )
    return ExportSheet(
        lang=lang,
        title=strings["title"],
        sheet_name=strings["sheet"],
        heading=heading,
        generated=generated,
        group_column=strings["group_column"][report.group_by],
        code_column=strings["code"],
        rows=tuple(_export_row(row, lang, grouped and row is report.total) for row in rows),
        notes=(strings["notes"], strings["total_note"]) if grouped else (strings["notes"],),
    )


def _export_row(row: KpiRow, lang: Lang, is_total: bool) -> ExportRow:
    name = row.name_zh if lang == "zh-CN" else row.name_en
    return ExportRow(name=name, code=row.code or "", values=flat_row(row), is_total=is_total)


# --- the period in words -------------------------------------------------------------------


def _local_bounds(report: KpiReport) -> tuple[datetime, datetime]:
    zone = ZoneInfo(report.timezone)
    return report.since.astimezone(zone), report.until.astimezone(zone)


def _midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _last_day(end: datetime) -> date:
    """The last day the half-open period touches."""
    return (end - timedelta(microseconds=1)).date()


def _period_text(report: KpiReport, lang: Lang) -> str:
    """Whole days as inclusive dates (``2026-03-01 至 2026-03-31``), else from-to minutes."""
    start, end = _local_bounds(report)
    to = labels(lang)["to"]
    if _midnight(start) and _midnight(end):
        last = _last_day(end)
        return f"{start:%Y-%m-%d}" if last == start.date() else f"{start:%Y-%m-%d} {to} {last}"
    return f"{start:%Y-%m-%d %H:%M} {to} {end:%Y-%m-%d %H:%M}"


def _offset(moment: datetime) -> str:
    raw = moment.strftime("%z")  # +0800
    return f"UTC{raw[:3]}:{raw[3:]}"


def _zone_text(zone: str, moment: datetime, lang: Lang) -> str:
    names: dict[str, str] = labels(lang).get("zone_names", {})
    detail = f"{zone}, {_offset(moment)}"
    if zone not in names:
        return detail
    return f"{names[zone]}（{detail}）" if lang == "zh-CN" else f"{names[zone]} ({detail})"


def _moment(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} ({_offset(moment)})"


# --- the file name -------------------------------------------------------------------------


def content_disposition(report: KpiReport, *, lang: Lang, extension: str) -> str:
    """``attachment`` with an ASCII ``filename`` and an RFC 5987 UTF-8 ``filename*``.

    Both carry the grouping and the period's first and last day in the city's time zone.
    """
    start, end = _local_bounds(report)
    days = f"{start:%Y%m%d}-{_last_day(end):%Y%m%d}"
    strings = labels(lang)
    ascii_name = f"kpi-{report.group_by}-{days}.{extension}"
    stem = strings["file"].format(grouping=strings["group_by"][report.group_by], days=days)
    local_name = f"{stem}.{extension}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(local_name, safe='')}"


def display_width(text: str) -> int:
    """Columns the text takes in a fixed-width layout: East Asian wide characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
