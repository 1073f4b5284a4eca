"""Model lifecycle: retrain from the city's own categorised cases, figures stored, activation and
rollback change what triage uses, ``if_better`` keeps a worse model inactive, uploads with
unknown labels and too few examples are refused, the scheduled job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from cityops.brain import modelfile, runs, training, versions
from cityops.brain import service as brain
from cityops.brain.models import ModelVersion
from cityops.cases import service as cases
from cityops.core.audit.models import AuditRecord
from cityops.core.clock import FrozenClock
from cityops.core.errors import Conflict, PermissionDenied, ValidationFailed
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.brain import wire
from factories.cases import report
from factories.models import CODES, history, messages, quiet_duplicates, registered

ActorFn = Callable[[str], Any]


def test_retrain_stores_a_version_with_its_figures_and_activates_the_first(
    rt: Runtime, actor: ActorFn
) -> None:
    history(rt, actor, per_code=8)
    quiet_duplicates(rt)
    report(rt, actor, category=None, title="反映问题", description="楼下有人摆摊卖水果")
    out = versions.retrain_model(rt, actor=actor("dataofficer"))
    assert out.version == 1
    assert out.source == "retrain"
    assert out.status == "active"
    assert out.created_by == "dataofficer"
    assert out.training["labelled"] == 24
    assert out.training["unlabelled"] == 1
    assert out.training["per_label"] == dict.fromkeys(sorted(CODES), 8)
    assert out.training["tree_examples"] > 0
    assert out.evaluation["n"] == 6  # 20 % of 8 per category, held out
    assert set(out.evaluation["per_class"]) == set(CODES)
    assert out.accuracy == out.evaluation["accuracy"]
    assert out.macro_f1 is not None
    assert out.macro_f1 > 0.5
    assert sorted(out.labels) == sorted(CODES)
    assert out.size_bytes > 0
    with rt.db.read() as session:
        row = session.scalar(select(ModelVersion).where(ModelVersion.version == 1))
        assert row is not None
        stored = modelfile.loads(row.data)
        tags = list(
            session.scalars(
                select(AuditRecord.action).where(AuditRecord.subject_type == "brain_model")
            )
        )
    assert stored.labels == tuple(sorted(CODES))
    assert tags == ["brain:model:trained", "brain:model:activated"]
    listed = versions.list_models(rt, actor=actor("admin"), params=_page())
    assert (listed.total, listed.active) == (1, 1)
    assert versions.get_model(rt, actor=actor("admin"), version=1).macro_f1 == out.macro_f1


def test_the_active_model_answers_triage_and_rollback_goes_back(
    rt: Runtime, actor: ActorFn
) -> None:
    history(rt, actor, per_code=8)
    wire(rt, auto_dispatch=False)
    assert brain.model_name(brain.current_classifier(rt)) == "keywords"
    first = versions.retrain_model(rt, actor=actor("admin"), activate="never")
    assert first.status == "trained"
    assert brain.model_name(brain.current_classifier(rt)) == "keywords"
    versions.activate_model(rt, actor=actor("admin"), version=1)
    assert brain.model_name(brain.current_classifier(rt)) == "model-v1"
    title, text = messages("E-05-21", 1, seed=99)[0]
    case = report(rt, actor, category=None, title=title, description=text)
    triage = brain.get_triage(rt, actor=actor("dispatcher"), case_id=case.id)
    assert (triage.model, triage.model_version) == ("model-v1", 1)
    assert triage.suggestions[0].category.code == "E-05-21"

    second = versions.retrain_model(rt, actor=actor("admin"), activate="always")
    assert second.status == "active"
    assert second.previous_version == 1
    assert versions.get_model(rt, actor=actor("admin"), version=1).status == "retired"
    assert brain.model_name(brain.current_classifier(rt)) == "model-v2"

    back = versions.rollback_model(rt, actor=actor("admin"))
    assert (back.version, back.status) == (1, "active")
    assert versions.get_model(rt, actor=actor("admin"), version=2).status == "retired"
    assert brain.model_name(brain.current_classifier(rt)) == "model-v1"
    with pytest.raises(Conflict, match="no earlier version"):
        versions.rollback_model(rt, actor=actor("admin"))
    with pytest.raises(Conflict, match="already active"):
        versions.activate_model(rt, actor=actor("admin"), version=1)


def test_another_worker_notices_a_new_active_version(rt: Runtime, actor: ActorFn) -> None:
    history(rt, actor, per_code=8)
    assert versions.active_classifier(rt) is None
    versions.retrain_model(rt, actor=actor("admin"), activate="always")
    rt.caches["brain.model"] = (0.0, None)  # what a worker that last looked long ago holds
    found = versions.active_classifier(rt)
    assert found is not None
    assert found.version == 1


def test_if_better_keeps_a_worse_model_inactive(rt: Runtime, actor: ActorFn) -> None:
    history(rt, actor, per_code=8)
    good = versions.retrain_model(rt, actor=actor("admin"))
    assert good.status == "active"
    # Operators file a batch of noise reports under the wrong categories.
    wrong = [
        (title, text, CODES[(index + 1) % len(CODES)])
        for index, code in enumerate(CODES)
        for title, text in messages(code, 8, seed=3)
    ]
    registered(rt, actor, wrong)
    worse = versions.retrain_model(rt, actor=actor("admin"), activate="if_better")
    assert good.macro_f1 is not None
    assert worse.macro_f1 is not None
    assert worse.macro_f1 < good.macro_f1
    assert worse.status == "trained"
    assert versions.list_models(rt, actor=actor("admin"), params=_page()).active == 1


def test_settled_examples_win_and_doubtful_ones_are_left_out(rt: Runtime, actor: ActorFn) -> None:
    history(rt, actor, per_code=6)
    wire(rt)
    quiet_duplicates(rt)
    # A report nobody has categorised is unlabelled text; one a person corrected is labelled
    # with the correction.
    report(rt, actor, category=None, title="反映问题", description="这里有点情况")
    title, text = messages("A-01-01", 1, seed=5)[0]
    corrected = report(rt, actor, category="E-01-02", title=title, description=text)
    cases.register_case(rt, actor=actor("operator"), case_id=corrected.id, category_code="A-01-01")
    found = versions.training_set(rt)
    assert len(found.labelled) == 19
    assert len(found.unlabelled) == 1
    assert sum(1 for e in found.labelled if e.label == "A-01-01") == 7
    assert found.doubtful == 0


def test_too_few_examples_are_refused(rt: Runtime, actor: ActorFn) -> None:
    history(rt, actor, per_code=5, codes=("E-01-02",))
    history(rt, actor, per_code=4, codes=("E-05-21",))
    with pytest.raises(Conflict, match="too few labelled cases") as caught:
        versions.retrain_model(rt, actor=actor("admin"))
    assert caught.value.code == "too_few_examples"
    assert versions.list_models(rt, actor=actor("admin"), params=_page()).total == 0


def test_an_upload_is_stored_inactive_and_unknown_labels_are_refused(
    rt: Runtime, actor: ActorFn
) -> None:
    rows = [training.Example(t, x, code) for code in CODES[:2] for t, x in messages(code, 6)]
    good = modelfile.dumps(training.train(rows))
    out = versions.upload_model(rt, actor=actor("dataofficer"), data=good, note="from the file")
    assert (out.version, out.source, out.status) == (1, "upload", "trained")
    assert out.training["labelled"] == 12
    assert out.note == "from the file"
    named = [training.Example(t, x, label) for t, x, label in _renamed(rows)]
    with pytest.raises(ValidationFailed) as caught:
        versions.upload_model(rt, actor=actor("admin"), data=modelfile.dumps(training.train(named)))
    [field] = caught.value.fields
    assert (field.field, field.code) == ("file", "unknown_labels")
    assert "垃圾" in field.message
    with pytest.raises(ValidationFailed) as damaged:
        versions.upload_model(rt, actor=actor("admin"), data=b"not a model")
    assert damaged.value.fields[0].code == "not_a_model"


def test_each_command_is_refused_to_other_roles(rt: Runtime, actor: ActorFn) -> None:
    for who in ("operator", "dispatcher", "handler-shuiwu", "leader", "citizen", "gridworker"):
        someone = actor(who)
        with pytest.raises(PermissionDenied):
            versions.retrain_model(rt, actor=someone)
        with pytest.raises(PermissionDenied):
            versions.upload_model(rt, actor=someone, data=b"x")
        with pytest.raises(PermissionDenied):
            versions.activate_model(rt, actor=someone, version=1)
        with pytest.raises(PermissionDenied):
            versions.rollback_model(rt, actor=someone)
        with pytest.raises(PermissionDenied):
            versions.list_models(rt, actor=someone, params=_page())
        with pytest.raises(PermissionDenied):
            versions.get_model(rt, actor=someone, version=1)


def test_the_scheduled_job_retrains_and_skips_when_too_few(
    rt: Runtime, actor: ActorFn, clock: FrozenClock
) -> None:
    rt.settings = rt.settings.model_copy(update={"brain_retrain_hours": 6})
    brain.register_jobs(rt)
    assert versions.scheduled_retrain(rt) is None  # no labelled cases yet: skipped, no error
    history(rt, actor, per_code=8)
    ran = rt.scheduler.run_due(now=10**9)
    assert "brain.retrain" in ran
    listed = versions.list_models(rt, actor=actor("admin"), params=_page())
    assert listed.total == 1
    assert listed.items[0].created_by == "system"
    assert listed.items[0].note == "scheduled"
    assert listed.active == 1
    # Another worker's run an hour later finds that version and trains nothing.
    clock.advance(hours=1)
    assert versions.scheduled_retrain(rt) is None
    clock.advance(hours=3)
    again = versions.scheduled_retrain(rt)
    assert again is not None
    assert again.version == 2


def test_no_scheduled_job_when_switched_off(rt: Runtime) -> None:
    rt.settings = rt.settings.model_copy(update={"brain_retrain_hours": 0})
    brain.register_jobs(rt)
    assert "brain.retrain" not in rt.scheduler.run_due(now=10**9)


def _renamed(rows: list[training.Example]) -> list[tuple[str, str, str]]:
    names = {"E-01-02": "暴露垃圾", "E-05-21": "占道经营"}
    return [(e.title, e.text, names[e.label]) for e in rows]


def _page() -> PageParams:
    return PageParams(page=1, page_size=20)


def test_a_trained_model_dispatches_a_confident_report(rt: Runtime, actor: ActorFn) -> None:
    history(rt, actor, per_code=8)
    versions.retrain_model(rt, actor=actor("admin"))
    wire(rt, auto_dispatch=True, threshold=0.5)
    title, text = messages("E-01-02", 1, seed=42)[0]
    case = report(rt, actor, category=None, title=title, description=text)
    triage = brain.get_triage(rt, actor=actor("dispatcher"), case_id=case.id)
    assert (triage.model, triage.model_version, triage.decision) == ("model-v1", 1, "dispatched")
    now = cases.get_case(rt, actor=actor("operator"), case_id=case.id)
    assert now.machine_dispatch is not None
    assert (now.machine_dispatch.model, now.machine_dispatch.label) == ("model-v1", "E-01-02")


def test_one_retraining_at_a_time_and_a_lost_run_is_abandoned(
    rt: Runtime, actor: ActorFn, clock: FrozenClock
) -> None:
    """A run in progress (in any process: the database holds the one running row) refuses a
    second; a run silent for six hours lost its process and no longer blocks."""
    history(rt, actor, per_code=8)
    admin = actor("admin")
    lost = runs.begin_run(rt, admin, "background", "if_better", "", 40)
    with pytest.raises(Conflict, match="already running") as caught:
        versions.retrain_model(rt, actor=admin)
    assert caught.value.code == "busy"
    assert versions.scheduled_retrain(rt) is None  # the schedule skips it quietly
    clock.advance(hours=7)
    [shown] = runs.list_runs(rt, actor=admin, params=_page(), status=None).items
    assert (shown.id, shown.status) == (lost, "abandoned")  # no longer blocks the page
    assert runs.get_run(rt, actor=admin, run_id=lost).status == "abandoned"
    assert runs.list_runs(rt, actor=admin, params=_page(), status="running").total == 0
    assert runs.list_runs(rt, actor=admin, params=_page(), status="abandoned").total == 1
    out = versions.retrain_model(rt, actor=admin, trigger="command")
    listed = runs.list_runs(rt, actor=admin, params=_page(), status=None).items
    assert [(r.status, r.version, r.trigger) for r in listed] == [
        ("succeeded", out.version, "command"),
        ("abandoned", None, "background"),
    ]
    assert listed[1].id == lost
    assert "did not finish" in listed[1].error


def test_the_database_keeps_one_active_version(rt: Runtime, actor: ActorFn) -> None:
    """Two activations committing at the same moment cannot both win: the second row marked
    active is refused by the database."""
    rows = [training.Example(t, x, code) for code in CODES[:2] for t, x in messages(code, 6)]
    data = modelfile.dumps(training.train(rows))
    first = versions.upload_model(rt, actor=actor("admin"), data=data)
    second = versions.upload_model(rt, actor=actor("admin"), data=data)
    versions.activate_model(rt, actor=actor("admin"), version=first.version)
    with pytest.raises(IntegrityError), rt.db.transaction() as tx:
        tx.session.execute(
            update(ModelVersion)
            .where(ModelVersion.version == second.version)
            .values(status="active")
        )
    listed = versions.list_models(rt, actor=actor("admin"), params=_page())
    assert listed.active == first.version
    assert [m.status for m in listed.items] == ["trained", "active"]


def test_runs_are_read_by_model_managers_only(rt: Runtime, actor: ActorFn) -> None:
    for who in ("operator", "dispatcher", "handler-shuiwu", "leader", "citizen", "gridworker"):
        with pytest.raises(PermissionDenied):
            runs.list_runs(rt, actor=actor(who), params=_page())
    assert runs.list_runs(rt, actor=actor("dataofficer"), params=_page()).total == 0


def test_a_retraining_reads_the_newest_cases_only(
    rt: Runtime, actor: ActorFn, clock: FrozenClock
) -> None:
    """A city with years of history trains on its newest CITYOPS_BRAIN_RETRAIN_MAX cases."""
    history(rt, actor, per_code=8)
    clock.advance(hours=1)
    quiet_duplicates(rt)
    newest = [report(rt, actor, category=None, description=f"第{n}处路面坑洼") for n in range(12)]
    everything = cases.training_texts(rt)
    rt.settings = rt.settings.model_copy(update={"brain_retrain_max": 20})
    kept = cases.training_texts(rt, limit=rt.settings.brain_retrain_max)
    assert len(everything) == 36
    assert kept == everything[-20:]
    assert {case_id for case_id, *_ in kept} >= {case.id for case in newest}
    found = versions.training_set(rt)
    assert len(found.unlabelled) == 12
    assert len(found.labelled) + sum(found.left_out.values()) == 8  # the rest of the 20
