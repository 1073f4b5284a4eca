"""What the classifier answers, and the shape every classifier has.

A trained text model and the keyword matcher a city uses before it has one both satisfy
:class:`Classifier`; the triage of new reports only sees this Protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Suggestion:
    """One candidate category for a message."""

    label: str  # the category code (or, for a file-trained model, the file's label)
    confidence: float  # a calibrated probability in [0, 1]
    words: tuple[str, ...]  # the words of the message that drove it, strongest first


class Classifier(Protocol):
    """Suggests case categories for a citizen's message."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label the classifier can answer, sorted."""
        ...

    def suggest(self, title: str, text: str, k: int = 3) -> list[Suggestion]:
        """The ``k`` most likely labels, most likely first; confidences sum to at most 1."""
        ...
