"""Routes of the triage of new reports: a case's stored suggestions, suggestions for a message
being taken, and the labelled examples people's decisions produced."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from cityops.brain import examples, service
from cityops.brain.views import ExampleCounts, ExampleOut, Source, SuggestIn, SuggestOut, TriageOut
from cityops.core.pagination import Page
from cityops.web.deps import CurrentActor, Paging, RuntimeDep

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
