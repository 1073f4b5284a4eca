"""Routes of the command screen's aggregates (一屏观览): map points and the trend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cityops.cases.overview import (
    MapPoints,
    Performance,
    Trend,
    case_trend,
    map_points,
    performance,
)
from cityops.web.deps import CurrentActor, RuntimeDep

router = APIRouter(prefix="/api/v1/overview", tags=["overview"])


@router.get("/points", response_model=MapPoints)
def points(
    rt: RuntimeDep,
    actor: CurrentActor,
    closed_days: Annotated[int, Query(ge=0, le=30)] = 3,
    limit: Annotated[int, Query(ge=1, le=200_000)] = 50_000,
) -> MapPoints:
    """Open cases and those closed in the last ``closed_days`` days as compact rows
    ``[number, lon, lat, kind]`` (needs ``cases.read`` and ``kpi.read``)."""
    return map_points(rt, actor=actor, closed_days=closed_days, limit=limit)


@router.get("/trend", response_model=Trend)
def trend(
    rt: RuntimeDep,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=90)] = 14,
    top: Annotated[int, Query(ge=1, le=12)] = 5,
) -> Trend:
    """Cases reported per day (China Standard Time) by top-level category."""
    return case_trend(rt, actor=actor, days=days, top=top)


@router.get("/performance", response_model=Performance)
def on_time(
    rt: RuntimeDep,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> Performance:
    """On-time rate and satisfaction of the last ``days`` days, in total and per department
    (the figures of ``GET /api/v1/kpi``, in one cheap aggregate for the command screen)."""
    return performance(rt, actor=actor, days=days)
