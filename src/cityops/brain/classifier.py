"""A trained text classifier of citizen messages (a :class:`~cityops.brain.schemas.Classifier`).

TF-IDF over words and character n-grams (:mod:`cityops.brain.text`), optionally joined by a
latent representation of the city's own messages (TruncatedSVD of the TF-IDF matrix, fitted on
labelled and unlabelled text), then a linear SVM whose scores are calibrated into probabilities
(Platt sigmoid per class on out-of-fold scores, normalised over the classes). Built by
:func:`cityops.brain.training.train`; stored with :mod:`cityops.brain.modelfile`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from cityops.brain import text as textfeatures
from cityops.brain.schemas import Suggestion

EXPLAIN_WORDS = 5


@dataclass
class Representation:
    """Message → features: TF-IDF, then the L2-normalised latent vector × ``latent_weight``."""

    tfidf: TfidfVectorizer
    svd: TruncatedSVD | None = None
    latent_weight: float = 0.0
    _projection: np.ndarray[Any, Any] | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__, _projection=None)  # a cache, rebuilt on first use

    def transform(self, messages: Sequence[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(TF-IDF rows, full feature rows) of messages joined by :func:`text.join`."""
        words = self.vectorise(messages)
        if self.svd is None or self.latent_weight <= 0:
            return words, words
        if self._projection is None:
            # C-ordered (features × dims): a sparse row times it reads only the message's rows,
            # where components_.T would be copied whole on every call.
            self._projection = np.ascontiguousarray(self.svd.components_.T, dtype=np.float64)
        latent = np.asarray(words @ self._projection)  # TruncatedSVD.transform, unchecked
        norms = np.linalg.norm(latent, axis=1, keepdims=True)
        latent = latent / np.where(norms > 0, norms, 1.0) * self.latent_weight
        return words, sp.hstack([words, sp.csr_matrix(latent)], format="csr")

    def vectorise(self, messages: Sequence[str]) -> sp.csr_matrix:
        """``tfidf.transform`` (sublinear TF × IDF, L2-normalised rows) without its input checks,
        which cost more than the work for a single message."""
        vocabulary = self.tfidf.vocabulary_
        idf = self.tfidf.idf_
        indptr = [0]
        indices: list[int] = []
        values: list[float] = []
        for message in messages:
            counts: dict[int, int] = {}
            for feature in textfeatures.analyse(message):
                column = vocabulary.get(feature)
                if column is not None:
                    counts[column] = counts.get(column, 0) + 1
            columns = sorted(counts)
            row = np.array([counts[c] for c in columns], dtype=np.float64)
            row = (1.0 + np.log(row)) * idf[columns] if columns else row
            norm = float(np.sqrt(np.dot(row, row)))
            indices.extend(columns)
            values.extend((row / norm if norm > 0 else row).tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.array(values), np.array(indices, dtype=np.int32), np.array(indptr)),
            shape=(len(messages), len(vocabulary)),
        )

    @property
    def vocabulary_size(self) -> int:
        return len(self.tfidf.vocabulary_)


@dataclass
class TextClassifier:
    """A calibrated linear model over a message representation."""

    representation: Representation
    model: CalibratedClassifierCV
    info: dict[str, Any] = field(default_factory=dict)  # training size, evaluation, options
    _names: np.ndarray[Any, Any] | None = field(default=None, repr=False, compare=False)
    _scoring: _Scoring | None = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_names"] = state["_scoring"] = None  # caches, rebuilt on first use
        return state

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(str(label) for label in self.model.classes_)

    def suggest(self, title: str, text: str, k: int = 3) -> list[Suggestion]:
        """The ``k`` most likely labels with their probabilities and the words behind each."""
        if k <= 0:
            return []
        words, row = self.representation.transform([textfeatures.join(title, text)])
        probabilities = self._scores().probabilities(row)[0]
        order = np.argsort(-probabilities, kind="stable")[:k]
        return [
            Suggestion(
                label=self.labels[index],
                confidence=float(min(1.0, max(0.0, probabilities[index]))),
                words=self._words(words, int(index)),
            )
            for index in order
        ]

    def predict(self, messages: Sequence[tuple[str, str]]) -> list[str]:
        """The most likely label of each ``(title, text)``."""
        if not messages:
            return []
        probabilities = self.probabilities(messages)
        return [self.labels[int(i)] for i in probabilities.argmax(axis=1)]

    def probabilities(self, messages: Sequence[tuple[str, str]]) -> np.ndarray[Any, Any]:
        """Rows of class probabilities (columns in :attr:`labels` order)."""
        _, rows = self.representation.transform([textfeatures.join(t, x) for t, x in messages])
        return self._scores().probabilities(rows)

    def _scores(self) -> _Scoring:
        if self._scoring is None:
            self._scoring = _Scoring.of(self.model)
        return self._scoring

    def _words(self, words: sp.csr_matrix, class_index: int) -> tuple[str, ...]:
        """The message's features with the largest positive contribution (value × weight) to the
        class's linear score, readable ones only, without one contained in a stronger one."""
        if words.nnz == 0:
            return ()
        coef = self._coef()
        weights = coef[class_index if coef.shape[0] > 1 else 0, words.indices]
        if coef.shape[0] == 1 and class_index == 0:
            weights = -weights  # a binary SVM scores the second class
        contributions = words.data * weights
        names = self._feature_names()
        chosen: list[str] = []
        for position in np.argsort(-contributions, kind="stable"):
            if contributions[position] <= 0 or len(chosen) == EXPLAIN_WORDS:
                break
            name = str(names[words.indices[position]])
            if not textfeatures.is_word(name) or any(name in other for other in chosen):
                continue
            chosen = [other for other in chosen if other not in name]
            chosen.append(name)
        return tuple(chosen)

    def _coef(self) -> np.ndarray[Any, Any]:
        estimator = self.model.calibrated_classifiers_[0].estimator
        coef = np.asarray(estimator.coef_)
        return coef[:, : self.representation.vocabulary_size]

    def _feature_names(self) -> np.ndarray[Any, Any]:
        if self._names is None:
            self._names = self.representation.tfidf.get_feature_names_out()
        return self._names


@dataclass(frozen=True)
class _Scoring:
    """The calibrated model's arithmetic without scikit-learn's per-call input checks (which
    cost more than the arithmetic for one message): linear scores, a Platt sigmoid per class,
    normalised over the classes — as ``CalibratedClassifierCV.predict_proba`` computes them."""

    coef: np.ndarray[Any, Any]  # (classes or 1, features)
    intercept: np.ndarray[Any, Any]
    a: np.ndarray[Any, Any]
    b: np.ndarray[Any, Any]
    classes: int

    @classmethod
    def of(cls, model: CalibratedClassifierCV) -> _Scoring:
        calibrated = model.calibrated_classifiers_[0]
        estimator = calibrated.estimator
        return cls(
            coef=np.ascontiguousarray(np.asarray(estimator.coef_, dtype=np.float64).T),
            intercept=np.asarray(estimator.intercept_, dtype=np.float64),
            a=np.array([c.a_ for c in calibrated.calibrators], dtype=np.float64),
            b=np.array([c.b_ for c in calibrated.calibrators], dtype=np.float64),
            classes=len(model.classes_),
        )

    def probabilities(self, rows: sp.csr_matrix) -> np.ndarray[Any, Any]:
        scores = np.asarray(rows @ self.coef) + self.intercept
        calibrated = 1.0 / (1.0 + np.exp(scores * self.a + self.b))
        if self.classes == 2:
            return np.hstack([1.0 - calibrated, calibrated])
        total = calibrated.sum(axis=1, keepdims=True)
        uniform = np.full_like(calibrated, 1.0 / self.classes)
        safe = np.where(total > 0, total, 1.0)
        clipped: np.ndarray[Any, Any] = np.clip(
            np.where(total > 0, calibrated / safe, uniform), 0, 1
        )
        return clipped
