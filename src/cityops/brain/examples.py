"""Labelled examples from people's decisions on cases, for retraining the classifier.

From each case's timeline (replayed in order, so the result does not depend on which event
woke it or how often):

- a person registers the report with a category → ``registered`` (or ``correction`` when they
  changed the reporter's category), with the machine's first suggestion when it differed;
- a person dispatches a case nobody labelled yet → ``registered``; with a changed category →
  ``correction``, with the label the machine had given or suggested;
- a department returns (退回) or an operator recalls (撤回派单) a machine-dispatched case →
  ``return`` / ``recall`` with the machine's label, marked doubtful; the next dispatch by a
  person settles it: its category becomes the label (and the machine's is kept if different).

One example per (case, timeline entry): replaying inserts nothing twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cityops.brain.models import TrainingExample
from cityops.brain.views import SOURCES, ExampleCounts, ExampleOut
from cityops.cases import service as cases
from cityops.cases.schemas import CaseEventOut, CaseOut
from cityops.core.auth import MACHINE, SYSTEM, Actor
from cityops.core.errors import invalid
from cityops.core.i18n import text
from cityops.core.pagination import Page, PageParams, order_by_sort, paginate
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm

LEARN_FROM = frozenset({"register", "dispatch", "return", "recall"})
SORTS = {"at": TrainingExample.at, "label": TrainingExample.label}


@dataclass
class _Replay:
    """What the timeline has told so far."""

    machine_label: str | None = None  # the label of the machine's last dispatch
    labelled: bool = False  # a person has given the case a category
    pending: list[uuid.UUID] = field(default_factory=list)  # doubtful return/recall entries
    rows: list[dict[str, Any]] = field(default_factory=list)  # examples to insert
    settle: dict[uuid.UUID, tuple[str, str | None]] = field(default_factory=dict)


def _by_machine(event: CaseEventOut) -> bool:
    return event.actor_id is None and event.actor_name == MACHINE.username


def _replay(timeline: list[CaseEventOut], suggested: str | None) -> _Replay:
    state = _Replay()

    def add(event: CaseEventOut, label: str, source: str, machine: str | None, doubt: bool) -> None:
        state.rows.append(
            {
                "event_id": event.id,
                "label": label,
                "source": source,
                "actor": event.actor_name,
                "at": event.at,
                "machine_label": machine if machine != label or doubt else None,
                "doubtful": doubt,
            }
        )

    for event in timeline:
        data = event.data or {}
        code = data.get("category_code")
        changed = "category_changed_from" in data
        if event.action == "register" and code and not _by_machine(event):
            add(event, code, "correction" if changed else "registered", suggested, False)
            state.labelled = True
        elif event.action == "dispatch" and code:
            if _by_machine(event):
                state.machine_label = (data.get("machine") or {}).get("label", code)
                continue
            earlier = state.machine_label or suggested
            for pending in state.pending:
                state.settle[pending] = (code, state.machine_label)
            if changed:
                add(event, code, "correction", earlier, False)
            elif not state.labelled and not state.pending:
                add(event, code, "registered", suggested, False)
            state.labelled, state.pending, state.machine_label = True, [], None
        elif event.action in ("return", "recall") and data.get("machine"):
            label = str(data["machine"].get("label"))
            add(event, label, event.action, label, True)
            state.pending.append(event.id)
    return state


def record_examples(
    rt: Runtime,
    *,
    case_ids: list[uuid.UUID],
    machine_tops: Callable[[Runtime, list[uuid.UUID]], dict[uuid.UUID, str]],
) -> int:
    """Bring the examples of these cases up to date with their timelines, all in a fixed
    number of queries and one transaction; returns how many were added."""
    timelines = cases.timelines(rt, actor=SYSTEM, case_ids=case_ids)
    plain = {case_id: _replay(timeline, None) for case_id, timeline in timelines.items()}
    news = _news(rt, plain)
    if not news:
        return 0  # most events: nothing to learn, or learnt from an earlier one
    tops = machine_tops(rt, news)
    replays = {case_id: _replay(timelines[case_id], tops.get(case_id)) for case_id in news}
    texts = cases.get_cases(rt, actor=SYSTEM, case_ids=news)
    try:
        return _write(rt, replays, texts)
    except IntegrityError:  # another worker recorded some of the same entries first
        if len(news) == 1:
            return 0
    # Each case on its own, so that those the other worker did not touch are kept.
    return sum(_write_one(rt, case_id, replays, texts) for case_id in news)


def _write_one(
    rt: Runtime,
    case_id: uuid.UUID,
    replays: dict[uuid.UUID, _Replay],
    texts: dict[uuid.UUID, CaseOut],
) -> int:
    try:
        return _write(rt, {case_id: replays[case_id]}, texts)
    except IntegrityError:
        return 0


def _write(rt: Runtime, replays: dict[uuid.UUID, _Replay], texts: dict[uuid.UUID, CaseOut]) -> int:
    added = 0
    with rt.db.transaction() as tx:
        have = {
            row.event_id: row
            for row in tx.session.scalars(
                select(TrainingExample).where(TrainingExample.case_id.in_(list(replays)))
            )
        }
        for case_id, replay in replays.items():
            case = texts.get(case_id)
            if case is None:
                continue
            for item in replay.rows:
                if item["event_id"] in have:
                    continue
                example = TrainingExample(
                    id=uuid.uuid4(), case_id=case_id, title=case.title, text=case.description
                )
                for name, value in item.items():
                    setattr(example, name, value)
                tx.session.add(example)
                have[item["event_id"]] = example
                added += 1
        tx.session.flush()
        for replay in replays.values():
            for event_id, (label, machine) in replay.settle.items():
                row = have.get(event_id)
                if row is not None and row.doubtful:
                    row.label, row.doubtful = label, False
                    row.machine_label = machine if machine != label else None
    return added


def _news(rt: Runtime, replays: dict[uuid.UUID, _Replay]) -> list[uuid.UUID]:
    """The cases whose replay holds an entry not recorded yet, or settles a doubtful one."""
    asking = [case_id for case_id, replay in replays.items() if replay.rows]
    have: set[tuple[uuid.UUID, uuid.UUID]] = set()
    if asking:
        with rt.db.read() as session:
            rows = session.execute(
                select(TrainingExample.case_id, TrainingExample.event_id).where(
                    TrainingExample.case_id.in_(asking)
                )
            )
            have = {(case_id, event_id) for case_id, event_id in rows}
    return [
        case_id
        for case_id, replay in replays.items()
        if replay.settle or any((case_id, row["event_id"]) not in have for row in replay.rows)
    ]


def list_examples(
    rt: Runtime,
    *,
    actor: Actor,
    params: PageParams,
    source: str | None = None,
    label: str | None = None,
    doubtful: bool | None = None,
) -> Page[ExampleOut]:
    """The labelled examples, newest first; filter by source, label and doubt."""
    actor.require(Perm.brain_examples_read)
    if source is not None and source not in SOURCES:
        raise invalid(
            "source",
            text(
                "unknown source {source!r}; use one of: {choices}",
                source=source,
                choices=", ".join(SOURCES),
            ),
        )
    query = select(TrainingExample)
    if source:
        query = query.where(TrainingExample.source == source)
    if label:
        query = query.where(TrainingExample.label == label)
    if doubtful is not None:
        query = query.where(TrainingExample.doubtful.is_(doubtful))
    query = order_by_sort(query, params.sort, SORTS, "-at")
    with rt.db.read() as session:
        rows, total = paginate(session, query.order_by(TrainingExample.id), params)
        items = [ExampleOut.model_validate(row) for row in rows]
    return Page(items=items, total=total, page=params.page, page_size=params.page_size)


def count_examples(rt: Runtime, *, actor: Actor) -> ExampleCounts:
    """How many examples each source gave."""
    actor.require(Perm.brain_examples_read)
    with rt.db.read() as session:
        counts = dict(
            session.execute(
                select(TrainingExample.source, func.count()).group_by(TrainingExample.source)
            ).all()
        )
        doubtful = session.scalar(select(func.count()).where(TrainingExample.doubtful.is_(True)))
    by_source = {s: int(counts.get(s, 0)) for s in SOURCES}
    return ExampleCounts(total=sum(by_source.values()), by_source=by_source, doubtful=doubtful or 0)
