"""Routes of the triage of new reports: a case's stored suggestions, suggestions for a message
being taken, and the labelled examples people's decisions produced."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response, UploadFile, status

from cityops.brain import examples, runs, service, versions
from cityops.brain.views import (
    ActivateIn,
    ExampleCounts,
    ExampleOut,
    ModelList,
    ModelOut,
    RetrainIn,
    RetrainStarted,
    RunOut,
    RunStatus,
    Source,
    SuggestIn,
    SuggestOut,
    TriageOut,
)
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.pagination import Page
from cityops.web.deps import CurrentActor, Paging, RuntimeDep
from cityops.web.lanes import in_slow_lane

router = APIRouter(prefix="/api/v1", tags=["brain"])


@router.get("/cases/{case_id}/triage", response_model=TriageOut)
def case_triage(rt: RuntimeDep, actor: CurrentActor, case_id: uuid.UUID) -> TriageOut:
    """What the machine suggested for a report and what it did (dispatchers and operators)."""
    return service.get_triage(rt, actor=actor, case_id=case_id)


@router.post("/brain/suggest", response_model=SuggestOut)
def suggest(rt: RuntimeDep, actor: CurrentActor, body: SuggestIn) -> SuggestOut:
    """The most likely categories for a message, with confidence and the words behind them."""
    return service.suggest(rt, actor=actor, title=body.title, text=body.text, k=body.k)


@router.get("/brain/examples", response_model=Page[ExampleOut])
def list_examples(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    source: Source | None = None,
    label: Annotated[str | None, Query(max_length=32)] = None,
    doubtful: bool | None = None,
) -> Page[ExampleOut]:
    """Labelled examples (admins and data officers); ``sort``: ``-at`` (default), ``label``."""
    return examples.list_examples(
        rt, actor=actor, params=paging, source=source, label=label, doubtful=doubtful
    )


@router.get("/brain/examples/counts", response_model=ExampleCounts)
def count_examples(rt: RuntimeDep, actor: CurrentActor) -> ExampleCounts:
    return examples.count_examples(rt, actor=actor)


# --- model lifecycle ------------------------------------------------------------------------

MODEL_MAX_BYTES = 512 * 1024 * 1024


@router.get("/brain/models", response_model=ModelList)
def list_models(rt: RuntimeDep, actor: CurrentActor, paging: Paging) -> ModelList:
    """Model versions with their figures (admins and data officers); ``sort``: ``-version``
    (default), ``created_at``, ``macro_f1``, ``accuracy``."""
    return versions.list_models(rt, actor=actor, params=paging)


@router.get("/brain/models/{version}", response_model=ModelOut)
def get_model(rt: RuntimeDep, actor: CurrentActor, version: int) -> ModelOut:
    return versions.get_model(rt, actor=actor, version=version)


@router.post(
    "/brain/models/retrain",
    response_model=ModelOut | RetrainStarted,
    status_code=status.HTTP_201_CREATED,
)
async def retrain(
    request: Request, rt: RuntimeDep, actor: CurrentActor, body: RetrainIn, response: Response
) -> ModelOut | RetrainStarted:
    """Train a version from the city's cases: in the request up to
    ``CITYOPS_BRAIN_RETRAIN_SYNC_MAX`` messages (201 with the version), in the background
    above that (202 with the run to follow at ``GET /api/v1/brain/runs/{run_id}``). 409
    ``busy`` while another retraining runs."""
    answer = await in_slow_lane(
        request, versions.request_retrain, rt, actor=actor, activate=body.activate, note=body.note
    )
    if isinstance(answer, RetrainStarted):
        response.status_code = status.HTTP_202_ACCEPTED
    return answer


@router.get("/brain/runs", response_model=Page[RunOut])
def list_runs(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    state: Annotated[RunStatus | None, Query(alias="status")] = None,
) -> Page[RunOut]:
    """Retraining runs (admins and data officers): running, succeeded with their version,
    failed with the reason; ``sort``: ``-started_at`` (default), ``finished_at``, ``status``."""
    return runs.list_runs(rt, actor=actor, params=paging, status=state)


@router.get("/brain/runs/{run_id}", response_model=RunOut)
def get_run(rt: RuntimeDep, actor: CurrentActor, run_id: uuid.UUID) -> RunOut:
    return runs.get_run(rt, actor=actor, run_id=run_id)


@router.post("/brain/models", response_model=ModelOut, status_code=status.HTTP_201_CREATED)
async def upload_model(
    request: Request,
    rt: RuntimeDep,
    actor: CurrentActor,
    file: UploadFile,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> ModelOut:
    """Store a model file from ``cityops ai train`` (multipart ``file``, optional ``note``);
    it is not activated."""
    data = await file.read(MODEL_MAX_BYTES + 1)
    if len(data) > MODEL_MAX_BYTES:
        raise invalid(
            "file",
            text("the file is larger than {limit} bytes", limit=MODEL_MAX_BYTES),
            "too_large",
        )
    return await in_slow_lane(request, versions.upload_model, rt, actor=actor, data=data, note=note)


@router.post("/brain/models/rollback", response_model=ModelOut)
def rollback(rt: RuntimeDep, actor: CurrentActor) -> ModelOut:
    """Go back to the version the active one replaced."""
    return versions.rollback_model(rt, actor=actor)


@router.post("/brain/models/{version}/activate", response_model=ModelOut)
def activate(
    rt: RuntimeDep, actor: CurrentActor, version: int, body: ActivateIn | None = None
) -> ModelOut:
    return versions.activate_model(rt, actor=actor, version=version, note=body.note if body else "")
