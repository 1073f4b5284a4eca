"""Triage of new reports (智能派单): suggest a category, dispatch by itself when sure, and
learn from the people who correct it.

Triage runs after a report commits (``attach`` subscribes it; in a background thread of the
process where it is configured so, a batch of reports in one transaction), on demand when a
dispatcher asks for a waiting report's triage before the queue got to it, and from the sweep
for reports it missed. It stores the top suggestions; when auto-dispatch is on, the top
confidence reaches the threshold, the report is still waiting and a routing rule applies, the
``MACHINE`` actor registers and dispatches it through the cases module's verbs, marking the
dispatch with the model and its confidence. Everything else is left to the dispatcher.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cityops.brain import examples, versions
from cityops.brain.keywords import CategoryTerms, KeywordClassifier
from cityops.brain.models import Triage
from cityops.brain.schemas import Classifier, Suggestion
from cityops.brain.views import SuggestionOut, SuggestOut, TriageOut
from cityops.cases import service as cases
from cityops.cases.events import CaseChanged
from cityops.cases.schemas import CaseFilter, CaseOut, CategoryRef
from cityops.core.auth import MACHINE, SYSTEM, Actor
from cityops.core.errors import DomainError, NotFound, PermissionDenied, invalid
from cityops.core.i18n import text
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.core.tasks import BatchWorker
from cityops.org.roles import Perm

log = logging.getLogger(__name__)

_CACHE = "brain.classifier"
_TAKES = examples.LEARN_FROM | {"report"}  # the case events triage and learning act on
SWEEP_PAGE = 200


# --- the classifier -------------------------------------------------------------------------


def current_classifier(rt: Runtime) -> Classifier:
    """The classifier triage uses: the active model version (``versions.active_classifier``),
    else the keyword classifier of the category catalogue, rebuilt when the catalogue changes."""
    active = versions.active_classifier(rt)
    if active is not None:
        return active
    catalogue = cases.category_snapshot(rt)  # the same tuple until the categories change
    held = rt.caches.get(_CACHE)
    if held is not None and held[0] is catalogue:
        classifier: Classifier = held[1]
        return classifier
    classifier = KeywordClassifier(
        CategoryTerms(code=c.code, terms=(c.name_zh, c.name_en, *c.keywords))
        for c in catalogue
        if c.active and c.parent_code is not None
    )
    rt.caches[_CACHE] = (catalogue, classifier)
    return classifier


def model_name(classifier: Classifier) -> str:
    return str(getattr(classifier, "name", "keywords"))


def _category_refs(rt: Runtime) -> dict[str, CategoryRef]:
    return {
        c.code: CategoryRef(code=c.code, name_zh=c.name_zh, name_en=c.name_en)
        for c in cases.list_categories(rt, include_inactive=True)
    }


def _present(refs: dict[str, CategoryRef], items: list[dict[str, Any]]) -> list[SuggestionOut]:
    return [
        SuggestionOut(
            category=refs.get(item["label"])
            or CategoryRef(code=item["label"], name_zh=item["label"], name_en=item["label"]),
            confidence=item["confidence"],
            words=list(item["words"]),
        )
        for item in items
    ]


def _as_json(suggestions: list[Suggestion]) -> list[dict[str, Any]]:
    return [
        {"label": s.label, "confidence": s.confidence, "words": list(s.words)} for s in suggestions
    ]


def suggest(rt: Runtime, *, actor: Actor, title: str, text: str, k: int = 3) -> SuggestOut:
    """The top ``k`` categories for a message (a dispatcher checking a call as it comes in)."""
    actor.require(Perm.brain_suggest)
    if not title.strip() and not text.strip():
        raise invalid("text", "give a title or a text to classify", "required")
    classifier = current_classifier(rt)
    found = classifier.suggest(title, text, k=k)
    return SuggestOut(
        model=model_name(classifier), suggestions=_present(_category_refs(rt), _as_json(found))
    )


# --- triage ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """What triage reads of a report: taken from the report's event, or from the case."""

    case_id: uuid.UUID
    title: str
    text: str
    state: str
    category_code: str | None
    area_path: str

    @classmethod
    def of_event(cls, event: CaseChanged) -> Report:
        return cls(
            event.case_id,
            event.title,
            event.description,
            event.to_state,
            event.category_code,
            event.area_path,
        )

    @classmethod
    def of_case(cls, case: CaseOut) -> Report:
        return cls(
            case.id,
            case.title,
            case.description,
            case.state,
            case.category.code if case.category else None,
            case.location.area_path,
        )


def _decide(rt: Runtime, report: Report, top: Suggestion | None) -> tuple[str, str]:
    """What to do with a report: ``dispatch``, or the reason to leave it to a person."""
    threshold = rt.settings.auto_dispatch_threshold
    if report.state != "reported":
        return "skipped", f"the case is already {report.state}"
    if top is None:
        return "suggested", "no category matched the message"
    if not rt.settings.auto_dispatch:
        return "suggested", "auto-dispatch is off"
    if top.confidence < threshold:
        return "suggested", f"confidence {top.confidence:.2f} is below {threshold:.2f}"
    if report.category_code is not None and report.category_code != top.label:
        return "disagrees", f"the reporter chose {report.category_code}, the model {top.label}"
    route = cases.route_for(rt, category_code=top.label, area_path=report.area_path)
    if route.department is None:
        return "no_route", route.explanation
    return "dispatch", f"confidence {top.confidence:.2f} ≥ {threshold:.2f}"


def _dispatch(rt: Runtime, case_id: uuid.UUID, top: Suggestion, model: str) -> tuple[str, str]:
    mark = {"model": model, "confidence": top.confidence, "label": top.label}
    note = f"智能派单 {model} {top.confidence:.0%}"
    try:
        cases.register_case(rt, actor=MACHINE, case_id=case_id, category_code=top.label, note=note)
    except DomainError as error:  # someone acted first, or the category went away
        return "skipped", f"not registered: {error}"
    try:
        cases.dispatch_case(rt, actor=MACHINE, case_id=case_id, note=note, machine=mark)
    except DomainError as error:
        return "registered", f"registered, not dispatched: {error}"
    return (
        "dispatched",
        f"confidence {top.confidence:.2f} ≥ {rt.settings.auto_dispatch_threshold:.2f}",
    )


def triage_case(rt: Runtime, *, case_id: uuid.UUID) -> TriageOut:
    """Classify a report, store the suggestions and, when sure, dispatch it (once per case);
    what was stored."""
    _triage(rt, case_id)
    out = _stored(rt, case_id)
    assert out is not None
    return out


def _triage(rt: Runtime, case_id: uuid.UUID) -> None:
    """Triage one case unless it has been (the sweep, and a triage asked for before the
    queue got to it)."""
    with rt.db.read() as session:
        if session.scalar(select(Triage.id).where(Triage.case_id == case_id)) is not None:
            return
    triage_reports(rt, [Report.of_case(cases.get_case(rt, actor=SYSTEM, case_id=case_id))])


def triage_reports(rt: Runtime, reports: list[Report]) -> None:
    """Classify new reports, dispatch those the machine is sure of, and store every triage in
    one transaction (row by row if another worker stored one of them meanwhile: theirs
    stands)."""
    classifier = current_classifier(rt)
    model = model_name(classifier)
    version = getattr(classifier, "version", None)
    # The case may have moved on since its report's event: merged into an open case in the
    # same transaction, or registered by a person before the queue got to it.
    now = cases.states_of(rt, [report.case_id for report in reports])
    rows = []
    for report in reports:
        report = dataclasses.replace(report, state=now.get(report.case_id, report.state))
        try:
            found = classifier.suggest(report.title, report.text, k=3)
            top = found[0] if found else None
            decision, reason = _decide(rt, report, top)
            if decision == "dispatch" and top is not None:
                decision, reason = _dispatch(rt, report.case_id, top, model)
        except Exception:  # one bad report must not hold up the others
            log.exception("triage of case %s failed", report.case_id)
            continue
        rows.append(
            {
                "case_id": report.case_id,
                "model": model,
                "model_version": version,
                "suggestions": _as_json(found),
                "top_confidence": top.confidence if top else 0.0,
                "decision": decision,
                "reason": reason[:1000],
            }
        )
    if not rows:
        return
    try:
        _store_triage(rt, rows)
    except IntegrityError:
        for row in rows:
            with contextlib.suppress(IntegrityError):
                _store_triage(rt, [row])


def _store_triage(rt: Runtime, rows: list[dict[str, Any]]) -> None:
    now = rt.clock.now()
    with rt.db.transaction() as tx:
        tx.session.add_all(Triage(id=uuid.uuid4(), created_at=now, **row) for row in rows)


def _stored(rt: Runtime, case_id: uuid.UUID) -> TriageOut | None:
    with rt.db.read() as session:
        row = session.scalar(select(Triage).where(Triage.case_id == case_id))
        if row is None:
            return None
        model, items, decision, reason = row.model, row.suggestions, row.decision, row.reason
        model_version = row.model_version
        created_at = row.created_at
    return TriageOut(
        case_id=case_id,
        model=model,
        model_version=model_version,
        suggestions=_present(_category_refs(rt), items),
        decision=decision,
        reason=reason,
        threshold=rt.settings.auto_dispatch_threshold,
        created_at=created_at,
    )


def get_triage(rt: Runtime, *, actor: Actor, case_id: uuid.UUID) -> TriageOut:
    """The stored triage of a case, for those who may read the case and dispatch it."""
    if not actor.can(Perm.cases_dispatch):
        raise PermissionDenied(
            text("role {role!r} may not see the triage of cases", role=actor.role)
        )
    case = cases.get_case(rt, actor=actor, case_id=case_id)  # reading rights and jurisdiction
    stored = _stored(rt, case_id)
    if stored is None and case.state == "reported":  # still queued (or missed): triage it now
        _triage(rt, case_id)
        stored = _stored(rt, case_id)
    if stored is None:
        raise NotFound("triage", str(case_id))
    return stored


def top_label(rt: Runtime, case_id: uuid.UUID) -> str | None:
    """The label the machine suggested first for a case, if it triaged it."""
    return top_labels(rt, [case_id]).get(case_id)


def top_labels(rt: Runtime, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The label the machine suggested first for each of these cases that it triaged."""
    if not case_ids:
        return {}
    with rt.db.read() as session:
        rows = session.execute(
            select(Triage.case_id, Triage.suggestions).where(Triage.case_id.in_(case_ids))
        )
        return {case_id: str(items[0]["label"]) for case_id, items in rows if items}


def sweep(rt: Runtime) -> int:
    """Triage reports still waiting without a triage (e.g. lost to a crash after commit)."""
    done = 0
    page = 1
    while True:
        listed = cases.list_cases(
            rt,
            actor=SYSTEM,
            filters=CaseFilter(state=["reported"]),
            params=PageParams(page=page, page_size=SWEEP_PAGE, sort="created_at"),
        )
        ids = [c.id for c in listed.items]
        if ids:
            with rt.db.read() as session:
                seen = set(session.scalars(select(Triage.case_id).where(Triage.case_id.in_(ids))))
            for case_id in ids:
                if case_id not in seen:
                    _safely(rt, case_id)
                    done += 1
        if page * SWEEP_PAGE >= listed.total:
            return done
        page += 1


def _safely(rt: Runtime, case_id: uuid.UUID) -> None:
    try:
        _triage(rt, case_id)
    except Exception:  # one bad case must not stop the sweep
        log.exception("triage of case %s failed", case_id)


def triage_count(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.scalar(select(func.count()).select_from(Triage)) or 0


# --- wiring ---------------------------------------------------------------------------------


def after_commit(rt: Runtime, events: list[CaseChanged]) -> None:
    """Triage the new reports among committed case events, and learn from a person's
    register, dispatch, return or recall (each case once)."""
    reports = [Report.of_event(e) for e in events if e.action == "report"]
    if reports:
        triage_reports(rt, reports)
    learn = list(dict.fromkeys(e.case_id for e in events if e.action in examples.LEARN_FROM))
    if learn:
        try:
            examples.record_examples(rt, case_ids=learn, machine_tops=top_labels)
        except Exception:  # the examples must not stop the rest of the work after commit
            log.exception("labelled examples of cases %s failed", [str(c) for c in learn])


def attach(rt: Runtime, *, background: bool = False) -> None:
    """Subscribe triage and the labelled examples to committed case events: in the thread
    that committed, or (``background``) queued to one thread of this process that takes
    them in batches (``CITYOPS_BRAIN_BACKGROUND``; docs/triage.md, "When triage runs")."""
    if not background:
        rt.db.bus.subscribe(CaseChanged, lambda event: after_commit(rt, [event]))
        return
    worker: BatchWorker[CaseChanged] = BatchWorker(
        "cityops-brain", lambda batch: after_commit(rt, batch)
    )
    rt.workers.append(worker)

    def queue(event: CaseChanged) -> None:
        if event.action in _TAKES:
            worker.submit(event)

    rt.db.bus.subscribe(CaseChanged, queue)


def register_jobs(rt: Runtime) -> None:
    rt.scheduler.every(rt.settings.triage_sweep_seconds, "brain.triage_sweep", lambda: sweep(rt))
    if rt.settings.brain_retrain_hours > 0:
        rt.scheduler.every(
            rt.settings.brain_retrain_hours * 3600,
            "brain.retrain",
            lambda: versions.scheduled_retrain(rt),
        )
