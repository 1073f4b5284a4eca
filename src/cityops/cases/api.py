"""Routes of the case loop: intake, lists, the case page, every transition, photos, categories."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, UploadFile, status
from fastapi.responses import Response
from pydantic import AwareDatetime

from cityops.cases import duplicates, hotspots, service, uploads
from cityops.cases.schemas import (
    AssignBody,
    CalendarDayOut,
    CaseEventOut,
    CaseFilter,
    CaseIn,
    CaseOut,
    CategoryIn,
    CategoryOut,
    CategoryUpdate,
    DispatchBody,
    DuplicateOut,
    EvaluateBody,
    HandleBody,
    HotspotOut,
    MergeBody,
    NoteBody,
    Point,
    ReasonBody,
    ReassignBody,
    RegisterBody,
    RouteIn,
    RouteOut,
    Suggestion,
    UploadOut,
    UrgeBody,
    VerifyBody,
)
from cityops.core.pagination import Page
from cityops.web.deps import CurrentActor, Paging, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["cases"])
CaseId = Annotated[uuid.UUID, "case id"]


@router.post("/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED)
def report(rt: RuntimeDep, actor: CurrentActor, body: CaseIn) -> CaseOut:
    """Report a problem (citizen, grid worker, hotline operator, integration)."""
    return service.report_case(rt, actor=actor, data=body)


@router.get("/cases", response_model=Page[CaseOut])
def list_cases(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    state: Annotated[list[str] | None, Query()] = None,
    category: str | None = None,
    district: str | None = None,
    department: str | None = None,
    sla_status: Annotated[str | None, Query(pattern="^(ok|warning|overdue)$")] = None,
    source: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    mine: bool = False,
    near_lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    near_lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    radius_m: Annotated[float | None, Query(gt=0, le=50_000)] = None,
) -> Page[CaseOut]:
    """Cases you may see; filters combine; ``sort`` takes keys like ``-created_at``."""
    near = (
        Point(lon=near_lon, lat=near_lat) if near_lon is not None and near_lat is not None else None
    )
    filters = CaseFilter(
        state=state or [],
        category=category,
        district=district,
        department=department,
        sla_status=sla_status,
        source=source,
        since=since,
        until=until,
        q=q,
        mine=mine,
        near=near,
        radius_m=radius_m,
    )
    return service.list_cases(rt, actor=actor, filters=filters, params=paging)


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID) -> CaseOut:
    return service.get_case(rt, actor=actor, case_id=case_id)


@router.get("/cases/{case_id}/timeline", response_model=list[CaseEventOut])
def timeline(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID) -> list[CaseEventOut]:
    return service.timeline(rt, actor=actor, case_id=case_id)


@router.get("/cases/{case_id}/suggestion", response_model=Suggestion)
def suggestion(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID) -> Suggestion:
    """The department the routing rules would pick."""
    return service.suggest_for_case(rt, actor=actor, case_id=case_id)


@router.post("/cases/{case_id}/register", response_model=CaseOut)
def register(
    rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: RegisterBody
) -> CaseOut:
    return service.register_case(
        rt,
        actor=actor,
        case_id=case_id,
        note=body.note,
        category_code=body.category_code,
        priority=body.priority,
        dispatch=body.dispatch,
    )


@router.post("/cases/{case_id}/reject", response_model=CaseOut)
def reject(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    return service.reject_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/cases/{case_id}/dispatch", response_model=CaseOut)
def dispatch(
    rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: DispatchBody
) -> CaseOut:
    return service.dispatch_case(
        rt,
        actor=actor,
        case_id=case_id,
        department_code=body.department_code,
        note=body.note,
        category_code=body.category_code,
    )


@router.post("/cases/{case_id}/recall", response_model=CaseOut)
def recall(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    """撤回派单: take a dispatched case back to dispatch (e.g. a wrong machine dispatch)."""
    return service.recall_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/cases/{case_id}/return", response_model=CaseOut)
def return_(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    return service.return_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/cases/{case_id}/accept", response_model=CaseOut)
def accept(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: NoteBody) -> CaseOut:
    return service.accept_case(rt, actor=actor, case_id=case_id, note=body.note)


@router.post("/cases/{case_id}/handle", response_model=CaseOut)
def handle(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: HandleBody) -> CaseOut:
    return service.handle_case(rt, actor=actor, case_id=case_id, note=body.note, photos=body.photos)


@router.post("/cases/{case_id}/verify", response_model=CaseOut)
def verify(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: VerifyBody) -> CaseOut:
    return service.verify_case(
        rt,
        actor=actor,
        case_id=case_id,
        passed=body.passed,
        note=body.note,
        photos=body.photos,
        client_ref=body.client_ref,
    )


@router.post("/cases/{case_id}/close", response_model=CaseOut)
def close(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: NoteBody) -> CaseOut:
    return service.close_case(rt, actor=actor, case_id=case_id, note=body.note)


@router.post("/cases/{case_id}/evaluate", response_model=CaseOut)
def evaluate(
    rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: EvaluateBody
) -> CaseOut:
    return service.evaluate_case(
        rt, actor=actor, case_id=case_id, rating=body.rating, comment=body.comment
    )


@router.post("/cases/{case_id}/reopen", response_model=CaseOut)
def reopen(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    return service.reopen_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/cases/{case_id}/reassign", response_model=CaseOut)
def reassign(
    rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReassignBody
) -> CaseOut:
    return service.reassign_case(
        rt, actor=actor, case_id=case_id, department_code=body.department_code, reason=body.reason
    )


@router.post("/cases/{case_id}/assign", response_model=CaseOut)
def assign(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: AssignBody) -> CaseOut:
    return service.assign_case(
        rt, actor=actor, case_id=case_id, username=body.username, note=body.note
    )


@router.post("/cases/{case_id}/merge", response_model=CaseOut)
def merge(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: MergeBody) -> CaseOut:
    return service.merge_case(rt, actor=actor, case_id=case_id, into=body.into, note=body.note)


@router.get("/cases/{case_id}/duplicates", response_model=list[DuplicateOut])
def list_duplicates(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID) -> list[DuplicateOut]:
    """Duplicate proposals naming the case, either way round, best score first. Merging one
    is ``POST /cases/{id}/merge`` (which marks the proposal merged)."""
    return duplicates.list_duplicates(rt, actor=actor, case_id=case_id)


@router.post("/cases/{case_id}/duplicates/{proposal_id}/dismiss", response_model=DuplicateOut)
def dismiss_duplicate(
    rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, proposal_id: uuid.UUID
) -> DuplicateOut:
    """Not a duplicate: the two cases are different problems."""
    return duplicates.dismiss_duplicate(rt, actor=actor, case_id=case_id, proposal_id=proposal_id)


@router.get("/hotspots", response_model=list[HotspotOut])
def list_hotspots(
    rt: RuntimeDep,
    actor: CurrentActor,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    district: Annotated[str | None, Query(max_length=64)] = None,
) -> list[HotspotOut]:
    """The hottest problems of the last ``days`` days (operators, dispatchers, leaders)."""
    return hotspots.list_hotspots(rt, actor=actor, days=days, limit=limit, district=district)


@router.post("/cases/{case_id}/cancel", response_model=CaseOut)
def cancel(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    return service.cancel_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/cases/{case_id}/urge", response_model=CaseOut)
def urge(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: UrgeBody) -> CaseOut:
    return service.urge_case(rt, actor=actor, case_id=case_id, note=body.note)


@router.post("/cases/{case_id}/escalate", response_model=CaseOut)
def escalate(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID, body: ReasonBody) -> CaseOut:
    return service.escalate_case(rt, actor=actor, case_id=case_id, reason=body.reason)


@router.post("/uploads", response_model=UploadOut, status_code=status.HTTP_201_CREATED)
async def upload(rt: RuntimeDep, actor: CurrentActor, file: UploadFile) -> UploadOut:
    """Upload one photo (JPEG, PNG, WebP or GIF); attach it to a report by its id."""
    data = await file.read(rt.settings.max_photo_bytes + 1)
    return uploads.store_upload(rt, actor=actor, data=data)


@router.get("/uploads/{upload_id}")
def photo(rt: RuntimeDep, actor: CurrentActor, upload_id: uuid.UUID) -> Response:
    meta, data = service.get_upload(rt, actor=actor, upload_id=upload_id)
    return Response(
        data,
        media_type=meta.content_type,
        headers={"Cache-Control": "private, max-age=86400", "ETag": meta.sha256},
    )


@router.get("/categories", response_model=list[CategoryOut], tags=["categories"])
def categories(rt: RuntimeDep, include_inactive: bool = False) -> list[CategoryOut]:
    """The category tree (public reference data): groups and their categories."""
    return service.list_categories(rt, include_inactive=include_inactive)


@router.post("/categories", response_model=CategoryOut, status_code=201, tags=["categories"])
def create_category(rt: RuntimeDep, actor: CurrentActor, body: CategoryIn) -> CategoryOut:
    return service.create_category(rt, actor=actor, data=body)


@router.patch("/categories/{code}", response_model=CategoryOut, tags=["categories"])
def update_category(
    rt: RuntimeDep, actor: CurrentActor, code: str, body: CategoryUpdate
) -> CategoryOut:
    return service.update_category(rt, actor=actor, code=code, data=body)


@router.put("/categories/{code}/routes", response_model=RouteOut, tags=["categories"])
def set_route(rt: RuntimeDep, actor: CurrentActor, code: str, body: RouteIn) -> RouteOut:
    """Make a department responsible for this category in an area."""
    return service.set_route(
        rt,
        actor=actor,
        category_code=code,
        area_code=body.area_code,
        department_code=body.department_code,
    )


@router.get("/categories/{code}/routes", response_model=list[RouteOut], tags=["categories"])
def routes(rt: RuntimeDep, actor: CurrentActor, code: str) -> list[RouteOut]:
    """The responsible department of this category per area (the most specific area wins)."""
    return service.list_routes(rt, actor=actor, category_code=code)


@router.delete("/categories/{code}/routes/{area_code}", status_code=204, tags=["categories"])
def clear_route(rt: RuntimeDep, actor: CurrentActor, code: str, area_code: str) -> None:
    """Drop the route of this category in one area."""
    service.clear_route(rt, actor=actor, category_code=code, area_code=area_code)


@router.get("/calendar", response_model=list[CalendarDayOut], tags=["categories"])
def calendar(rt: RuntimeDep, actor: CurrentActor, since: date, until: date) -> list[CalendarDayOut]:
    """Each date from ``since`` to ``until`` (included, at most 366): working or not, and the
    holiday or make-up working day that overrides the weekly pattern."""
    return service.calendar_days(rt, actor=actor, since=since, until=until)


@router.put("/calendar/{day}", status_code=204, tags=["categories"])
def set_calendar_day(
    rt: RuntimeDep,
    actor: CurrentActor,
    day: date,
    working: bool | None = None,
    name: Annotated[str, Query(max_length=100)] = "",
) -> None:
    """Mark a holiday (``working=false``) or make-up working day; omit ``working`` to clear."""
    service.set_calendar_day(rt, actor=actor, day=day, working=working, name=name)
