"""``cityops kpi``: print the case-loop KPIs (绩效评估) as a table, JSON or CSV."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from cityops.cases.kpi import GROUPINGS, GroupBy
from cityops.cases.kpi_service import KpiFigures, KpiReport, KpiRow, case_kpis, report_csv
from cityops.cli.common import domain_errors, runtime_or_exit
from cityops.core.auth import SYSTEM
from cityops.core.errors import ValidationFailed
from cityops.core.runtime import Runtime

USAGE_ERROR = 2
_GROUP_NAMES = {
    "city": "全市",
    "department": "按部门",
    "category": "按事件类型",
    "district": "按区",
}


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


Cell = Callable[[KpiFigures], str]


def _count(value: int) -> str:
    return str(value)


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# (header, cell) of the table; the JSON and CSV outputs carry every figure.
COLUMNS: tuple[tuple[str, Cell], ...] = (
    ("上报", lambda f: _count(f.reported)),
    ("结案", lambda f: _count(f.closed)),
    ("立案中位(工时)", lambda f: _hours(f.registration.median_working_hours)),
    ("派单中位(工时)", lambda f: _hours(f.dispatch.median_working_hours)),
    ("处置中位(工时)", lambda f: _hours(f.handling.median_working_hours)),
    ("处置P90(工时)", lambda f: _hours(f.handling.p90_working_hours)),
    ("按时办结率", lambda f: _percent(f.on_time_rate)),
    ("退回率", lambda f: _percent(f.return_rate)),
    ("核查通过率", lambda f: _percent(f.verification_pass_rate)),
    ("重办率", lambda f: _percent(f.reopen_rate)),
    ("满意度", lambda f: _score(f.satisfaction)),
    ("逾期未办", lambda f: _count(f.overdue_open)),
)


def kpi(
    since: Annotated[
        str | None,
        typer.Option(
            help="start, ISO date or date-time (city time)", show_default="30 days before --until"
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="end (exclusive), ISO date or date-time", show_default="now"),
    ] = None,
    group_by: Annotated[
        str, typer.Option("--group-by", help="city, department, category or district")
    ] = "department",
    format: Annotated[OutputFormat, typer.Option("--format", help="output")] = OutputFormat.table,
) -> None:
    """绩效评估: case-loop KPIs (times in working hours, on-time, return, reopen rates …)."""
    grouping = _grouping(group_by)
    start, end = _when(since, "--since"), _when(until, "--until")
    runtime = runtime_or_exit()
    try:
        with domain_errors():
            report = _report(runtime, start, end, grouping)
    finally:
        runtime.db.engine.dispose()
    if format is OutputFormat.json:
        typer.echo(report.model_dump_json())
    elif format is OutputFormat.csv:
        typer.echo(report_csv(report), nl=False)
    else:
        typer.echo(format_table(report))


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(USAGE_ERROR)


def _grouping(value: str) -> GroupBy:
    if value not in GROUPINGS:
        raise _fail(f"--group-by: {value!r} is not one of {', '.join(GROUPINGS)}")
    return value


def _when(value: str | None, option: str) -> datetime | None:
    """Parse an ISO date or date-time; a naive one is read in the city's time zone later."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise _fail(
            f"{option}: {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM[+08:00]"
        ) from None


def _report(
    runtime: Runtime, since: datetime | None, until: datetime | None, group_by: GroupBy
) -> KpiReport:
    try:
        return case_kpis(runtime, actor=SYSTEM, since=since, until=until, group_by=group_by)
    except ValidationFailed as exc:  # a bad period is a usage error, like a bad date
        raise _fail("; ".join(f"--{f.field}: {f.message}" for f in exc.fields)) from None


# --- the table -----------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns of ``text``: CJK (wide and full-width) characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _pad(text: str, width: int, *, left: bool) -> str:
    fill = " " * (width - display_width(text))
    return text + fill if left else fill + text


def _line(cells: list[str], widths: list[int]) -> str:
    parts = [_pad(cells[0], widths[0], left=True)]
    parts += [
        _pad(cell, width, left=False) for cell, width in zip(cells[1:], widths[1:], strict=True)
    ]
    return "  ".join(parts).rstrip()


def _cells(row: KpiRow) -> list[str]:
    return [row.name_zh] + [cell(row.figures) for _, cell in COLUMNS]


def format_table(report: KpiReport) -> str:
    """An aligned table with Chinese names: one line per group, then the total."""
    zone = ZoneInfo(report.timezone)
    title = (
        f"绩效评估 {report.since.astimezone(zone):%Y-%m-%d %H:%M} – "
        f"{report.until.astimezone(zone):%Y-%m-%d %H:%M} ({report.timezone})"
        f" {_GROUP_NAMES[report.group_by]}"
    )
    header = ["名称"] + [name for name, _ in COLUMNS]
    body = [_cells(row) for row in report.rows]
    total = [] if report.group_by == "city" else [_cells(report.total)]
    table = [header, *body, *total]
    widths = [max(display_width(line[i]) for line in table) for i in range(len(header))]
    lines = [_line(line, widths) for line in table]
    rule = "-" * max(display_width(line) for line in lines)
    if total:
        lines.insert(len(lines) - 1, rule)
    if not body:
        lines.insert(1, "(无数据 / no cases)")
    return "\n".join([title, rule, lines[0], rule, *lines[1:]])
