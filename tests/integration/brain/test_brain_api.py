"""The brain routes over HTTP: who may see a triage, ask for suggestions, read the examples,
recall a dispatch; bad input names the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.brain import service as brain
from cityops.cases import service as cases
from cityops.cases.schemas import CaseOut
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.brain import CONFIDENT_TEXT, CONFIDENT_TITLE, UNSURE_TEXT, UNSURE_TITLE, wire
from factories.cases import handler_of, report

ActorFn = Callable[[str], Any]


def test_the_triage_of_a_case_for_those_who_dispatch(rt: Runtime, actor: ActorFn, api: Api) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    for who in ("operator", "dispatcher", "admin"):
        answer = api.get(who, f"/api/v1/cases/{case.id}/triage")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["decision"] == "suggested"
        assert body["model"] == "keywords"
        first = body["suggestions"][0]
        assert set(first["category"]) == {"code", "name_zh", "name_en"}
        assert 0 < first["confidence"] < body["threshold"]
    for who in ("citizen", "leader", "dataofficer", "gridworker"):
        error(api.get(who, f"/api/v1/cases/{case.id}/triage"), 403)


def test_a_waiting_report_not_triaged_yet_is_triaged_when_asked(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    # Reported while nothing listened: as when a dispatcher opens it before the queue got to it.
    case = report(rt, actor, category=None, title=UNSURE_TITLE, description=UNSURE_TEXT)
    assert brain.triage_count(rt) == 0
    answer = api.get("dispatcher", f"/api/v1/cases/{case.id}/triage")
    assert answer.status_code == 200, answer.text
    assert answer.json()["decision"] == "suggested"
    assert brain.triage_count(rt) == 1
    assert api.get("dispatcher", f"/api/v1/cases/{case.id}/triage").json() == answer.json()
    error(api.get("citizen", f"/api/v1/cases/{case.id}/triage"), 403)
    assert brain.triage_count(rt) == 1


def test_a_case_never_triaged_or_unknown_is_not_found(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = report(rt, actor, category="E-01-02", title=UNSURE_TITLE, description=UNSURE_TEXT)
    cases.register_case(rt, actor=actor("operator"), case_id=case.id)
    error(api.get("operator", f"/api/v1/cases/{case.id}/triage"), 404)
    assert brain.triage_count(rt) == 0
    error(api.get("operator", "/api/v1/cases/00000000-0000-0000-0000-000000000000/triage"), 404)
    assert fields(api.get("operator", "/api/v1/cases/not-a-uuid/triage")) == {
        "case_id": "uuid_parsing"
    }


def test_suggest_answers_the_top_categories(api: Api) -> None:
    answer = api.client.post(
        "/api/v1/brain/suggest",
        json={"title": CONFIDENT_TITLE, "text": CONFIDENT_TEXT},
        headers=api.headers("dispatcher"),
    )
    assert answer.status_code == 200, answer.text
    [top] = answer.json()["suggestions"]
    assert top["category"] == {
        "code": "E-01-02",
        "name_zh": "暴露垃圾",
        "name_en": "Exposed rubbish",
    }
    assert "路边垃圾" in top["words"]


@pytest.mark.parametrize("who", ["citizen", "leader", "dataofficer", "gridworker"])
def test_suggest_is_refused_to_those_who_do_not_dispatch(api: Api, who: str) -> None:
    answer = api.client.post(
        "/api/v1/brain/suggest", json={"text": CONFIDENT_TEXT}, headers=api.headers(who)
    )
    error(answer, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": " ", "text": ""}, "text"),
        ({"text": "垃圾", "k": 0}, "k"),
        ({"text": "垃圾", "k": 11}, "k"),
        ({"text": "x" * 5001}, "text"),
        ({"title": "x" * 201, "text": "垃圾"}, "title"),
        ({"text": "垃圾", "model": "other"}, "model"),
        ({"text": 5}, "text"),
    ],
)
def test_suggest_names_the_bad_field(api: Api, body: dict[str, Any], field: str) -> None:
    answer = api.client.post("/api/v1/brain/suggest", json=body, headers=api.headers("operator"))
    assert field in fields(answer)


def test_examples_over_http(rt: Runtime, actor: ActorFn, api: Api) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    recall = api.act("operator", case.id, "recall", {"reason": "类别不对"})
    assert recall.status_code == 200, recall.text
    assert recall.json()["state"] == "registered"
    listed = api.get("dataofficer", "/api/v1/brain/examples", source="recall", doubtful=True)
    assert listed.status_code == 200, listed.text
    assert str(case.id) in {e["case_id"] for e in listed.json()["items"]}
    counts = api.get("admin", "/api/v1/brain/examples/counts").json()
    assert counts["by_source"]["recall"] >= 1
    assert set(counts["by_source"]) == {"registered", "correction", "return", "recall"}
    for who in ("operator", "dispatcher", "citizen"):
        error(api.get(who, "/api/v1/brain/examples"), 403)
        error(api.get(who, "/api/v1/brain/examples/counts"), 403)
    assert "source" in fields(api.get("admin", "/api/v1/brain/examples", source="guess"))
    assert "sort" in fields(api.get("admin", "/api/v1/brain/examples", sort="title"))
    assert "page_size" in fields(api.get("admin", "/api/v1/brain/examples", page_size=0))


def test_recall_over_http_checks_reason_state_and_role(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    wire(rt)
    case = report(rt, actor, category=None, title=CONFIDENT_TITLE, description=CONFIDENT_TEXT)
    assert "recall" in api.case(case.id, "operator")["allowed_actions"]
    assert api.case(case.id, "operator")["machine_dispatch"]["label"] == "E-01-02"
    assert fields(api.act("operator", case.id, "recall", {})) == {"reason": "missing"}
    assert fields(api.act("operator", case.id, "recall", {"reason": ""})) == {"reason": "required"}
    error(api.act(handler_of(api_case(api, case.id)), case.id, "recall", {"reason": "x"}), 403)
    accepted = api.act(handler_of(api_case(api, case.id)), case.id, "accept", {})
    assert accepted.status_code == 200, accepted.text
    error(api.act("operator", case.id, "recall", {"reason": "晚了"}), 409)


def api_case(api: Api, case_id: Any) -> CaseOut:
    return CaseOut.model_validate(api.case(case_id))
