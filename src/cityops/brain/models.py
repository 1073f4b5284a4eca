"""Tables of the triage of new reports. Cases are referred to by id only (owned by the cases
module, reached through its service)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from cityops.core.db.base import Base, uuid_pk


class Triage(Base):
    """What the classifier said about one report, and what was done with it (one per case)."""

    __tablename__ = "brain_triage"

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    model: Mapped[str] = mapped_column(String(64))
    # The trained model version that answered (null for the keyword classifier).
    model_version: Mapped[int | None] = mapped_column(Integer)
    # [{"label": "E-01-02", "confidence": 0.91, "words": ["垃圾", …]}, …] most likely first.
    suggestions: Mapped[list[Any]] = mapped_column(default=list)
    top_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    # dispatched | registered | suggested | disagrees | no_route | skipped
    decision: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class TrainingExample(Base):
    """A report labelled by a person's decision (立案, correction, return, recall)."""

    __tablename__ = "brain_training_examples"
    __table_args__ = (
        UniqueConstraint("case_id", "event_id"),
        Index("ix_brain_examples_source_at", "source", "at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    case_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # The timeline entry that produced the example (idempotence per case and event).
    event_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(String(32), index=True)
    # registered | correction | return | recall
    source: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(150))
    at: Mapped[datetime]
    # The machine's label when it was wrong (or doubted), else null.
    machine_label: Mapped[str | None] = mapped_column(String(32))
    # A return or recall doubts the machine's label until a person dispatches the case again.
    doubtful: Mapped[bool] = mapped_column(Boolean, default=False)


def _one_where(table: str, column: str, value: str) -> Index:
    """A unique index over the rows where ``column = value``: at most one such row, enforced
    by the database across processes (SQLite and PostgreSQL both have partial indexes)."""
    where = text(f"{column} = '{value}'")
    return Index(
        f"uq_{table}_one_{value}",
        column,
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


class ModelVersion(Base):
    """One trained (or uploaded) classifier with its training size and evaluation figures."""

    __tablename__ = "brain_model_versions"
    __table_args__ = (_one_where("brain_model_versions", "status", "active"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    version: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(150))
    # retrain | upload
    source: Mapped[str] = mapped_column(String(16))
    # {"labelled": n, "unlabelled": n, "per_label": {code: n}, "tree_examples": n, …}
    training: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # training.Evaluation.as_dict() plus "method" (held-out share), or {} when not evaluated.
    evaluation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    accuracy: Mapped[float | None] = mapped_column(Float)
    macro_f1: Mapped[float | None] = mapped_column(Float)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # trained | active | retired
    status: Mapped[str] = mapped_column(String(16), index=True)
    activated_at: Mapped[datetime | None]
    activated_by: Mapped[str | None] = mapped_column(String(150))
    # The version this one replaced when it was activated (what a rollback goes back to).
    previous_version: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")


class TrainingRun(Base):
    """One retraining: who started it and how, whether it is running, what it produced or why
    it failed. At most one runs at a time in the whole deployment (the partial unique index);
    a run that never finished (its process stopped) is marked abandoned after a while."""

    __tablename__ = "brain_training_runs"
    __table_args__ = (
        _one_where("brain_training_runs", "status", "running"),
        Index("ix_brain_training_runs_started_at", "started_at"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(150))
    # request (trained in the API request) | background | schedule | command (the CLI)
    trigger: Mapped[str] = mapped_column(String(16))
    # always | never | if_better
    activate: Mapped[str] = mapped_column(String(16))
    # running | succeeded | failed | abandoned
    status: Mapped[str] = mapped_column(String(16))
    messages: Mapped[int] = mapped_column(Integer)
    finished_at: Mapped[datetime | None]
    # The version the run stored (null until it succeeds).
    version: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(Text, default="")
