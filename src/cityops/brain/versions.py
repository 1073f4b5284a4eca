"""Model lifecycle (智能派单): train the city's classifier from its own cases, keep every version
with its training size and evaluation figures, activate one, roll back.

Every command checks the permission first, runs in one transaction, writes an audit record and
publishes :class:`ModelChanged` after commit. Training itself (tens of seconds for 10,000
messages) happens before the transaction, which only stores the result.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, undefer

from cityops.brain import modelfile, runs, training
from cityops.brain.classifier import TextClassifier
from cityops.brain.events import (
    MODEL_ACTIVATED,
    MODEL_ROLLED_BACK,
    MODEL_TRAINED,
    MODEL_UPLOADED,
    ModelChanged,
)
from cityops.brain.models import ModelVersion, TrainingExample
from cityops.brain.schemas import Suggestion
from cityops.brain.views import ModelList, ModelOut, RetrainStarted
from cityops.cases import service as cases
from cityops.core.audit.service import record
from cityops.core.auth import SYSTEM, Actor
from cityops.core.db.engine import Transaction
from cityops.core.errors import Conflict, NotFound, invalid
from cityops.core.i18n import text
from cityops.core.pagination import PageParams, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

log = logging.getLogger(__name__)

MIN_PER_LABEL = 5  # a category needs this many examples to be learned (and held out)
MIN_LABELS = 2
TEST_SHARE = 0.2
ACTIVATIONS = ("always", "never", "if_better")
CHECK_SECONDS = 5.0  # how often a worker asks which version is active
SORTS: dict[str, Any] = {
    "version": ModelVersion.version,
    "created_at": ModelVersion.created_at,
    "macro_f1": ModelVersion.macro_f1,
    "accuracy": ModelVersion.accuracy,
}
_CACHE = "brain.model"
STORE_ATTEMPTS = 3


class TooFewExamples(Conflict):
    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, code="too_few_examples", **details)


# --- the training set -----------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSet:
    labelled: list[training.Example]
    unlabelled: list[tuple[str, str]]
    tree: list[tuple[str, ...]]
    left_out: dict[str, int]  # labels with fewer than MIN_PER_LABEL examples
    doubtful: int  # cases left out because a return or recall doubts their label

    @property
    def size(self) -> int:
        return len(self.labelled) + len(self.unlabelled)

    def describe(self) -> dict[str, Any]:
        per_label = Counter(example.label for example in self.labelled)
        return {
            "labelled": len(self.labelled),
            "unlabelled": len(self.unlabelled),
            "per_label": dict(sorted(per_label.items())),
            "left_out": self.left_out,
            "doubtful": self.doubtful,
            "tree_paths": len(self.tree),
        }


def catalogue_tree(rt: Runtime) -> list[tuple[str, ...]]:
    """One path per leaf category: group name > the leaf's code, names and keywords (the code
    is the label; its names teach the model before anyone labelled such a message)."""
    everything = cases.list_categories(rt)
    groups = {c.code: c.name_zh for c in everything if c.parent_code is None}
    return [
        (groups.get(c.parent_code or "", ""), c.code, c.name_zh, c.name_en, *c.keywords)
        for c in everything
        if c.parent_code is not None
    ]


def training_set(rt: Runtime) -> TrainingSet:
    """The city's own cases, the newest ``CITYOPS_BRAIN_RETRAIN_MAX``: those a person
    categorised (the settled labelled examples win over the case's category), the texts of
    reports without one as unlabelled, the catalogue tree."""
    settled: dict[uuid.UUID, str] = {}
    doubted: set[uuid.UUID] = set()
    with rt.db.read() as session:
        rows = session.execute(
            select(
                TrainingExample.case_id, TrainingExample.label, TrainingExample.doubtful
            ).order_by(TrainingExample.at, TrainingExample.id)
        ).all()
    for case_id, label, doubtful in rows:  # the latest example of a case decides
        if doubtful:
            doubted.add(case_id)
            settled.pop(case_id, None)
        else:
            doubted.discard(case_id)
            settled[case_id] = label
    known = {c.code for c in cases.list_categories(rt) if c.parent_code is not None}
    labelled: list[training.Example] = []
    unlabelled: list[tuple[str, str]] = []
    for case_id, title, body, code in cases.training_texts(rt, limit=rt.settings.brain_retrain_max):
        if case_id in doubted:
            continue
        given = settled.get(case_id, code)
        if given is not None and given in known:
            labelled.append(training.Example(title=title, text=body, label=given))
        elif code is None and case_id not in settled:
            unlabelled.append((title, body))
    counts = Counter(example.label for example in labelled)
    few = {label: n for label, n in sorted(counts.items()) if n < MIN_PER_LABEL}
    return TrainingSet(
        labelled=[example for example in labelled if example.label not in few],
        unlabelled=unlabelled,
        tree=catalogue_tree(rt),
        left_out=few,
        doubtful=len(doubted),
    )


def _require_enough(found: TrainingSet) -> None:
    counts = Counter(example.label for example in found.labelled)
    if len(counts) < MIN_LABELS:
        raise TooFewExamples(
            text(
                "too few labelled cases to train: {categories} categories have at least"
                " {per_label} examples, {needed} are needed",
                categories=len(counts),
                per_label=MIN_PER_LABEL,
                needed=MIN_LABELS,
            ),
            categories=len(counts),
            labelled=len(found.labelled),
        )


# --- commands -------------------------------------------------------------------------------


def retrain_model(
    rt: Runtime,
    *,
    actor: Actor,
    activate: str = "if_better",
    note: str = "",
    trigger: str = "command",
) -> ModelOut:
    """Train a new version from the city's cases, evaluate it on a held-out share, store it
    and activate it (``always``, ``never``, or ``if_better``: macro-F1 at least the active's).
    The training is recorded as a run; only one runs at a time in the deployment."""
    found = _prepare(rt, actor, activate)
    run = runs.begin_run(rt, actor, trigger, activate, note, found.size)
    return _train_and_store(rt, actor, run, found, activate, note)


def request_retrain(
    rt: Runtime, *, actor: Actor, activate: str, note: str = ""
) -> ModelOut | RetrainStarted:
    """The API's retraining: in the request up to ``CITYOPS_BRAIN_RETRAIN_SYNC_MAX`` messages
    (the stored version), in a background thread above that (the run, to follow in
    :func:`list_runs`; a failure is recorded on the run and in the audit log)."""
    found = _prepare(rt, actor, activate)
    if found.size <= rt.settings.brain_retrain_sync_max:
        run = runs.begin_run(rt, actor, "request", activate, note, found.size)
        return _train_and_store(rt, actor, run, found, activate, note)
    run = runs.begin_run(rt, actor, "background", activate, note, found.size)

    def work() -> None:
        try:
            _train_and_store(rt, actor, run, found, activate, note)
        except Exception:
            log.exception("background retraining %s failed", run)

    threading.Thread(target=work, name="cityops-retrain", daemon=True).start()
    return RetrainStarted(messages=found.size, run_id=run)


def _prepare(rt: Runtime, actor: Actor, activate: str) -> TrainingSet:
    actor.require(Perm.brain_models_manage)
    if activate not in ACTIVATIONS:
        raise invalid("activate", text("use one of: {choices}", choices=", ".join(ACTIVATIONS)))
    found = training_set(rt)
    _require_enough(found)
    return found


def _train_and_store(
    rt: Runtime,
    actor: Actor,
    run: uuid.UUID,
    found: TrainingSet,
    activate: str,
    note: str,
) -> ModelOut:
    try:
        started = time.perf_counter()
        fit, held_out = training.split(found.labelled, TEST_SHARE)
        figures = training.evaluate(
            training.train(fit, unlabelled=found.unlabelled, tree=found.tree), held_out
        )
        model = training.train(found.labelled, unlabelled=found.unlabelled, tree=found.tree)
        described = found.describe() | {
            "tree_examples": model.info["tree_examples"],
            "pseudo_labelled": model.info["pseudo_labelled"],
            "seconds": round(time.perf_counter() - started, 2),
        }
        evaluation = figures.as_dict() | {"method": "holdout", "test_share": TEST_SHARE}
        return _store(rt, actor, model, "retrain", described, evaluation, activate, note, run=run)
    except BaseException as error:
        runs.fail_run(rt, actor, run, error)
        raise


def upload_model(rt: Runtime, *, actor: Actor, data: bytes, note: str = "") -> ModelOut:
    """Store a model file made by ``cityops ai train`` (not activated). Its labels must be
    category codes of the catalogue."""
    actor.require(Perm.brain_models_manage)
    if not data:
        raise invalid("file", "the file is empty", "required")
    try:
        model = modelfile.loads(data)
    except modelfile.ModelFileError as error:
        # The error's own message (a Text stays one, to be said in the caller's language).
        reason = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
        raise invalid("file", reason, "not_a_model") from None
    known = {c.code for c in cases.list_categories(rt) if c.parent_code is not None}
    unknown = sorted(set(model.labels) - known)
    if unknown:
        shown = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
        raise invalid(
            "file",
            text("labels that are not category codes of the catalogue: {labels}", labels=shown),
            "unknown_labels",
        )
    info = model.info
    described: dict[str, Any] = {
        "labelled": int(info.get("training_size", 0)),
        "unlabelled": int(info.get("unlabelled_size", 0)),
        "per_label": {},
        "tree_examples": int(info.get("tree_examples", 0)),
        "pseudo_labelled": int(info.get("pseudo_labelled", 0)),
        "seconds": info.get("seconds"),
    }
    return _store(rt, actor, model, "upload", described, {}, "never", note, data=data)


def activate_model(rt: Runtime, *, actor: Actor, version: int, note: str = "") -> ModelOut:
    """Make ``version`` the model triage uses (the active one is retired)."""
    actor.require(Perm.brain_models_manage)
    with _one_change_at_a_time(), rt.db.transaction() as tx:
        row = _load(tx.session, version)
        if row.status == "active":
            raise Conflict(
                text("version {version} is already active", version=version), code="already_active"
            )
        _activate(rt, tx, actor, row, replaced=_active_row(tx.session), rollback=False)
        if note:
            row.note = note[:2000]
        return ModelOut.model_validate(row)


def rollback_model(rt: Runtime, *, actor: Actor) -> ModelOut:
    """Go back to the version the active one replaced."""
    actor.require(Perm.brain_models_manage)
    with _one_change_at_a_time(), rt.db.transaction() as tx:
        current = _active_row(tx.session)
        if current is None or current.previous_version is None:
            raise Conflict("there is no earlier version to roll back to", code="no_previous")
        target = _load(tx.session, current.previous_version)
        _activate(rt, tx, actor, target, replaced=current, rollback=True)
        return ModelOut.model_validate(target)


@contextmanager
def _one_change_at_a_time() -> Iterator[None]:
    """Two activations committing at once would leave two active versions: the database
    refuses the second (one active row), which is answered 409 to try again."""
    try:
        yield
    except IntegrityError:
        raise Conflict(
            "the active model changed meanwhile; reload and try again", code="concurrent_change"
        ) from None


def _activate(
    rt: Runtime,
    tx: Transaction,
    actor: Actor,
    row: ModelVersion,
    *,
    replaced: ModelVersion | None,
    rollback: bool,
) -> None:
    now = rt.clock.now()
    before = {"active": replaced.version if replaced else None}
    if replaced is not None:
        replaced.status = "retired"
    tx.session.flush()
    row.status, row.activated_at, row.activated_by = "active", now, actor.username
    if not rollback:  # a rollback keeps the target's own history, so it can roll back again
        row.previous_version = replaced.version if replaced else None
    action = "rolled_back" if rollback else "activated"
    record(
        tx.session,
        actor=actor,
        action=MODEL_ROLLED_BACK if rollback else MODEL_ACTIVATED,
        subject_type="brain_model",
        subject_id=row.version,
        at=now,
        before=before,
        after={"active": row.version},
    )
    tx.emit(ModelChanged(version=row.version, action=action, active=row.version))
    tx.after_commit(lambda: rt.caches.pop(_CACHE, None))


def _store(
    rt: Runtime,
    actor: Actor,
    model: TextClassifier,
    source: str,
    described: dict[str, Any],
    evaluation: dict[str, Any],
    activate: str,
    note: str,
    *,
    data: bytes | None = None,
    run: uuid.UUID | None = None,
) -> ModelOut:
    """Store a version under the next number (and activate it as asked). Two versions stored
    at the same moment by two processes want the same number: the later commit fails on the
    unique version and is tried again with the next one."""
    now = rt.clock.now()
    data = data if data is not None else modelfile.dumps(model, created=now)
    for attempt in range(STORE_ATTEMPTS):
        try:
            with rt.db.transaction() as tx:
                session = tx.session
                number = (session.scalar(select(func.max(ModelVersion.version))) or 0) + 1
                row = ModelVersion(
                    id=uuid.uuid4(),
                    version=number,
                    created_at=now,
                    created_by=actor.username,
                    source=source,
                    training=described,
                    evaluation=evaluation,
                    accuracy=evaluation.get("accuracy"),
                    macro_f1=evaluation.get("macro_f1"),
                    labels=list(model.labels),
                    size_bytes=len(data),
                    data=data,
                    status="trained",
                    note=note[:2000],
                )
                session.add(row)
                session.flush()
                record(
                    session,
                    actor=actor,
                    action=MODEL_TRAINED if source == "retrain" else MODEL_UPLOADED,
                    subject_type="brain_model",
                    subject_id=number,
                    at=now,
                    after={
                        "version": number,
                        "labelled": described.get("labelled"),
                        "macro_f1": row.macro_f1,
                        "accuracy": row.accuracy,
                    },
                )
                active = _active_row(session)
                tx.emit(
                    ModelChanged(
                        version=number,
                        action="trained" if source == "retrain" else "uploaded",
                        active=active.version if active else None,
                    )
                )
                if _should_activate(activate, row, active):
                    _activate(rt, tx, actor, row, replaced=active, rollback=False)
                if run is not None:
                    runs.succeed_run(session, run, now, number)
                return ModelOut.model_validate(row)
        except IntegrityError:
            if attempt == STORE_ATTEMPTS - 1:
                raise Conflict(
                    "the model versions changed meanwhile; try again", code="concurrent_change"
                ) from None
    raise AssertionError("unreachable")


def _should_activate(activate: str, row: ModelVersion, active: ModelVersion | None) -> bool:
    if activate == "always":
        return True
    if activate == "never":
        return False
    if active is None:
        return True
    if row.macro_f1 is None:
        return False
    return active.macro_f1 is None or row.macro_f1 >= active.macro_f1


# --- reading --------------------------------------------------------------------------------


def _load(session: Session, version: int) -> ModelVersion:
    row = session.scalar(select(ModelVersion).where(ModelVersion.version == version))
    if row is None:
        raise NotFound("model version", version)
    return row


def _active_row(session: Session) -> ModelVersion | None:
    return session.scalar(select(ModelVersion).where(ModelVersion.status == "active"))


def list_models(rt: Runtime, *, actor: Actor, params: PageParams) -> ModelList:
    """The versions (``sort``: ``-version`` by default, ``created_at``, ``macro_f1``,
    ``accuracy``) and the active one."""
    actor.require(Perm.brain_models_read)
    query = order_by_sort(select(ModelVersion), params.sort, SORTS, "-version")
    with rt.db.read() as session:
        rows, total = paginate(session, query, params)
        items = [ModelOut.model_validate(row) for row in rows]
        active = session.scalar(select(ModelVersion.version).where(ModelVersion.status == "active"))
    return ModelList(
        items=items, total=total, page=params.page, page_size=params.page_size, active=active
    )


def get_model(rt: Runtime, *, actor: Actor, version: int) -> ModelOut:
    """One version's figures (without the model bytes)."""
    actor.require(Perm.brain_models_read)
    with rt.db.read() as session:
        return ModelOut.model_validate(_load(session, version))


# --- the active model, for triage -----------------------------------------------------------


@dataclass(frozen=True)
class VersionedClassifier:
    """A stored model version, as triage sees it."""

    version: int
    model: TextClassifier

    @property
    def name(self) -> str:
        return f"model-v{self.version}"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.labels

    def suggest(self, title: str, text: str, k: int = 3) -> list[Suggestion]:
        return self.model.suggest(title, text, k=k)


def active_classifier(rt: Runtime) -> VersionedClassifier | None:
    """The active version's model, loaded once per version; the active version is looked up at
    most every :data:`CHECK_SECONDS` (so other workers notice an activation within seconds)."""
    held = rt.caches.get(_CACHE)
    now = time.monotonic()
    if held is not None and now - held[0] < CHECK_SECONDS:
        found: VersionedClassifier | None = held[1]
        return found
    with rt.db.read() as session:
        version = session.scalar(
            select(ModelVersion.version).where(ModelVersion.status == "active")
        )
        if version is None:
            rt.caches[_CACHE] = (now, None)
            return None
        if held is not None and held[1] is not None and held[1].version == version:
            rt.caches[_CACHE] = (now, held[1])
            return held[1]  # type: ignore[no-any-return]
        data = session.scalar(
            select(ModelVersion)
            .options(undefer(ModelVersion.data))
            .where(ModelVersion.version == version)
        )
        assert data is not None
        blob = data.data
    try:
        loaded = VersionedClassifier(version=version, model=modelfile.loads(blob))
    except modelfile.ModelFileError:
        log.exception("the active model version %s cannot be loaded", version)
        rt.caches[_CACHE] = (now, None)
        return None
    rt.caches[_CACHE] = (now, loaded)
    return loaded


def scheduled_retrain(rt: Runtime) -> ModelOut | None:
    """The periodic job: retrain and activate if better; too few examples is not an error.
    Every web worker runs the job: one that finds a retrained version younger than half the
    period (another worker's) leaves it at that."""
    hours = rt.settings.brain_retrain_hours
    with rt.db.read() as session:
        latest = session.scalar(
            select(func.max(ModelVersion.created_at)).where(ModelVersion.source == "retrain")
        )
    if latest is not None and (rt.clock.now() - latest).total_seconds() < hours * 1800:
        log.info("scheduled retraining skipped: version of %s is recent", latest.isoformat())
        return None
    try:
        return retrain_model(
            rt, actor=SYSTEM, activate="if_better", note="scheduled", trigger="schedule"
        )
    except TooFewExamples as error:
        log.info("scheduled retraining skipped: %s", error.message)
    except Conflict as error:
        log.info("scheduled retraining skipped: %s", error.message)
    return None
