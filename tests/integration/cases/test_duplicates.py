"""Duplicate reports: proposed or merged at intake (and at registration with a category), the
reporter following the surviving case, proposals listed and dismissed by the operators, the
per-category radius and window, and the indexed candidate search."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from cityops.cases import duplicates
from cityops.cases.directory import categories
from cityops.cases.duplicates import search_query
from cityops.cases.models import Case
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.cases import IN_GRID, make_case, report
from factories.db import count_statements
from factories.org import bearer, make_user

ActorFn = Callable[[str], Any]
LON, LAT = IN_GRID
FIRST = "人民路与五一路交叉口的井盖被偷了，晚上路过很危险"
REPEAT = "人民路五一路交叉口井盖被偷了，晚上很危险"  # the same words, shortened
PARAPHRASE = "五一路人民路交叉口井盖丢失，晚上路过危险"  # reworded: proposed, not merged
OTHER = "五一路口的垃圾桶满了好几天，没人清运"  # same place and category, other problem
# The same corner in nearly the same words, but a broken cover, not a stolen one: the
# characters alone read alike (cosine 0.81), the signature tells them apart.
BROKEN = "人民路与五一路交叉口的井盖破了个大洞，晚上路过很危险"
# About 30 m and 170 m north of IN_GRID (E-01-02's radius is 100 m, its window 48 h).
NEAR, FAR = 0.00027, 0.0015


@pytest.fixture
def merging(rt: Runtime) -> Runtime:
    rt.settings = rt.settings.model_copy(update={"duplicate_auto_merge": True})
    return rt


NUMBERS_BY_ID = re.compile(r"SELECT cases\.id, cases\.number\s+FROM cases\s+WHERE cases\.id IN")


def _body(
    description: str, *, lat: float = LAT, category: str | None = "E-01-02"
) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description, "location": {"lon": LON, "lat": lat}}
    if category:
        body["category_code"] = category
    return body


def _citizen(rt: Runtime, actor: ActorFn, api: Api, name: str) -> str:
    make_user(rt, actor, name, "citizen")
    api.logins[name] = bearer(rt, name)
    return name


@pytest.mark.parametrize("listed", [duplicates.MAX_LISTED_CELLS, 0], ids=["cells", "runs"])
def test_a_repeat_report_is_merged_into_the_open_case(
    merging: Runtime, actor: ActorFn, api: Api, monkeypatch: pytest.MonkeyPatch, listed: int
) -> None:
    # The search lists the cells; a radius spanning too many (near a pole) goes by runs.
    monkeypatch.setattr(duplicates, "MAX_LISTED_CELLS", listed)
    first = report(merging, actor, reporter="operator", description=FIRST)
    with count_statements(merging) as statements:
        response = api.report("citizen", _body(REPEAT, lat=LAT + NEAR))
    assert response.status_code == 201, response.text
    merged = response.json()
    assert merged["state"] == "merged"
    assert merged["merged_into"] == str(first.id)
    assert merged["merged_into_number"] == first.number
    # The answer takes the number from the case it was merged into, read for the merge.
    numbers = [s for s in statements if NUMBERS_BY_ID.match(s)]
    assert numbers == []

    target = api.case(first.id)
    assert target["duplicate_count"] == 1
    step = api.timeline(first.id)[-1]
    assert step["action"] == "merge"
    assert step["actor_role"] == "system"
    assert step["data"]["merged_case_number"] == merged["number"]
    assert step["data"]["score"] >= 0.85
    assert step["data"]["automatic"] is True
    own = api.timeline(merged["id"])[-1]
    assert own["action"] == "merge"
    assert own["data"]["into_number"] == first.number
    assert [a["action"] for a in api.audit(merged["id"], "cases:case:merged")]

    proposals = api._ok(api.get("operator", f"/api/v1/cases/{first.id}/duplicates"))
    assert [(p["status"], p["direction"]) for p in proposals] == [("merged", "later")]


def test_the_reporter_follows_the_surviving_case_and_no_one_else_does(
    merging: Runtime, actor: ActorFn, api: Api
) -> None:
    first = report(merging, actor, reporter="operator", description=FIRST)
    merged = api.report("citizen", _body(REPEAT, lat=LAT + NEAR)).json()
    mine = api.cases("citizen")["items"]
    assert {c["id"]: c["merged_into_number"] for c in mine}[merged["id"]] == first.number

    followed = api.case(first.id, who="citizen")
    assert followed["state"] == "reported"
    # Nothing of the hotline caller who reported the surviving case.
    assert followed["reporter_name"] is None
    assert followed["reporter_phone"] is None
    assert api.get("citizen", f"/api/v1/cases/{first.id}/timeline").status_code == 200

    stranger = _citizen(merging, actor, api, "citizen-unrelated")
    denied = api.get(stranger, f"/api/v1/cases/{first.id}")
    assert error(denied, 403)["code"] == "out_of_jurisdiction"


def test_a_similar_report_is_proposed_and_merged_by_hand(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    first = report(rt, actor, reporter="operator", description=FIRST)
    later = report(rt, actor, description=PARAPHRASE, lat=LAT + NEAR)
    assert later.state == "reported"
    proposals = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    assert len(proposals) == 1
    proposal = proposals[0]
    assert proposal["direction"] == "earlier"
    assert proposal["other_number"] == first.number
    assert 0.6 <= proposal["score"] < 0.85
    assert proposal["status"] == "proposed"
    assert set(proposal["components"]) == {"text", "distance_m", "hours"}
    assert 20 < proposal["components"]["distance_m"] < 40
    seen_from_first = api._ok(api.get("dispatcher", f"/api/v1/cases/{first.id}/duplicates"))
    assert [(p["id"], p["direction"]) for p in seen_from_first] == [(proposal["id"], "later")]

    merged = api.act("operator", later.id, "merge", {"into": str(first.id)})
    assert merged.status_code == 200, merged.text
    after = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    assert after[0]["status"] == "merged"


def _advance(clock: FrozenClock, hours: float) -> None:
    clock.advance(hours=hours)


@pytest.mark.parametrize(
    ("case", "kwargs", "hours"),
    [
        ("outside the radius", {"lat": LAT + FAR, "description": REPEAT}, 0),
        ("outside the window", {"lat": LAT + NEAR, "description": REPEAT}, 49),
        ("another category", {"category": "E-01-03", "description": REPEAT}, 0),
        ("another problem", {"lat": LAT + NEAR, "description": OTHER}, 0),
        ("another state of the object", {"lat": LAT + NEAR, "description": BROKEN}, 0),
    ],
)
def test_what_is_not_a_duplicate(
    merging: Runtime,
    actor: ActorFn,
    api: Api,
    clock: FrozenClock,
    case: str,
    kwargs: dict[str, Any],
    hours: float,
) -> None:
    first = report(merging, actor, reporter="operator", description=FIRST)
    _advance(clock, hours)
    later = report(merging, actor, **kwargs)
    assert later.state == "reported", case
    for case_id in (first.id, later.id):
        assert api._ok(api.get("operator", f"/api/v1/cases/{case_id}/duplicates")) == []


def test_a_closed_case_takes_no_duplicates(merging: Runtime, actor: ActorFn) -> None:
    make_case(merging, actor, "closed", description=FIRST)
    assert report(merging, actor, description=REPEAT, lat=LAT + NEAR).state == "reported"


def test_registration_with_a_category_runs_the_check(
    merging: Runtime, actor: ActorFn, api: Api
) -> None:
    first = report(merging, actor, reporter="operator", description=FIRST)
    later = report(merging, actor, description=REPEAT, lat=LAT + NEAR, category=None)
    assert later.state == "reported"
    response = api.act("operator", later.id, "register", {"category_code": "E-01-02"})
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "merged"
    assert response.json()["merged_into_number"] == first.number


def test_dismiss(rt: Runtime, actor: ActorFn, api: Api) -> None:
    first = report(rt, actor, reporter="operator", description=FIRST)
    later = report(rt, actor, description=PARAPHRASE, lat=LAT + NEAR)
    (proposal,) = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    url = f"/api/v1/cases/{first.id}/duplicates/{proposal['id']}/dismiss"
    response = api.client.post(url, headers=api.headers("operator"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "dismissed"
    assert response.json()["decided_at"] is not None
    records = api.audit(later.id, "cases:case:duplicate_dismissed")
    assert len(records) == 1
    again = api.client.post(url, headers=api.headers("operator"))
    assert error(again, 409)
    # Merging remains possible by hand: the operator decides.
    assert api.act("operator", later.id, "merge", {"into": str(first.id)}).status_code == 200


def test_dismiss_bad_input(rt: Runtime, actor: ActorFn, api: Api) -> None:
    first = report(rt, actor, reporter="operator", description=FIRST)
    later = report(rt, actor, description=PARAPHRASE, lat=LAT + NEAR)
    unrelated = report(rt, actor, description=OTHER, lat=LAT + FAR)
    (proposal,) = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    unknown = f"/api/v1/cases/{first.id}/duplicates/{unrelated.id}/dismiss"
    assert error(api.client.post(unknown, headers=api.headers("operator")), 404)
    wrong_case = f"/api/v1/cases/{unrelated.id}/duplicates/{proposal['id']}/dismiss"
    assert error(api.client.post(wrong_case, headers=api.headers("operator")), 404)
    bad_id = f"/api/v1/cases/{first.id}/duplicates/not-a-uuid/dismiss"
    assert "proposal_id" in fields(api.client.post(bad_id, headers=api.headers("operator")))
    assert error(api.get("operator", f"/api/v1/cases/{unrelated.number}/duplicates"), 422)


def test_permissions(rt: Runtime, actor: ActorFn, api: Api) -> None:
    first = make_case(rt, actor, "dispatched", reporter="operator", description=FIRST)
    later = report(rt, actor, description=PARAPHRASE, lat=LAT + NEAR)
    (proposal,) = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    listing = f"/api/v1/cases/{first.id}/duplicates"
    assert api.get("handler-chengguan-990101", listing).status_code == 200
    # The reporter and a handler of another department may not list proposals.
    assert error(api.get("citizen", f"/api/v1/cases/{later.id}/duplicates"), 403)
    assert error(api.get("handler-chengguan-990102", listing), 403)
    dismiss = f"/api/v1/cases/{later.id}/duplicates/{proposal['id']}/dismiss"
    for who in ("citizen", "leader", "handler-chengguan-990101"):
        assert error(api.client.post(dismiss, headers=api.headers(who)), 403), who
    operator = make_user(rt, actor, "operator-990102", "operator", area="990102")
    api.logins[operator.username] = bearer(rt, operator.username)
    denied = api.client.post(dismiss, headers=api.headers(operator.username))
    assert error(denied, 403)["code"] == "out_of_jurisdiction"


def test_category_radius_and_window_are_validated_and_used(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    url = "/api/v1/categories/E-01-02"
    admin = api.headers("admin")
    for body, field in (
        ({"duplicate_radius_m": 5}, "duplicate_radius_m"),
        ({"duplicate_radius_m": 5000}, "duplicate_radius_m"),
        ({"duplicate_window_hours": 0}, "duplicate_window_hours"),
        ({"duplicate_window_hours": "soon"}, "duplicate_window_hours"),
    ):
        assert field in fields(api.client.patch(url, json=body, headers=admin)), body
    cleared = api.client.patch(url, json={"duplicate_radius_m": None}, headers=admin)
    assert fields(cleared)["duplicate_radius_m"] == "required"
    assert error(
        api.client.patch(url, json={"duplicate_radius_m": 300}, headers=api.headers("operator")),
        403,
    )
    before = api._ok(api.get("admin", "/api/v1/categories"))
    assert {c["code"]: c["duplicate_radius_m"] for c in before}["E-01-02"] == 100

    ok = api.client.patch(url, json={"duplicate_radius_m": 300}, headers=admin)
    assert ok.status_code == 200
    assert ok.json()["duplicate_radius_m"] == 300
    first = report(rt, actor, reporter="operator", description=FIRST)
    later = report(rt, actor, description=REPEAT, lat=LAT + FAR)
    found = api._ok(api.get("operator", f"/api/v1/cases/{later.id}/duplicates"))
    assert [p["other_number"] for p in found] == [first.number]


def test_a_new_category_inherits_its_groups_search(api: Api) -> None:
    body = {
        "code": "E-01-99",
        "parent_code": "E-01",
        "name_zh": "测试",
        "name_en": "Test",
        "kind": "event",
        "register_hours": 1,
        "dispatch_hours": 1,
        "handle_hours": 8,
    }
    made = api.client.post("/api/v1/categories", json=body, headers=api.headers("admin"))
    assert made.status_code == 201, made.text
    assert (made.json()["duplicate_radius_m"], made.json()["duplicate_window_hours"]) == (100, 48)


def test_the_candidate_search_uses_its_index(rt: Runtime, actor: ActorFn) -> None:
    later = report(rt, actor, description=REPEAT)
    with rt.db.read() as session:
        case = session.get(Case, later.id)
        assert case is not None
        assert case.cell is not None
        category = categories(session).by_code["E-01-02"]
        query, params = search_query(case, category)
        # The condition: the planner's choice for the ORDER BY depends on the table's size.
        assert query.whereclause is not None
        condition = select(Case.id).where(query.whereclause).params(params)
        compiled = condition.compile(
            dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
        )
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_cases_duplicate_search" in plan, plan


def test_a_target_that_moved_on_after_the_search_is_not_merged_into(
    merging: Runtime, actor: ActorFn, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As when a transition commits between the candidate search and the merge: the target
    # the search loaded is stale (its state and version changed underneath it).
    first = report(merging, actor, reporter="operator", description=FIRST)
    search = duplicates.candidates

    def then_cancelled(session: Session, case: Case, category: Any) -> list[Any]:
        found = search(session, case, category)
        table = Case.__table__
        session.connection().execute(
            table.update()
            .where(table.c.id == first.id)
            .values(state="cancelled", version=table.c.version + 1)
        )
        return found

    monkeypatch.setattr(duplicates, "candidates", then_cancelled)
    response = api.report("citizen", _body(REPEAT, lat=LAT + NEAR))
    assert response.status_code == 201, response.text
    assert response.json()["state"] == "reported"
    assert response.json()["merged_into"] is None
    target = api.case(first.id)
    assert (target["state"], target["duplicate_count"]) == ("cancelled", 0)
