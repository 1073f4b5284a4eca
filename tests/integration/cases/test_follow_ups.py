"""Smaller rules of the loop: following a merged duplicate, literal search, reopen ratings,
and aware times on the audit list."""

from __future__ import annotations

from cityops.cases import service
from cityops.core.runtime import Runtime
from factories.api import Api, error
from factories.cases import ActorFn, make_case, report


def test_a_citizen_follows_the_case_their_duplicate_was_merged_into(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    surviving = make_case(rt, actor, "dispatched", reporter="gridworker")
    duplicate = report(rt, actor)
    service.merge_case(rt, actor=actor("operator"), case_id=duplicate.id, into=surviving.id)

    listed = {c["id"] for c in api.cases("citizen")["items"]}

    assert listed == {str(surviving.id), str(duplicate.id)}
    assert api.get("citizen", f"/api/v1/cases/{surviving.id}").status_code == 200


def test_text_search_takes_wildcards_literally(rt: Runtime, actor: ActorFn, api: Api) -> None:
    percent = report(rt, actor, description="噪音超标100%无法入睡")
    report(rt, actor, description="噪音超标1000倍")

    found = api.cases("operator", q="100%")["items"]

    assert [c["id"] for c in found] == [str(percent.id)]
    assert api.cases("operator", q="_")["total"] == 0


def test_reopening_clears_the_rating_for_a_fresh_one(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "evaluated")
    assert case.rating is not None

    reopened = api.act("operator", case.id, "reopen", {"reason": "市民反映问题复发"})

    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["rating"] is None
    assert [s["action"] for s in api.timeline(case.id)][-2:] == ["evaluate", "reopen"]


def test_the_audit_list_wants_times_with_an_offset(api: Api) -> None:
    naive = api.get("admin", "/api/v1/audit", since="2026-03-01T00:00:00")
    assert error(naive, 422)["fields"][0]["field"] == "since"
    aware = api.get("admin", "/api/v1/audit", since="2026-03-01T00:00:00+08:00")
    assert aware.status_code == 200
