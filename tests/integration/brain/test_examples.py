"""Recall of a machine dispatch, and the labelled examples people's decisions leave: a person's
registration, a correction after a recall, a return of a machine-dispatched case settled by the
next dispatch; replaying a case's events adds nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from cityops.brain import examples
from cityops.brain import service as brain
from cityops.cases import service as cases
from cityops.core.errors import PermissionDenied, ValidationFailed
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.brain import CONFIDENT_TEXT, CONFIDENT_TITLE, UNSURE_TEXT, UNSURE_TITLE, wire
from factories.cases import handler_of, report
from factories.db import count_statements
from factories.org import make_user

ActorFn = Callable[[str], Any]


def _examples(rt: Runtime, actor: ActorFn, case_id: Any) -> list[Any]:
    page = examples.list_examples(rt, actor=actor("dataofficer"), params=PageParams(sort="at"))
    return [e for e in page.items if e.case_id == case_id]


def _machine_case(rt: Runtime, actor: ActorFn) -> Any:
    wire(rt)
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    case = cases.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert case.machine_dispatch is not None
    return case


def test_recall_returns_a_machine_dispatch_to_registered_and_a_new_category_is_a_correction(
    rt: Runtime, actor: ActorFn
) -> None:
    case = _machine_case(rt, actor)
    recalled = cases.recall_case(
        rt, actor=actor("operator"), case_id=case.id, reason="是建筑垃圾，不是生活垃圾"
    )
    assert recalled.state == "registered"
    assert recalled.department is None
    assert recalled.machine_dispatch is None
    assert "dispatch" in recalled.allowed_actions
    [pending] = _examples(rt, actor, case.id)
    assert (pending.source, pending.label, pending.doubtful) == ("recall", "E-01-02", True)
    again = cases.dispatch_case(
        rt, actor=actor("dispatcher"), case_id=case.id, category_code="E-01-03"
    )
    assert again.state == "dispatched"
    assert again.category is not None
    assert again.category.code == "E-01-03"
    assert again.machine_dispatch is None
    # Both were recorded at the same (frozen) time: tell them apart by their source.
    by_source = {e.source: e for e in _examples(rt, actor, case.id)}
    assert sorted(by_source) == ["correction", "recall"]
    settled, correction = by_source["recall"], by_source["correction"]
    assert (settled.source, settled.label, settled.machine_label, settled.doubtful) == (
        "recall",
        "E-01-03",
        "E-01-02",
        False,
    )
    assert (correction.source, correction.label, correction.machine_label) == (
        "correction",
        "E-01-03",
        "E-01-02",
    )
    assert correction.actor == "dispatcher"
    assert correction.title == CONFIDENT_TITLE
    assert correction.text == CONFIDENT_TEXT
    steps = cases.timeline(rt, actor=actor("operator"), case_id=case.id)
    assert [s.action for s in steps] == ["report", "register", "dispatch", "recall", "dispatch"]
    assert steps[3].note == "是建筑垃圾，不是生活垃圾"
    assert steps[3].data["machine"]["label"] == "E-01-02"


def test_a_return_of_a_machine_dispatch_is_doubtful_until_dispatched_again(
    rt: Runtime, actor: ActorFn
) -> None:
    case = _machine_case(rt, actor)
    cases.return_case(rt, actor=actor(handler_of(case)), case_id=case.id, reason="不归我们管")
    [pending] = _examples(rt, actor, case.id)
    assert (pending.source, pending.label, pending.machine_label, pending.doubtful) == (
        "return",
        "E-01-02",
        "E-01-02",
        True,
    )
    counts = examples.count_examples(rt, actor=actor("admin"))
    assert counts.by_source["return"] >= 1
    assert counts.doubtful >= 1
    # The category was right, the routing wrong: the label stands, the doubt is lifted.
    cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=case.id)
    [settled] = _examples(rt, actor, case.id)
    assert (settled.label, settled.machine_label, settled.doubtful) == ("E-01-02", None, False)


def test_a_person_registering_records_the_label_and_the_machine_when_it_differed(
    rt: Runtime, actor: ActorFn
) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    suggested = brain.top_label(rt, case.id)
    assert suggested is not None
    cases.register_case(
        rt, actor=actor("operator"), case_id=case.id, category_code="B-01-03", dispatch=True
    )
    [example] = _examples(rt, actor, case.id)
    assert (example.source, example.label, example.actor) == ("correction", "B-01-03", "operator")
    assert example.machine_label == (suggested if suggested != "B-01-03" else None)
    # Replaying the case's events records nothing twice.
    assert examples.record_examples(rt, case_ids=[case.id], machine_tops=brain.top_labels) == 0
    assert len(_examples(rt, actor, case.id)) == 1


def test_a_reporters_category_kept_at_registration_is_a_plain_label(
    rt: Runtime, actor: ActorFn
) -> None:
    wire(rt, auto_dispatch=False)
    case = report(rt, actor, category="E-01-02", title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    cases.register_case(rt, actor=actor("operator"), case_id=case.id)
    [example] = _examples(rt, actor, case.id)
    assert (example.source, example.label, example.machine_label) == (
        "registered",
        "E-01-02",
        None,
    )
    page = examples.list_examples(
        rt, actor=actor("admin"), params=PageParams(), source="registered", label="E-01-02"
    )
    assert case.id in {e.case_id for e in page.items}
    none = examples.list_examples(
        rt, actor=actor("admin"), params=PageParams(), source="return", label="E-01-02"
    )
    assert case.id not in {e.case_id for e in none.items}


def test_recall_needs_a_reason_the_permission_and_the_area(rt: Runtime, actor: ActorFn) -> None:
    case = _machine_case(rt, actor)
    with pytest.raises(ValidationFailed) as blank:
        cases.recall_case(rt, actor=actor("operator"), case_id=case.id, reason="  ")
    assert blank.value.fields[0].field == "reason"
    for who in ("leader", "citizen", handler_of(case)):
        with pytest.raises(PermissionDenied):
            cases.recall_case(rt, actor=actor(who), case_id=case.id, reason="错了")
    make_user(rt, actor, "dispatcher-990102", "dispatcher", area="990102")
    with pytest.raises(PermissionDenied):
        cases.recall_case(rt, actor=actor("dispatcher-990102"), case_id=case.id, reason="错了")
    assert cases.get_case(rt, actor=actor("operator"), case_id=case.id).state == "dispatched"


def test_examples_are_for_admins_and_data_officers(rt: Runtime, actor: ActorFn) -> None:
    for who in ("operator", "dispatcher", "leader", "citizen"):
        with pytest.raises(PermissionDenied):
            examples.list_examples(rt, actor=actor(who), params=PageParams())
        with pytest.raises(PermissionDenied):
            examples.count_examples(rt, actor=actor(who))
    with pytest.raises(ValidationFailed):
        examples.list_examples(rt, actor=actor("admin"), params=PageParams(), source="guess")


def test_a_recalled_case_gets_a_fresh_dispatch_limit(
    rt: Runtime, actor: ActorFn, clock: Any
) -> None:
    case = _machine_case(rt, actor)
    clock.advance(hours=3)
    recalled = cases.recall_case(rt, actor=actor("operator"), case_id=case.id, reason="类别不对")
    assert recalled.due.stage == "dispatch"
    assert recalled.due.status == "ok"
    assert recalled.due.dispatch_by is not None
    assert recalled.due.dispatch_by > rt.clock.now()


def _registered(rt: Runtime, actor: ActorFn, count: int) -> list[Any]:
    """Cases registered by a person while nothing recorded examples (triage not wired)."""
    out = []
    for _ in range(count):
        case = report(
            rt, actor, category="E-01-02", title=CONFIDENT_TITLE, description=CONFIDENT_TEXT
        )
        out.append(cases.register_case(rt, actor=actor("operator"), case_id=case.id))
    return out


def test_a_batch_of_cases_is_recorded_in_the_same_statements_as_one(
    rt: Runtime, actor: ActorFn
) -> None:
    one, *many = _registered(rt, actor, 5)
    with count_statements(rt) as alone:
        assert examples.record_examples(rt, case_ids=[one.id], machine_tops=brain.top_labels) == 1
    ids = [case.id for case in many]
    with count_statements(rt) as together:
        assert examples.record_examples(rt, case_ids=ids, machine_tops=brain.top_labels) == 4
    assert len(together) == len(alone)
    for case in many:
        [example] = _examples(rt, actor, case.id)
        assert (example.source, example.label, example.actor) == (
            "registered",
            "E-01-02",
            "operator",
        )
        assert (example.title, example.text) == (CONFIDENT_TITLE, CONFIDENT_TEXT)
    # Nothing new: two reads, no transaction.
    with count_statements(rt) as again:
        assert examples.record_examples(rt, case_ids=ids, machine_tops=brain.top_labels) == 0
    assert not [s for s in again if s.startswith(("INSERT", "UPDATE"))]


def test_a_case_recorded_meanwhile_is_not_recorded_twice(rt: Runtime, actor: ActorFn) -> None:
    first, raced, last = _registered(rt, actor, 3)

    def tops_after_the_other_worker(rt: Runtime, ids: list[Any]) -> dict[Any, str]:
        # Runs between the check for news and the write, as another worker's write could.
        assert examples.record_examples(rt, case_ids=[raced.id], machine_tops=brain.top_labels) == 1
        return brain.top_labels(rt, ids)

    ids = [first.id, raced.id, last.id]
    assert examples.record_examples(rt, case_ids=ids, machine_tops=tops_after_the_other_worker) == 2
    for case in (first, raced, last):
        assert len(_examples(rt, actor, case.id)) == 1


def test_a_conflict_in_the_batch_costs_only_the_case_in_conflict(
    rt: Runtime, actor: ActorFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, raced, last = _registered(rt, actor, 3)
    write = examples._write
    calls: list[int] = []

    def racing_write(rt: Runtime, replays: dict[Any, Any], texts: dict[Any, Any]) -> int:
        calls.append(len(replays))
        if len(calls) == 1:
            # On PostgreSQL another worker can commit the same entry after this batch read
            # what was recorded and before it inserts: the insert then fails as here.
            examples.record_examples(rt, case_ids=[raced.id], machine_tops=brain.top_labels)
            raise IntegrityError("INSERT", {}, Exception("duplicate key"))
        return write(rt, replays, texts)

    monkeypatch.setattr(examples, "_write", racing_write)
    ids = [first.id, raced.id, last.id]
    assert examples.record_examples(rt, case_ids=ids, machine_tops=brain.top_labels) == 2
    assert calls == [3, 1, 1, 1, 1]  # the batch, the other worker's, then each case alone
    for case in (first, raced, last):
        assert len(_examples(rt, actor, case.id)) == 1
