"""Typed events and audit tags of the brain module (``brain:<subject>:<action>``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from cityops.core.bus import Event

MODEL_TRAINED = "brain:model:trained"
MODEL_UPLOADED = "brain:model:uploaded"
MODEL_ACTIVATED = "brain:model:activated"
MODEL_ROLLED_BACK = "brain:model:rolled_back"
MODEL_RETRAIN_FAILED = "brain:model:retrain_failed"


@dataclass(frozen=True)
class ModelChanged(Event):
    """A model version was stored or the active version changed (``action``: trained,
    uploaded, activated, rolled_back); ``active`` is the active version afterwards."""

    tag: ClassVar[str] = "brain:model:changed"
    version: int
    action: str
    active: int | None
