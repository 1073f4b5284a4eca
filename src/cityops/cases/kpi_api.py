"""Routes of 绩效评估: the case-loop KPIs as JSON, and as CSV, Excel and PDF downloads."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cityops.cases import kpi_pdf, kpi_xlsx
from cityops.cases.kpi import GroupBy
from cityops.cases.kpi_export import Lang, content_disposition, export_sheet
from cityops.cases.kpi_service import KpiReport, case_kpis, report_csv
from cityops.core.auth import Actor
from cityops.core.runtime import Runtime
from cityops.web.deps import CurrentActor, RuntimeDep
from cityops.web.lanes import in_slow_lane

router = APIRouter(prefix="/api/v1", tags=["kpi"])

# Excel reads a CSV as the local ANSI code page unless it starts with a UTF-8 byte order mark.
_BOM = "\ufeff"


@router.get("/kpi", response_model=KpiReport)
def kpi(
    rt: RuntimeDep,
    actor: CurrentActor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy = "department",
) -> KpiReport:
    """KPIs of ``[since, until)`` (default: the last 30 days); naive times are city-local."""
    return case_kpis(rt, actor=actor, since=since, until=until, group_by=group_by)


@router.get("/kpi.csv", response_class=Response)
async def kpi_csv(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy = "department",
) -> Response:
    """The same rows as CSV (UTF-8 with BOM, so Excel shows Chinese names correctly)."""
    report = await in_slow_lane(
        request, case_kpis, rt, actor=actor, since=since, until=until, group_by=group_by
    )
    name = f"kpi-{report.group_by}-{report.since:%Y%m%d}-{report.until:%Y%m%d}.csv"
    return Response(
        content=_BOM + report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/kpi.xlsx", response_class=Response)
async def kpi_excel(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy = "department",
    lang: Lang = "zh-CN",
) -> Response:
    """The same figures as an Excel workbook: title block, units in the header, the total last.

    ``lang`` (``zh-CN`` or ``en``) picks the language of the headings and the group names.
    """
    return await in_slow_lane(request, _export, rt, actor, since, until, group_by, lang, "xlsx")


@router.get("/kpi.pdf", response_class=Response)
async def kpi_pdf_file(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy = "department",
    lang: Lang = "zh-CN",
) -> Response:
    """The same figures as an A4 landscape PDF, one table per section of figures."""
    return await in_slow_lane(request, _export, rt, actor, since, until, group_by, lang, "pdf")


def _export(
    rt: Runtime,
    actor: Actor,
    since: datetime | None,
    until: datetime | None,
    group_by: GroupBy,
    lang: Lang,
    extension: str,
) -> Response:
    report = case_kpis(rt, actor=actor, since=since, until=until, group_by=group_by)
    now = rt.clock.now()
    sheet = export_sheet(report, lang=lang, generated_at=now)
    if extension == "xlsx":
        content, media_type = kpi_xlsx.workbook_bytes(sheet, generated_at=now), kpi_xlsx.MEDIA_TYPE
    else:
        content, media_type = kpi_pdf.pdf_bytes(sheet), kpi_pdf.MEDIA_TYPE
    disposition = content_disposition(report, lang=lang, extension=extension)
    return Response(
        content=content,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
