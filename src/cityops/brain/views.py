"""What the brain module's API answers and accepts (Pydantic shapes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cityops.cases.schemas import CategoryRef

Source = Literal["registered", "correction", "return", "recall"]
SOURCES: tuple[str, ...] = ("registered", "correction", "return", "recall")
Decision = Literal["dispatched", "registered", "suggested", "disagrees", "no_route", "skipped"]


class SuggestionOut(BaseModel):
    """One candidate category, with its names for the dispatcher's screen."""

    category: CategoryRef
    confidence: float = Field(ge=0, le=1)
    words: list[str]


class TriageOut(BaseModel):
    """The stored triage of one report: what the machine suggested and what it did."""

    case_id: uuid.UUID
    model: str
    model_version: int | None = None  # the trained version that answered (None: keywords)
    suggestions: list[SuggestionOut]
    decision: Decision
    reason: str
    threshold: float
    created_at: datetime


class SuggestIn(BaseModel):
    """A message to classify: a title, a text, or both."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=200)
    text: str = Field(default="", max_length=5000)
    k: int = Field(default=3, ge=1, le=10)


class SuggestOut(BaseModel):
    model: str
    suggestions: list[SuggestionOut]


class ExampleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    case_id: uuid.UUID
    event_id: uuid.UUID
    title: str
    text: str
    label: str
    source: Source
    actor: str
    at: datetime
    machine_label: str | None
    doubtful: bool


class ExampleCounts(BaseModel):
    """How many labelled examples each source gave, and how many still await a decision."""

    total: int
    by_source: dict[str, int]
    doubtful: int


ModelStatus = Literal["trained", "active", "retired"]
Activation = Literal["always", "never", "if_better"]


class ModelOut(BaseModel):
    """A model version's figures (never its bytes)."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    created_at: datetime
    created_by: str
    source: Literal["retrain", "upload"]
    training: dict[str, Any]
    evaluation: dict[str, Any]
    accuracy: float | None
    macro_f1: float | None
    labels: list[str]
    size_bytes: int
    status: ModelStatus
    activated_at: datetime | None
    activated_by: str | None
    previous_version: int | None
    note: str


class ModelList(BaseModel):
    """The versions, newest first, and which one triage uses (``None``: the keyword matcher)."""

    items: list[ModelOut]
    total: int
    page: int
    page_size: int
    active: int | None


class RetrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activate: Activation = "if_better"
    note: str = Field(default="", max_length=2000)


class ActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


class RetrainStarted(BaseModel):
    """A retraining too large for the request, running in the background (follow it at
    ``GET /api/v1/brain/runs/{run_id}``)."""

    status: Literal["started"] = "started"
    messages: int
    run_id: uuid.UUID


RunStatus = Literal["running", "succeeded", "failed", "abandoned"]


class RunOut(BaseModel):
    """One retraining: how it was started, its state, the version it stored or why it
    failed."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    started_at: datetime
    started_by: str
    trigger: Literal["request", "background", "schedule", "command"]
    activate: Activation
    status: RunStatus
    messages: int
    finished_at: datetime | None
    version: int | None
    error: str
    note: str
