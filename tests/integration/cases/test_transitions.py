"""Every transition of the case loop, done over HTTP by the role that does it in real life, and
what each one leaves behind: the new state, a timeline entry, an audit record carrying the
request id, and a ``CaseChanged`` event after commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from cityops.cases.events import case_tag
from cityops.cases.models import Case
from cityops.cases.workflow import TRANSITIONS, Action
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime
from factories.api import REQUEST_ID, Api, fields
from factories.cases import OTHER_GRID, make_case, make_photo, png_bytes, report
from factories.org import bearer, make_user

ActorFn = Callable[[str], Any]
HANDLER = "handler-chengguan-990101"  # E-01-02 in district 990101 is routed here


@dataclass(frozen=True)
class Step:
    start: str
    who: str
    action: str
    body: dict[str, Any]
    to_state: str
    expect: dict[str, Any] = field(default_factory=dict)  # dotted CaseOut path -> value
    note: str | None = None  # the timeline note, when the body has one

    @property
    def id(self) -> str:
        return f"{self.action}-{self.start}-by-{self.who}"


def _reason(text: str) -> dict[str, Any]:
    return {"reason": text}


STEPS = [
    Step("reported", "operator", "register", {"note": "情况属实"}, "registered", note="情况属实"),
    Step(
        "reported",
        "dispatcher",
        "register",
        {"priority": "high"},
        "registered",
        {"priority": "high"},
    ),
    Step(
        "reported",
        "operator",
        "register",
        {"category_code": "E-01-03"},
        "registered",
        {"category.code": "E-01-03"},
    ),
    Step(
        "reported",
        "operator",
        "reject",
        _reason("不属于受理范围"),
        "rejected",
        note="不属于受理范围",
    ),
    Step(
        "registered",
        "dispatcher",
        "dispatch",
        {},
        "dispatched",
        {"department.code": "chengguan-990101"},
    ),
    Step(
        "registered",
        "operator",
        "dispatch",
        {"department_code": "zhujian-990101", "note": "人工派单"},
        "dispatched",
        {"department.code": "zhujian-990101"},
        note="人工派单",
    ),
    Step(
        "registered",
        "dispatcher",
        "dispatch",
        {"department_code": "shuiwu"},  # a city-level department covers every district
        "dispatched",
        {"department.code": "shuiwu"},
    ),
    Step(
        "dispatched",
        HANDLER,
        "return",
        _reason("不属于本部门职责"),
        "returned",
        {"department": None, "return_count": 1, "assignee": None},
        note="不属于本部门职责",
    ),
    Step(
        "returned",
        "dispatcher",
        "dispatch",
        {},
        "dispatched",
        {"department.code": "chengguan-990101"},
    ),
    Step(
        "dispatched",
        "operator",
        "recall",
        _reason("类别有误，重新派单"),
        "registered",
        {"department": None, "assignee": None, "machine_dispatch": None},
        note="类别有误，重新派单",
    ),
    Step("dispatched", HANDLER, "accept", {}, "accepted", {"assignee.username": HANDLER}),
    Step("accepted", HANDLER, "handle", {"note": "已清理"}, "handled", note="已清理"),
    Step("handled", "gridworker", "verify", {"passed": True}, "verified"),
    Step("handled", "citizen", "verify", {"passed": True, "note": "确认已清理"}, "verified"),
    Step(
        "handled",
        "gridworker",
        "verify",
        {"passed": False, "note": "现场仍有垃圾"},
        "accepted",
        {"verify_fail_count": 1, "department.code": "chengguan-990101"},
        note="现场仍有垃圾",
    ),
    Step("verified", "operator", "close", {"note": "结案"}, "closed", note="结案"),
    Step(
        "closed",
        "citizen",
        "evaluate",
        {"rating": 5, "comment": "处理很快"},
        "evaluated",
        {"rating": 5, "rating_comment": "处理很快"},
        note="处理很快",
    ),
    Step(
        "closed",
        "operator",
        "reopen",
        _reason("问题复发"),
        "dispatched",
        {"reopen_count": 1, "department.code": "chengguan-990101", "closed_at": None},
        note="问题复发",
    ),
    Step(
        "evaluated",
        "operator",
        "reopen",
        _reason("群众再次反映"),
        "dispatched",
        {"reopen_count": 1},
    ),
    Step(
        "dispatched",
        "dispatcher",
        "reassign",
        {"department_code": "zhujian-990101", "reason": "属住建职责"},
        "dispatched",
        {"department.code": "zhujian-990101", "assignee": None},
        note="属住建职责",
    ),
    Step(
        "accepted",
        "operator",
        "reassign",
        {"department_code": "shizheng-990101", "reason": "属市政职责"},
        "dispatched",
        {"department.code": "shizheng-990101", "accepted_at": None},
    ),
    Step(
        "accepted",
        "dispatcher",
        "reassign",
        {"department_code": "zhujian-990101", "reason": "转住建"},
        "dispatched",
        {"department.code": "zhujian-990101"},
    ),
    Step("reported", "citizen", "cancel", _reason("已自行解决"), "cancelled", note="已自行解决"),
    Step("reported", "operator", "cancel", _reason("重复来电"), "cancelled"),
    Step("registered", "operator", "cancel", _reason("重复来电"), "cancelled"),
    Step("dispatched", "operator", "cancel", _reason("当事人撤诉"), "cancelled"),
    Step("returned", "operator", "cancel", _reason("无法处理"), "cancelled"),
    Step(
        "dispatched",
        "operator",
        "urge",
        {"note": "请尽快处理"},
        "dispatched",
        {"urge_count": 1},
        note="请尽快处理",
    ),
    # ``reason``, as the other pressing actions name it, is accepted for the note too.
    Step(
        "accepted",
        "dispatcher",
        "urge",
        _reason("请今天处理"),
        "accepted",
        {"urge_count": 1},
        note="请今天处理",
    ),
    Step("registered", "operator", "urge", {"note": "尽快派单"}, "registered", {"urge_count": 1}),
    Step("returned", "operator", "urge", {"note": "尽快重派"}, "returned", {"urge_count": 1}),
    Step("handled", "dispatcher", "urge", {"note": "尽快核查"}, "handled", {"urge_count": 1}),
    Step(
        "registered",
        "operator",
        "escalate",
        _reason("群众反映强烈"),
        "registered",
        {"escalation_level": 1},
    ),
    Step(
        "dispatched",
        "operator",
        "escalate",
        _reason("多次催办未果"),
        "dispatched",
        {"escalation_level": 1},
    ),
    Step(
        "handled", "operator", "escalate", _reason("领导关注"), "handled", {"escalation_level": 1}
    ),
    Step(
        "returned", "operator", "escalate", _reason("久拖未派"), "returned", {"escalation_level": 1}
    ),
    Step(
        "accepted", "operator", "escalate", _reason("久拖未办"), "accepted", {"escalation_level": 1}
    ),
]


def _dig(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        value = None if value is None else value[part]
    return value


def assert_recorded(
    api: Api,
    case_id: str,
    *,
    action: str,
    who: str,
    from_state: str,
    to_state: str,
    request_id: str,
    note: str | None = None,
) -> dict[str, Any]:
    """The newest timeline entry and audit record of the case describe this action."""
    entry = api.timeline(case_id)[-1]
    assert (entry["action"], entry["from_state"], entry["to_state"]) == (
        action,
        from_state,
        to_state,
    )
    assert entry["actor_name"] == who
    if note is not None:
        assert entry["note"] == note
    records = [r for r in api.audit(case_id, case_tag(action)) if r["request_id"] == request_id]
    assert len(records) == 1, f"expected one {case_tag(action)} record of request {request_id}"
    [audit] = records
    assert audit["action"] == case_tag(action)
    assert audit["actor_name"] == who
    assert audit["subject_type"] == "case"
    assert audit["before"]["state"] == from_state
    assert audit["after"]["state"] == to_state
    return entry


@pytest.mark.parametrize("step", STEPS, ids=[s.id for s in STEPS])
def test_transition_as_the_role_that_does_it(
    rt: Runtime, actor: ActorFn, api: Api, events: Any, step: Step
) -> None:
    case = make_case(rt, actor, step.start)
    request_id = f"req-{step.id}"
    events.events.clear()

    response = api.act(step.who, case.id, step.action, step.body, request_id=request_id)

    assert response.status_code == 200, response.text
    assert response.headers[REQUEST_ID] == request_id
    out = response.json()
    assert out["state"] == step.to_state
    for path, expected in step.expect.items():
        assert _dig(out, path) == expected, path
    stored = api.case(case.id)
    assert (stored["state"], stored["updated_at"]) == (step.to_state, out["updated_at"])
    assert_recorded(
        api,
        str(case.id),
        action=step.action,
        who=step.who,
        from_state=step.start,
        to_state=step.to_state,
        request_id=request_id,
        note=step.note,
    )
    [event] = events.events
    assert (event.action, event.from_state, event.to_state) == (
        step.action,
        step.start,
        step.to_state,
    )


def test_every_transition_of_the_workflow_is_exercised() -> None:
    covered = {Action(step.action) for step in STEPS} | {Action.merge, Action.assign}
    assert covered == set(TRANSITIONS)
    for action, transition in TRANSITIONS.items():
        starts = {step.start for step in STEPS if step.action == action.value}
        if action not in (Action.merge, Action.assign):
            assert starts == set(transition.sources), action


def test_dispatch_by_rules_and_by_hand_records_the_rule(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    by_rules = make_case(rt, actor, "registered")
    by_hand = make_case(rt, actor, "registered")

    api.act("dispatcher", by_rules.id, "dispatch")
    api.act("dispatcher", by_hand.id, "dispatch", {"department_code": "zhujian-990101"})

    assert api.timeline(by_rules.id)[-1]["data"]["rule"] == "kind"
    assert api.timeline(by_hand.id)[-1]["data"]["rule"] == "manual"
    # The routing rules pick the district branch of the category's kind.
    suggestion = api.get("dispatcher", f"/api/v1/cases/{by_rules.id}/suggestion").json()
    assert suggestion["department"]["code"] == "chengguan-990101"


def test_dispatch_by_rules_follows_the_district(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "registered", lon=113.05, lat=28.12)

    out = api.act("dispatcher", case.id, "dispatch").json()

    assert out["department"]["code"] == "chengguan-990102"


def _returned_seconds(rt: Runtime, case_id: Any) -> float:
    # Not part of CaseOut (the KPIs read it); a read-only look at the row.
    with rt.db.read() as session:
        value = session.scalar(select(Case.returned_seconds).where(Case.id == case_id))
    assert value is not None
    return float(value)


def test_return_then_dispatch_again_counts_the_time_spent_returned(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = make_case(rt, actor, "dispatched")
    clock.advance(minutes=10)

    returned = api.act(HANDLER, case.id, "return", {"reason": "不属于本部门"}).json()
    assert returned["state"] == "returned"
    # The dispatch clock restarts at the return: 2 working hours from Monday 10:10 (lunch 12-13:30).
    assert returned["due"]["dispatch_by"] == "2026-03-02T05:40:00Z"
    assert returned["due"]["stage"] == "dispatch"
    clock.advance(minutes=30)
    again = api.act("dispatcher", case.id, "dispatch", {"department_code": "chengguan-990101"})
    assert again.json()["state"] == "dispatched"
    assert _returned_seconds(rt, case.id) == 30 * 60

    clock.advance(minutes=5)
    api.act(HANDLER, case.id, "return", {"reason": "仍不属于本部门"})
    clock.advance(minutes=15)
    final = api.act("dispatcher", case.id, "dispatch", {"department_code": "shizheng-990101"})

    assert final.json()["return_count"] == 2
    assert _returned_seconds(rt, case.id) == 45 * 60
    actions = [e["action"] for e in api.timeline(case.id)]
    assert actions == ["report", "register", "dispatch", "return", "dispatch", "return", "dispatch"]


def test_handle_with_photos_attaches_them_to_the_timeline(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "accepted")
    uploaded = api.client.post(
        "/api/v1/uploads",
        files={"file": ("after.png", png_bytes(7), "image/png")},
        headers=api.headers(HANDLER),
    )
    assert uploaded.status_code == 201, uploaded.text
    photo = uploaded.json()
    assert (photo["content_type"], photo["width"], photo["height"]) == ("image/png", 8, 8)

    response = api.act(HANDLER, case.id, "handle", {"note": "已清理", "photos": [photo["id"]]})

    assert response.status_code == 200, response.text
    entry = api.timeline(case.id)[-1]
    assert entry["action"] == "handle"
    assert entry["photos"] == [photo["id"]]
    # Result photos are not report photos, and whoever may read the case may see them.
    assert response.json()["photos"] == []
    for who in ("operator", "citizen", "gridworker"):
        served = api.get(who, f"/api/v1/uploads/{photo['id']}")
        assert served.status_code == 200, (who, served.text)
        assert served.content == png_bytes(7)
    assert api.get("handler-chengguan-990102", f"/api/v1/uploads/{photo['id']}").status_code == 403


def test_report_with_photos(rt: Runtime, actor: ActorFn, api: Api) -> None:
    photos = [make_photo(rt, actor, "citizen", seed) for seed in range(2)]

    case = report(rt, actor, photos=[p.id for p in photos])

    assert case.photos == [p.id for p in photos]
    assert api.timeline(case.id)[0]["photos"] == [str(p.id) for p in photos]


def test_verify_fail_then_pass_goes_round_the_department_again(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")

    failed = api.act("gridworker", case.id, "verify", {"passed": False, "note": "未清理干净"})
    assert failed.json()["state"] == "accepted"
    api.act(HANDLER, case.id, "handle", {"note": "已再次清理"})
    passed = api.act("gridworker", case.id, "verify", {"passed": True})

    assert passed.json()["state"] == "verified"
    assert passed.json()["verify_fail_count"] == 1
    steps = [(e["action"], e["to_state"], e["data"].get("passed")) for e in api.timeline(case.id)]
    assert steps[-3:] == [
        ("verify", "accepted", False),
        ("handle", "handled", None),
        ("verify", "verified", True),
    ]


@pytest.mark.parametrize("state", ["dispatched", "accepted"])
def test_assign_within_the_department(rt: Runtime, actor: ActorFn, api: Api, state: str) -> None:
    colleague = make_user(
        rt, actor, "handler-chengguan-990101-b", "handler", department="chengguan-990101"
    )
    outsider = make_user(
        rt, actor, "handler-zhujian-990101-b", "handler", department="zhujian-990101"
    )
    case = make_case(rt, actor, state)
    assert case.department is not None
    assert case.department.code == "chengguan-990101"

    response = api.act(
        HANDLER,
        case.id,
        "assign",
        {"username": colleague.username, "note": "你去"},
        request_id="req-assign",
    )

    assert response.status_code == 200, response.text
    assert response.json()["assignee"]["username"] == colleague.username
    assert response.json()["state"] == state
    entry = assert_recorded(
        api,
        str(case.id),
        action="assign",
        who=HANDLER,
        from_state=state,
        to_state=state,
        request_id="req-assign",
        note="你去",
    )
    assert entry["data"] == {"assignee": colleague.username}
    # The colleague now finds it among their own cases and can act on it.
    api.logins[colleague.username] = bearer(rt, colleague.username)
    mine = api.cases(colleague.username, mine="true")
    assert [c["id"] for c in mine["items"]] == [str(case.id)]
    step = ("handle", {"note": "已处理"}) if state == "accepted" else ("accept", {})
    moved = api.act(colleague.username, case.id, *step)
    assert moved.status_code == 200, moved.text
    assert moved.json()["assignee"]["username"] == colleague.username
    # Only handlers of the case's own department can be assigned.
    other = make_case(rt, actor, "dispatched")
    refused = api.act(HANDLER, other.id, "assign", {"username": outsider.username})
    assert fields(refused) == {"username": "invalid"}
    assert api.case(other.id)["assignee"] is None


@pytest.mark.parametrize(
    ("duplicate_state", "survivor_state"),
    [("reported", "dispatched"), ("registered", "handled"), ("reported", "reported")],
)
def test_merge_into_an_open_case(
    rt: Runtime, actor: ActorFn, api: Api, duplicate_state: str, survivor_state: str
) -> None:
    make_user(rt, actor, "citizen2", "citizen")
    api.logins["citizen2"] = bearer(rt, "citizen2")
    survivor = make_case(rt, actor, survivor_state)
    duplicate = make_case(rt, actor, duplicate_state, reporter="citizen2")
    assert api.get("citizen2", f"/api/v1/cases/{survivor.id}").status_code == 403

    response = api.act(
        "operator",
        duplicate.id,
        "merge",
        {"into": str(survivor.id), "note": "重复"},
        request_id="req-merge",
    )

    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["state"] == "merged"
    assert merged["merged_into"] == str(survivor.id)
    assert merged["closed_at"] is not None
    assert_recorded(
        api,
        str(duplicate.id),
        action="merge",
        who="operator",
        from_state=duplicate_state,
        to_state="merged",
        request_id="req-merge",
        note="重复",
    )
    surviving = api.case(survivor.id)
    assert surviving["duplicate_count"] == 1
    assert surviving["state"] == survivor_state
    entry = api.timeline(survivor.id)[-1]
    assert entry["action"] == "merge"
    assert entry["data"]["merged_case_id"] == str(duplicate.id)
    # The reporter of the duplicate follows the surviving case.
    followed = api.get("citizen2", f"/api/v1/cases/{survivor.id}")
    assert followed.status_code == 200, followed.text
    assert api.get("citizen2", f"/api/v1/cases/{survivor.id}/timeline").status_code == 200


def test_merge_refuses_a_closed_target_or_itself(rt: Runtime, actor: ActorFn, api: Api) -> None:
    closed = make_case(rt, actor, "closed")
    case = make_case(rt, actor, "registered")

    into_closed = api.act("operator", case.id, "merge", {"into": str(closed.id)})
    into_itself = api.act("operator", case.id, "merge", {"into": str(case.id)})

    assert fields(into_closed) == {"into": "not_open"}
    assert fields(into_itself) == {"into": "invalid"}
    assert api.case(case.id)["state"] == "registered"
    assert api.case(closed.id)["duplicate_count"] == 0


def test_citizen_cancels_only_their_own_unregistered_report(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    registered = make_case(rt, actor, "registered")
    make_user(rt, actor, "citizen2", "citizen")
    api.logins["citizen2"] = bearer(rt, "citizen2")
    someone_elses = make_case(rt, actor, "reported", reporter="citizen2")

    late = api.act("citizen", registered.id, "cancel", {"reason": "不需要了"})
    foreign = api.act("citizen", someone_elses.id, "cancel", {"reason": "不需要了"})

    assert late.status_code == 403, late.text
    assert foreign.status_code == 403, foreign.text
    assert api.case(registered.id)["state"] == "registered"
    assert api.case(someone_elses.id)["state"] == "reported"


def test_urge_and_escalate_keep_the_department_deadline(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = make_case(rt, actor, "dispatched")
    due = api.case(case.id)["due"]["handle_by"]
    clock.advance(hours=1)

    urged = api.act("operator", case.id, "urge", {"reason": "请尽快"}).json()
    escalated = api.act("operator", case.id, "escalate", {"reason": "升级督办"}).json()
    urged_again = api.act("dispatcher", case.id, "urge", {"reason": "再催"}).json()

    # Pressing a department does not give it more time, nor undo the escalation.
    assert urged["due"]["handle_by"] == due
    assert escalated["due"]["handle_by"] == due
    assert urged_again["due"]["handle_by"] == due
    assert urged_again["urge_count"] == 2
    assert urged_again["escalation_level"] == 1


def test_reassign_gives_the_new_department_a_fresh_deadline(
    rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock
) -> None:
    case = make_case(rt, actor, "dispatched")
    clock.advance(hours=1)

    out = api.act(
        "dispatcher", case.id, "reassign", {"department_code": "zhujian-990101", "reason": "改派"}
    ).json()

    # Monday 11:00 + 8 working hours (E-01-02): 5.5 h on Monday, then Tuesday 11:30 Shanghai.
    assert out["due"]["handle_by"] == "2026-03-03T03:30:00Z"
    assert out["due"]["status"] == "ok"


def test_the_whole_loop_in_order(rt: Runtime, actor: ActorFn, api: Api, clock: FrozenClock) -> None:
    case = report(rt, actor, lon=OTHER_GRID[0], lat=OTHER_GRID[1])
    path = [
        ("operator", "register", {}),
        ("dispatcher", "dispatch", {}),
        (None, "accept", {}),
        (None, "handle", {"note": "已清理"}),
        ("citizen", "verify", {"passed": True}),
        ("operator", "close", {}),
        ("citizen", "evaluate", {"rating": 3}),
    ]
    department = None
    for who, action, body in path:
        clock.advance(minutes=7)
        response = api.act(who or f"handler-{department}", case.id, action, body)
        assert response.status_code == 200, (action, response.text)
        if response.json()["department"]:
            department = response.json()["department"]["code"]
    out = api.case(case.id)
    started = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    stamps = [
        out[f"{name}_at"]
        for name in (
            "registered",
            "dispatched",
            "accepted",
            "handled",
            "verified",
            "closed",
            "evaluated",
        )
    ]
    assert stamps == [
        (started.replace(minute=7 * n)).isoformat().replace("+00:00", "Z") for n in range(1, 8)
    ]
    assert out["allowed_actions"] == ["reopen"]  # admin's view: an evaluated case only reopens


def test_register_and_dispatch_in_one_request(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "reported")

    response = api.act(
        "operator", case.id, "register", {"dispatch": True}, request_id="req-register-dispatch"
    )

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "dispatched"
    assert response.json()["department"]["code"] == "chengguan-990101"
    steps = [(e["action"], e["to_state"]) for e in api.timeline(case.id)]
    assert steps == [("report", "reported"), ("register", "registered"), ("dispatch", "dispatched")]
    tags = {r["action"] for r in api.audit(case.id) if r["request_id"] == "req-register-dispatch"}
    assert tags == {"cases:case:registered", "cases:case:dispatched"}


def test_a_report_sent_twice_is_taken_once(rt: Runtime, actor: ActorFn, api: Api) -> None:
    body = {
        "description": "井盖缺失，有行人跌倒风险",
        "category_code": "B-01-01",
        "location": {"lon": 112.95, "lat": 28.12},
        "client_ref": "phone-7f3a:0001",
    }
    before = api.count_cases()

    first = api.report("gridworker", body)
    again = api.report("gridworker", body)

    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"]
    assert api.count_cases() == before + 1
    assert first.json()["source"] == "gridworker"
    assert first.json()["priority"] == "high"
    # Another reporter may use the same reference for their own report.
    assert api.report("citizen", body).json()["id"] != first.json()["id"]


def test_photos_are_private_to_those_who_may_read_the_case(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_user(rt, actor, "citizen2", "citizen")
    api.logins["citizen2"] = bearer(rt, "citizen2")
    loose = make_photo(rt, actor, "citizen", seed=11)
    attached = make_photo(rt, actor, "citizen", seed=12)
    report(rt, actor, photos=[attached.id])

    def status(who: str, photo: Any) -> int:
        return api.get(who, f"/api/v1/uploads/{photo.id}").status_code

    assert [status(w, loose) for w in ("citizen", "admin", "citizen2", "operator")] == [
        200,
        200,
        403,
        403,
    ]
    assert [status(w, attached) for w in ("citizen", "operator", "gridworker", "citizen2")] == [
        200,
        200,
        200,
        403,
    ]
