"""Triage of new reports: a confident one is registered and dispatched by the machine, an
unsure one waits with its suggestions, auto-dispatch off or no route leaves it to a person,
the sweep triages a missed report once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cityops.brain import service as brain
from cityops.cases import service as cases
from cityops.cases.schemas import CategoryIn
from cityops.core.runtime import Runtime
from factories.brain import (
    CONFIDENT_TEXT,
    CONFIDENT_TITLE,
    THRESHOLD,
    UNSURE_TEXT,
    UNSURE_TITLE,
    wire,
)
from factories.cases import report

ActorFn = Callable[[str], Any]


def test_a_confident_report_is_dispatched_by_the_machine(rt: Runtime, actor: ActorFn) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    now = cases.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert now.state == "dispatched"
    assert now.category is not None
    assert now.category.code == "E-01-02"
    assert now.department is not None
    assert now.department.code.startswith("chengguan")
    assert now.machine_dispatch is not None
    assert now.machine_dispatch.model == "keywords"
    assert now.machine_dispatch.label == "E-01-02"
    assert now.machine_dispatch.confidence >= THRESHOLD
    steps = cases.timeline(rt, actor=actor("operator"), case_id=case.id)
    assert [(s.action, s.actor_name) for s in steps] == [
        ("report", "citizen"),
        ("register", "dispatch-ai"),
        ("dispatch", "dispatch-ai"),
    ]
    assert steps[-1].data["machine"] == {
        "model": "keywords",
        "confidence": now.machine_dispatch.confidence,
        "label": "E-01-02",
    }
    triage = brain.get_triage(rt, actor=actor("dispatcher"), case_id=case.id)
    assert triage.decision == "dispatched"
    assert triage.suggestions[0].category.code == "E-01-02"
    assert triage.suggestions[0].category.name_zh == "暴露垃圾"
    assert "路边垃圾" in triage.suggestions[0].words


def test_an_unsure_report_waits_with_its_suggestions(rt: Runtime, actor: ActorFn) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    now = cases.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert now.state == "reported"
    assert now.machine_dispatch is None
    triage = brain.get_triage(rt, actor=actor("operator"), case_id=case.id)
    assert triage.decision == "suggested"
    assert "below" in triage.reason
    assert len(triage.suggestions) == 3
    assert all(s.confidence < THRESHOLD for s in triage.suggestions)
    assert all(s.words == ["井盖"] for s in triage.suggestions)


def test_auto_dispatch_off_only_suggests(rt: Runtime, actor: ActorFn) -> None:
    wire(rt, auto_dispatch=False)
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    assert cases.get_case(rt, actor=actor("operator"), case_id=case.id).state == "reported"
    triage = brain.get_triage(rt, actor=actor("operator"), case_id=case.id)
    assert (triage.decision, triage.reason) == ("suggested", "auto-dispatch is off")
    assert triage.suggestions[0].category.code == "E-01-02"


def test_a_category_without_a_route_is_left_to_the_dispatcher(rt: Runtime, actor: ActorFn) -> None:
    wire(rt, threshold=0.6)
    cases.create_category(
        rt,
        actor=actor("admin"),
        data=CategoryIn(
            code="E-99-01",
            parent_code="E-01",
            name_zh="无人机扰民",
            name_en="Drone nuisance",
            kind="event",
            department_kind="nobody",
            register_hours=2,
            dispatch_hours=2,
            handle_hours=8,
            keywords=["无人机", "无人机扰民", "无人机噪音"],
        ),
    )
    case = report(
        rt, actor, category=None, title="无人机扰民", description="楼顶无人机噪音很大，无人机扰民"
    )
    assert cases.get_case(rt, actor=actor("operator"), case_id=case.id).state == "reported"
    triage = brain.get_triage(rt, actor=actor("operator"), case_id=case.id)
    assert triage.decision == "no_route"
    assert triage.suggestions[0].category.code == "E-99-01"


def test_the_reporters_category_is_only_confirmed(rt: Runtime, actor: ActorFn) -> None:
    wire(rt)
    disagree = report(
        rt, actor, category="B-01-02", title=CONFIDENT_TITLE, description=CONFIDENT_TEXT
    )
    assert cases.get_case(rt, actor=actor("operator"), case_id=disagree.id).state == "reported"
    assert brain.get_triage(rt, actor=actor("operator"), case_id=disagree.id).decision == (
        "disagrees"
    )
    agree = report(rt, actor, category="E-01-02", title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    assert cases.get_case(rt, actor=actor("operator"), case_id=agree.id).state == "dispatched"


def test_the_sweep_triages_a_missed_report_once(rt: Runtime, actor: ActorFn) -> None:
    # Reported while nothing listened (as after a crash between commit and triage).
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    waiting = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    rt.settings = rt.settings.model_copy(
        update={"auto_dispatch": True, "auto_dispatch_threshold": THRESHOLD}
    )
    before = brain.triage_count(rt)
    assert brain.sweep(rt) >= 2
    assert brain.triage_count(rt) >= before + 2
    assert cases.get_case(rt, actor=actor("operator"), case_id=case.id).state == "dispatched"
    assert brain.get_triage(rt, actor=actor("operator"), case_id=waiting.id).decision == (
        "suggested"
    )
    after = brain.triage_count(rt)
    assert brain.sweep(rt) == 0
    assert brain.triage_count(rt) == after
    steps = cases.timeline(rt, actor=actor("operator"), case_id=case.id)
    assert [s.action for s in steps].count("dispatch") == 1


def test_the_scheduler_runs_the_sweep(rt: Runtime, actor: ActorFn) -> None:
    brain.register_jobs(rt)
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    assert "brain.triage_sweep" in rt.scheduler.run_due(now=float("inf"))
    assert brain.get_triage(rt, actor=actor("operator"), case_id=case.id).decision == "suggested"
