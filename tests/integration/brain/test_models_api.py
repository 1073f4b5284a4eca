"""The model routes over HTTP: who may list, read, retrain, upload, activate and roll back;
bad input names the field; a large retraining answers 202 and runs in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

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


def test_a_large_retraining_runs_in_the_background(rt: Runtime, actor: ActorFn, api: Api) -> None:
    history(rt, actor, per_code=6)
    rt.settings = rt.settings.model_copy(update={"brain_retrain_sync_max": 10})
    started = api.client.post("/api/v1/brain/models/retrain", json={}, headers=api.headers("admin"))
    assert started.status_code == 202, started.text
    assert started.json() == {"status": "started", "messages": 18}
    deadline = time.monotonic() + 120  # functional deadline: the background job finishes
    while time.monotonic() < deadline:
        listed = api.get("admin", "/api/v1/brain/models").json()
        if listed["total"]:
            break
        time.sleep(0.2)
    assert listed["total"] == 1
    assert listed["active"] == 1
