"""Training runs (智能派单): every retraining recorded from start to end, one running at a time
in the whole deployment (the database holds at most one ``running`` row), a run whose process
stopped shown abandoned after ``RUN_ABANDONED_AFTER``, a failure kept with its reason and in the
audit log. :mod:`cityops.brain.versions` starts, finishes and fails them."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cityops.brain.events import MODEL_RETRAIN_FAILED
from cityops.brain.models import TrainingRun
from cityops.brain.views import RunOut
from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.errors import Conflict, NotFound
from cityops.core.pagination import Page, PageParams, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

log = logging.getLogger(__name__)

RUN_ABANDONED_AFTER = timedelta(hours=6)  # a run silent this long has lost its process
LOST_RUN = "the run did not finish (its process stopped)"
SORTS: dict[str, Any] = {
    "started_at": TrainingRun.started_at,
    "finished_at": TrainingRun.finished_at,
    "status": TrainingRun.status,
}


def begin_run(
    rt: Runtime, actor: Actor, trigger: str, activate: str, note: str, messages: int
) -> uuid.UUID:
    """Record a running retraining, or refuse (409 ``busy``) while another one runs anywhere:
    the database allows one running row. A run silent for ``RUN_ABANDONED_AFTER`` (its process
    stopped) is marked abandoned first."""
    now = rt.clock.now()
    run = TrainingRun(
        id=uuid.uuid4(),
        started_at=now,
        started_by=actor.username,
        trigger=trigger,
        activate=activate,
        status="running",
        messages=messages,
        note=note[:2000],
        error="",
    )
    try:
        with rt.db.transaction() as tx:
            tx.session.execute(
                update(TrainingRun)
                .where(
                    TrainingRun.status == "running",
                    TrainingRun.started_at < now - RUN_ABANDONED_AFTER,
                )
                .values(
                    status="abandoned",
                    finished_at=now,
                    error=LOST_RUN,
                )
            )
            tx.session.add(run)
    except IntegrityError:
        raise Conflict("a retraining is already running", code="busy") from None
    return run.id


def fail_run(rt: Runtime, actor: Actor, run: uuid.UUID, error: BaseException) -> None:
    """The run failed: say why on the run and in the audit log (its own transaction)."""
    reason = error.message if isinstance(error, Conflict) else f"{type(error).__name__}: {error}"
    now = rt.clock.now()
    try:
        with rt.db.transaction() as tx:
            row = tx.session.get(TrainingRun, run)
            if row is None or row.status != "running":
                return
            row.status, row.finished_at, row.error = "failed", now, reason[:2000]
            record(
                tx.session,
                actor=actor,
                action=MODEL_RETRAIN_FAILED,
                subject_type="brain_run",
                subject_id=run,
                at=now,
                after={"status": "failed", "error": reason[:500]},
            )
    except Exception:  # the database itself may be what failed; the run is abandoned later
        log.exception("could not record the failure of retraining %s", run)


def succeed_run(session: Session, run: uuid.UUID, now: datetime, version: int) -> None:
    row = session.get(TrainingRun, run)
    if row is not None:
        row.status, row.finished_at, row.version = "succeeded", now, version


def list_runs(
    rt: Runtime, *, actor: Actor, params: PageParams, status: str | None = None
) -> Page[RunOut]:
    """The retraining runs, newest first (``sort``: ``-started_at`` by default); ``status``
    running, succeeded, failed or abandoned."""
    actor.require(Perm.brain_models_read)
    query = select(TrainingRun)
    lost = and_(
        TrainingRun.status == "running",
        TrainingRun.started_at < rt.clock.now() - RUN_ABANDONED_AFTER,
    )
    if status == "running":
        query = query.where(TrainingRun.status == status, not_(lost))
    elif status == "abandoned":
        query = query.where(or_(TrainingRun.status == status, lost))
    elif status is not None:
        query = query.where(TrainingRun.status == status)
    query = order_by_sort(query, params.sort, SORTS, "-started_at")
    with rt.db.read() as session:
        rows, total = paginate(session, query, params)
        items = [_out(rt, row) for row in rows]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def get_run(rt: Runtime, *, actor: Actor, run_id: uuid.UUID) -> RunOut:
    actor.require(Perm.brain_models_read)
    with rt.db.read() as session:
        row = session.get(TrainingRun, run_id)
        if row is None:
            raise NotFound("training run", run_id)
        return _out(rt, row)


def _out(rt: Runtime, row: TrainingRun) -> RunOut:
    """A run as readers see it: one silent past ``RUN_ABANDONED_AFTER`` is shown abandoned
    (and no longer blocks a new one; the next start records it so)."""
    out = RunOut.model_validate(row)
    if out.status == "running" and out.started_at < rt.clock.now() - RUN_ABANDONED_AFTER:
        out.status, out.error = "abandoned", LOST_RUN
    return out
