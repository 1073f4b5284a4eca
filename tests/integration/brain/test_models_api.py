"""The model routes over HTTP: who may list, read, retrain, upload, activate and roll back;
bad input names the field; a large retraining answers 202 and runs in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from cityops.brain import modelfile, training
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.models import history, messages

ActorFn = Callable[[str], Any]
MANAGERS = ("admin", "dataofficer")
OTHERS = ("operator", "dispatcher", "handler-shuiwu", "leader", "citizen", "gridworker")


def _upload(api: Api, who: str, data: bytes, note: str = "") -> Any:
    return api.client.post(
        "/api/v1/brain/models",
        files={"file": ("m.model", data, "application/octet-stream")},
        data={"note": note},
        headers=api.headers(who),
    )


def _model(labels: tuple[str, ...] = ("E-01-02", "E-05-21")) -> bytes:
    """A model of the demo's texts of E-01-02 and E-05-21, labelled ``labels``."""
    rows = [
        training.Example(t, x, label)
        for code, label in zip(("E-01-02", "E-05-21"), labels, strict=True)
        for t, x in messages(code, 6)
    ]
    return modelfile.dumps(training.train(rows))


def test_retrain_list_read_activate_and_roll_back(rt: Runtime, actor: ActorFn, api: Api) -> None:
    history(rt, actor, per_code=8)
    made = api.client.post(
        "/api/v1/brain/models/retrain", json={"activate": "never"}, headers=api.headers("admin")
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "trained"
    assert "data" not in made.json()
    uploaded = _upload(api, "dataofficer", _model(), note="from the file")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["version"] == 2
    for who in MANAGERS:
        listed = api.get(who, "/api/v1/brain/models", sort="version")
        assert listed.status_code == 200, listed.text
        assert [m["version"] for m in listed.json()["items"]] == [1, 2]
        assert listed.json()["active"] is None
    one = api.get("dataofficer", "/api/v1/brain/models/1").json()
    assert set(one["evaluation"]["per_class"]) == {"A-01-01", "E-01-02", "E-05-21"}
    on = api.client.post("/api/v1/brain/models/1/activate", headers=api.headers("dataofficer"))
    assert on.status_code == 200, on.text
    assert on.json()["status"] == "active"
    two = api.client.post(
        "/api/v1/brain/models/2/activate", json={"note": "try it"}, headers=api.headers("admin")
    )
    assert (two.json()["status"], two.json()["note"]) == ("active", "try it")
    back = api.client.post("/api/v1/brain/models/rollback", headers=api.headers("admin"))
    assert back.status_code == 200, back.text
    assert back.json()["version"] == 1
    assert api.get("admin", "/api/v1/brain/models").json()["active"] == 1
    audit = api.get("admin", "/api/v1/audit", subject_type="brain_model", page_size=50).json()
    assert {r["action"] for r in audit["items"]} == {
        "brain:model:trained",
        "brain:model:uploaded",
        "brain:model:activated",
        "brain:model:rolled_back",
    }


def test_every_route_is_refused_to_other_roles(api: Api) -> None:
    for who in OTHERS:
        error(api.get(who, "/api/v1/brain/models"), 403)
        error(api.get(who, "/api/v1/brain/models/1"), 403)
        error(
            api.client.post("/api/v1/brain/models/retrain", json={}, headers=api.headers(who)), 403
        )
        error(_upload(api, who, b"x"), 403)
        error(api.client.post("/api/v1/brain/models/1/activate", headers=api.headers(who)), 403)
        error(api.client.post("/api/v1/brain/models/rollback", headers=api.headers(who)), 403)
    error(api.get(None, "/api/v1/brain/models"), 401)


def test_bad_input_names_the_field(rt: Runtime, actor: ActorFn, api: Api) -> None:
    admin = api.headers("admin")
    post = api.client.post
    assert fields(
        post("/api/v1/brain/models/retrain", json={"activate": "sometimes"}, headers=admin)
    ) == {"activate": "literal_error"}
    assert fields(post("/api/v1/brain/models/retrain", json={"colour": 1}, headers=admin)) == {
        "colour": "extra_forbidden"
    }
    assert fields(_upload(api, "admin", b"")) == {"file": "required"}
    assert fields(_upload(api, "admin", b"CITYOPS-MODEL\n{broken")) == {"file": "not_a_model"}
    assert fields(_upload(api, "admin", _model(("E-01-02", "XX-99")))) == {"file": "unknown_labels"}
    assert fields(post("/api/v1/brain/models", headers=admin)) == {"file": "missing"}
    assert fields(api.get("admin", "/api/v1/brain/models/v1")) == {"version": "int_parsing"}
    assert fields(api.get("admin", "/api/v1/brain/models", sort="size")) == {"sort": "invalid"}
    error(api.get("admin", "/api/v1/brain/models/9"), 404)
    error(post("/api/v1/brain/models/9/activate", headers=admin), 404)
    assert error(post("/api/v1/brain/models/rollback", headers=admin), 409)["code"] == "no_previous"
    refused = error(post("/api/v1/brain/models/retrain", json={}, headers=admin), 409)
    assert refused["code"] == "too_few_examples"


def _wait_for(api: Api, run_id: str) -> dict[str, Any]:
    """The run once it is no longer running (functional deadline: the background job ends)."""
    deadline = time.monotonic() + 120
    while True:
        run = api.get("admin", f"/api/v1/brain/runs/{run_id}").json()
        if run["status"] != "running" or time.monotonic() > deadline:
            return run
        time.sleep(0.2)


def test_a_large_retraining_runs_in_the_background(rt: Runtime, actor: ActorFn, api: Api) -> None:
    history(rt, actor, per_code=6)
    rt.settings = rt.settings.model_copy(update={"brain_retrain_sync_max": 10})
    started = api.client.post(
        "/api/v1/brain/models/retrain", json={"note": "big"}, headers=api.headers("admin")
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert (body["status"], body["messages"]) == ("started", 18)
    run = _wait_for(api, body["run_id"])
    assert (run["status"], run["version"], run["trigger"]) == ("succeeded", 1, "background")
    assert (run["started_by"], run["messages"], run["note"], run["error"]) == (
        "admin",
        18,
        "big",
        "",
    )
    assert run["finished_at"] is not None
    listed = api.get("admin", "/api/v1/brain/models").json()
    assert listed["total"] == 1
    assert listed["active"] == 1


def test_a_failed_background_retraining_says_why(
    rt: Runtime, actor: ActorFn, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training breaks (here: the disk fills up while it works): the run is marked failed
    with the reason, the audit log has it, no version is stored, and the next one may start."""
    history(rt, actor, per_code=6)
    rt.settings = rt.settings.model_copy(update={"brain_retrain_sync_max": 10})

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training, "train", broken)
    started = api.client.post("/api/v1/brain/models/retrain", json={}, headers=api.headers("admin"))
    assert started.status_code == 202, started.text
    run = _wait_for(api, started.json()["run_id"])
    assert run["status"] == "failed"
    assert "No space left on device" in run["error"]
    assert run["version"] is None
    failed = api.get("dataofficer", "/api/v1/brain/runs", status="failed").json()
    assert [r["id"] for r in failed["items"]] == [run["id"]]
    assert api.get("admin", "/api/v1/brain/runs", status="running").json()["total"] == 0
    audit = api.get("admin", "/api/v1/audit", subject_type="brain_run").json()["items"]
    assert [(a["action"], a["subject_id"]) for a in audit] == [
        ("brain:model:retrain_failed", run["id"])
    ]
    assert api.get("admin", "/api/v1/brain/models").json()["total"] == 0
    monkeypatch.undo()
    again = api.client.post("/api/v1/brain/models/retrain", json={}, headers=api.headers("admin"))
    assert _wait_for(api, again.json()["run_id"])["status"] == "succeeded"


def test_runs_are_for_model_managers_and_bad_queries_name_the_field(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    for who in OTHERS:
        error(api.get(who, "/api/v1/brain/runs"), 403)
    assert fields(api.get("admin", "/api/v1/brain/runs", status="done")) == {
        "status": "literal_error"
    }
    assert fields(api.get("admin", "/api/v1/brain/runs", sort="who")) == {"sort": "invalid"}
    assert fields(api.get("admin", "/api/v1/brain/runs/42")) == {"run_id": "uuid_parsing"}
    error(api.get("admin", "/api/v1/brain/runs/00000000-0000-0000-0000-000000000042"), 404)
