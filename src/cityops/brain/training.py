"""Training and evaluating :class:`~cityops.brain.classifier.TextClassifier` from labelled
messages, the city's unlabelled messages and its category tree.

How few labels go a long way:

- **Unlabelled text** shapes the representation: the TF-IDF vocabulary and IDF weights and a
  latent space (TruncatedSVD, which puts words used in the same messages near each other) are
  fitted on every message, labelled or not. Then **self-training**: the unlabelled messages the
  first model labels with a probability of at least ``self_training_threshold`` are added as
  examples of that label (at most ``pseudo_per_label`` times the label's own count) and the
  model is fitted again.
- **The category tree** (paths from the top level down): every label found in the tree gets the
  names below it (and its own name) as short pseudo-examples, so a "路灯" label learns from the
  sub-categories "路灯不亮" and "路灯闪烁" even before anyone labelled such a message.

Everything is seeded: the same input gives the same model.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from cityops.brain import text as textfeatures
from cityops.brain.classifier import Representation, TextClassifier

SEED = 20260302


class TrainingError(ValueError):
    """The examples cannot train a model (too few classes or examples)."""


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    title: str
    text: str
    label: str


@dataclass(frozen=True)
class Options:
    """Knobs of :func:`train` (the defaults are what the benchmark measured)."""

    max_features: int = 80_000
    min_df: int = 1
    latent_dims: int = 150
    latent_weight: float = 0.5
    c: float = 0.5
    calibration_folds: int = 3
    self_training: bool = True
    self_training_threshold: float = 0.7
    pseudo_per_label: float = 10.0
    seed: int = SEED


@dataclass(frozen=True)
class ClassFigures:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Evaluation:
    """How a model did on labelled examples."""

    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassFigures] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train(
    labelled: Sequence[Example],
    *,
    unlabelled: Iterable[tuple[str, str]] = (),
    tree: Iterable[Sequence[str]] = (),
    options: Options | None = None,
) -> TextClassifier:
    """A calibrated classifier of ``labelled``, helped by ``unlabelled`` ``(title, text)`` messages
    and the category ``tree``. Raises :class:`TrainingError` for fewer than two labels or a
    label with a single example."""
    opts = options or Options()
    started = time.perf_counter()
    counts = Counter(example.label for example in labelled)
    if len(counts) < 2:
        raise TrainingError(f"need at least two labels, got {len(counts)}")
    single = sorted(label for label, count in counts.items() if count < 2)
    if single:
        raise TrainingError(f"each label needs at least two examples: {', '.join(single[:10])}")
    texts = [textfeatures.join(e.title, e.text) for e in labelled]
    labels = [e.label for e in labelled]
    extra = [textfeatures.join(title, body) for title, body in unlabelled]
    hints = tree_examples(tree, set(counts))
    hint_texts = [textfeatures.join(name, "") for name, _ in hints]
    hint_labels = [label for _, label in hints]

    representation = _fit_representation(texts + extra + hint_texts, opts)
    _, rows = representation.transform(texts + hint_texts)
    y = np.array(labels + hint_labels, dtype=object)
    model = _fit_model(rows, y, opts)
    pseudo = 0
    if opts.self_training and extra:
        _, extra_rows = representation.transform(extra)
        probabilities = model.predict_proba(extra_rows)
        best = probabilities.argmax(axis=1)
        confident = probabilities[np.arange(len(extra)), best] >= opts.self_training_threshold
        chosen: list[int] = []
        taken: Counter[str] = Counter()
        for index in np.argsort(-probabilities.max(axis=1), kind="stable"):
            label = str(model.classes_[best[index]])
            if confident[index] and taken[label] < opts.pseudo_per_label * counts[label]:
                taken[label] += 1
                chosen.append(int(index))
        if chosen:
            pseudo = len(chosen)
            chosen_rows = extra_rows[chosen]
            rows = sp.vstack([rows, chosen_rows], format="csr")
            y = np.concatenate([y, model.classes_[best[chosen]]])
            model = _fit_model(rows, y, opts)
    info = {
        "training_size": len(labelled),
        "unlabelled_size": len(extra),
        "tree_examples": len(hints),
        "pseudo_labelled": pseudo,
        "vocabulary": representation.vocabulary_size,
        "latent_dims": 0 if representation.svd is None else representation.svd.n_components,
        "seconds": round(time.perf_counter() - started, 3),
        "options": asdict(opts),
    }
    return TextClassifier(representation=representation, model=model, info=info)


def tree_examples(tree: Iterable[Sequence[str]], labels: set[str]) -> list[tuple[str, str]]:
    """``(name, label)`` pseudo-examples from category paths: each name on a path below (or at)
    the deepest node that is a label. Labels may sit at any level; paths without one add none."""
    found: set[tuple[str, str]] = set()
    for path in tree:
        names = [str(name).strip() for name in path if str(name).strip()]
        depth = max((i for i, name in enumerate(names) if name in labels), default=None)
        if depth is None:
            continue
        label = names[depth]
        found.update((name, label) for name in names[depth:])
        below = names[depth + 1 :]
        if len(below) > 1:
            found.add((" ".join(below), label))
    return sorted(found)


def evaluate(model: TextClassifier, examples: Sequence[Example]) -> Evaluation:
    """Accuracy, macro-F1 and per-label figures of ``model`` on ``examples``."""
    predicted = model.predict([(e.title, e.text) for e in examples])
    return score([e.label for e in examples], predicted)


def score(truth: Sequence[str], predicted: Sequence[str]) -> Evaluation:
    """The figures of predictions against the truth (labels of the truth only)."""
    if not truth:
        return Evaluation(n=0, accuracy=0.0, macro_f1=0.0)
    labels = sorted(set(truth))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    per_class = {
        label: ClassFigures(
            precision=round(float(p), 4),
            recall=round(float(r), 4),
            f1=round(float(f), 4),
            support=int(s),
        )
        for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
    }
    accuracy = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    return Evaluation(
        n=len(truth),
        accuracy=round(accuracy, 4),
        macro_f1=round(float(np.mean(f1)), 4),
        per_class=per_class,
    )


def cross_validate(
    examples: Sequence[Example],
    k: int = 5,
    *,
    unlabelled: Sequence[tuple[str, str]] = (),
    tree: Sequence[Sequence[str]] = (),
    options: Options | None = None,
) -> Evaluation:
    """Stratified ``k``-fold cross-validation: the figures of all out-of-fold predictions."""
    opts = options or Options()
    labels = [e.label for e in examples]
    folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=opts.seed)
    truth: list[str] = []
    predicted: list[str] = []
    for train_index, test_index in folds.split(np.zeros(len(labels)), labels):
        model = train(
            [examples[i] for i in train_index], unlabelled=unlabelled, tree=tree, options=opts
        )
        held_out = [examples[i] for i in test_index]
        truth.extend(e.label for e in held_out)
        predicted.extend(model.predict([(e.title, e.text) for e in held_out]))
    return score(truth, predicted)


def split(
    examples: Sequence[Example], test_share: float = 0.2, seed: int = SEED
) -> tuple[list[Example], list[Example]]:
    """A stratified train/test split (labels with fewer than five examples stay in training)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for index, example in enumerate(examples):
        by_label.setdefault(example.label, []).append(index)
    test: set[int] = set()
    for label in sorted(by_label):
        indices = by_label[label]
        if len(indices) < 5:
            continue
        shuffled = rng.permutation(indices)
        test.update(int(i) for i in shuffled[: max(1, round(len(indices) * test_share))])
    return (
        [e for i, e in enumerate(examples) if i not in test],
        [e for i, e in enumerate(examples) if i in test],
    )


def _fit_representation(messages: list[str], opts: Options) -> Representation:
    tfidf = TfidfVectorizer(
        analyzer=textfeatures.analyse,
        sublinear_tf=True,
        min_df=opts.min_df,
        max_features=opts.max_features,
        dtype=np.float32,
    )
    matrix = tfidf.fit_transform(messages)
    tfidf.stop_words_ = set()  # the terms cut by max_features: only weight in the model file
    dims = min(opts.latent_dims, matrix.shape[1] - 1, matrix.shape[0] - 1)
    if opts.latent_weight <= 0 or dims < 2:
        return Representation(tfidf=tfidf)
    svd = TruncatedSVD(n_components=dims, random_state=opts.seed, algorithm="randomized")
    svd.fit(matrix)
    return Representation(tfidf=tfidf, svd=svd, latent_weight=opts.latent_weight)


def _fit_model(rows: Any, y: np.ndarray[Any, Any], opts: Options) -> CalibratedClassifierCV:
    smallest = min(Counter(y.tolist()).values())
    folds = StratifiedKFold(
        n_splits=max(2, min(opts.calibration_folds, smallest)), shuffle=True, random_state=opts.seed
    )
    model = CalibratedClassifierCV(
        LinearSVC(C=opts.c, class_weight="balanced", random_state=opts.seed, max_iter=5000),
        method="sigmoid",
        cv=folds,
        ensemble=False,
    )
    model.fit(rows, y)
    return model
