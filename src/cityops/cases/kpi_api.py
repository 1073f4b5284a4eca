"""Routes of 绩效评估: the case-loop KPIs as JSON and as a CSV download."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response

from cityops.cases.kpi import GroupBy
from cityops.cases.kpi_service import KpiReport, case_kpis, report_csv
from cityops.web.deps import CurrentActor, RuntimeDep

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
def kpi_csv(
    rt: RuntimeDep,
    actor: CurrentActor,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy = "department",
) -> Response:
    """The same rows as CSV (UTF-8 with BOM, so Excel shows Chinese names correctly)."""
    report = case_kpis(rt, actor=actor, since=since, until=until, group_by=group_by)
    name = f"kpi-{report.group_by}-{report.since:%Y%m%d}-{report.until:%Y%m%d}.csv"
    return Response(
        content=_BOM + report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
