"""Triage and labelled examples queued to the brain's thread (``CITYOPS_BRAIN_BACKGROUND``, the
server's default): reports are triaged in batches there, a confident one dispatched by the
machine, people's decisions learnt; stopping handles what is queued."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from cityops.brain import examples
from cityops.brain import service as brain
from cityops.cases import service as cases
from cityops.cases.events import CaseChanged
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.brain import CONFIDENT_TEXT, CONFIDENT_TITLE, THRESHOLD, UNSURE_TEXT, UNSURE_TITLE
from factories.cases import IN_GRID, report

ActorFn = Callable[[str], Any]
LON, LAT = IN_GRID
FIRST = "人民路与五一路交叉口的井盖被偷了，晚上路过很危险"
REPEAT = "人民路五一路交叉口井盖被偷了，晚上很危险"  # the same words, shortened: merged


def _queued(rt: Runtime, *, auto_dispatch: bool = True) -> None:
    rt.settings = rt.settings.model_copy(
        update={"auto_dispatch": auto_dispatch, "auto_dispatch_threshold": THRESHOLD}
    )
    brain.attach(rt, background=True)


def test_reports_are_triaged_and_dispatched_in_the_brains_thread(
    rt: Runtime, actor: ActorFn
) -> None:
    _queued(rt)
    machine_threads: list[str] = []
    rt.db.bus.subscribe(
        CaseChanged,
        lambda e: (
            machine_threads.append(threading.current_thread().name)
            if e.action == "dispatch"
            else None
        ),
    )
    sure = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    unsure = [
        report(rt, actor, category=None, title=UNSURE_TITLE, description=f"{UNSURE_TEXT} {i}")
        for i in range(4)
    ]
    rt.settle()
    assert brain.triage_count(rt) == 5
    now = cases.get_case(rt, actor=actor("operator"), case_id=sure.id)
    assert now.state == "dispatched"
    assert now.machine_dispatch is not None
    assert machine_threads == ["cityops-brain"]
    assert brain.get_triage(rt, actor=actor("operator"), case_id=sure.id).decision == "dispatched"
    for case in unsure:
        triage = brain.get_triage(rt, actor=actor("operator"), case_id=case.id)
        assert triage.decision == "suggested"
        assert cases.get_case(rt, actor=actor("operator"), case_id=case.id).state == "reported"


def test_a_report_registered_before_its_triage_is_not_dispatched_again(
    rt: Runtime, actor: ActorFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    _queued(rt)
    # Hold the brain's thread on a first report while a person registers the second one.
    hold = threading.Event()
    original = brain.triage_reports

    def held(runtime: Runtime, reports: list[brain.Report]) -> None:
        assert hold.wait(10)
        original(runtime, reports)

    monkeypatch.setattr(brain, "triage_reports", held)
    first = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    second = report(
        rt, actor, category="E-01-02", title=CONFIDENT_TITLE, description=CONFIDENT_TEXT
    )
    cases.register_case(rt, actor=actor("operator"), case_id=second.id)
    hold.set()
    rt.settle()
    assert brain.triage_count(rt) == 2
    triage = brain.get_triage(rt, actor=actor("operator"), case_id=second.id)
    assert triage.decision == "skipped"
    assert triage.reason == "the case is already registered"
    steps = cases.timeline(rt, actor=actor("operator"), case_id=second.id)
    assert [(s.action, s.actor_name) for s in steps] == [
        ("report", "citizen"),
        ("register", "operator"),
    ]
    assert brain.get_triage(rt, actor=actor("operator"), case_id=first.id).decision == ("suggested")


def test_a_report_merged_at_intake_is_left_alone_by_triage(rt: Runtime, actor: ActorFn) -> None:
    """The report's event says "reported", but the same transaction merged the report into
    an open case about the same problem: triage reads the state the case is in now."""
    _queued(rt, auto_dispatch=False)
    rt.settings = rt.settings.model_copy(update={"duplicate_auto_merge": True})
    first = report(rt, actor, reporter="operator", description=FIRST, lon=LON, lat=LAT)
    repeat = report(rt, actor, description=REPEAT, lon=LON, lat=LAT + 0.00027)
    rt.settle()
    assert cases.get_case(rt, actor=actor("operator"), case_id=repeat.id).state == "merged"
    triage = brain.get_triage(rt, actor=actor("operator"), case_id=repeat.id)
    assert (triage.decision, triage.reason) == ("skipped", "the case is already merged")
    first_triage = brain.get_triage(rt, actor=actor("operator"), case_id=first.id)
    assert first_triage.decision == "suggested"


def test_a_persons_registration_is_learnt_in_the_brains_thread(rt: Runtime, actor: ActorFn) -> None:
    _queued(rt, auto_dispatch=False)
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    cases.register_case(rt, actor=actor("operator"), case_id=case.id, category_code="B-01-02")
    rt.settle()
    page = examples.list_examples(rt, actor=actor("dataofficer"), params=PageParams(sort="at"))
    [learnt] = [e for e in page.items if e.case_id == case.id]
    assert (learnt.label, learnt.source) == ("B-01-02", "correction")
    assert learnt.machine_label is not None


def test_stopping_handles_what_is_queued(rt: Runtime, actor: ActorFn) -> None:
    _queued(rt, auto_dispatch=False)
    for i in range(3):
        report(rt, actor, category=None, title=UNSURE_TITLE, description=f"{UNSURE_TEXT} {i}")
    for worker in rt.workers:
        worker.stop()
    assert brain.triage_count(rt) == 3
    late = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    assert brain.get_triage(rt, actor=actor("operator"), case_id=late.id).decision == "suggested"
    assert brain.triage_count(rt) == 4
