"""A verification sent again with the same ``client_ref`` (a phone's offline queue resending
after a lost answer) is taken once: the replay answers the case as it stands, with no second
timeline entry, audit record, failure count or photo claim, and no 409."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.cases import OTHER_GRID, make_case, make_photo, snapshot
from factories.org import bearer, make_user

ActorFn = Callable[[str], Any]
HANDLER = "handler-chengguan-990101"


def _verifications(api: Api, case_id: Any) -> list[dict[str, Any]]:
    return [e for e in api.timeline(case_id) if e["action"] == "verify"]


def test_a_passed_verification_sent_twice_is_taken_once(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")
    photo = str(make_photo(rt, actor, "gridworker", seed=21).id)
    body = {"passed": True, "note": "现场已清理", "photos": [photo], "client_ref": "q-0001"}

    first = api.act("gridworker", case.id, "verify", body)
    again = api.act("gridworker", case.id, "verify", body)

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text
    assert again.json()["state"] == first.json()["state"] == "verified"
    [event] = _verifications(api, case.id)
    assert event["data"] == {"passed": True, "client_ref": "q-0001"}
    assert event["photos"] == [photo]
    assert len(api.audit(case.id, "cases:case:verified")) == 1


def test_a_failed_verification_sent_twice_is_taken_once(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")
    body = {"passed": False, "note": "垃圾仍未清运", "client_ref": "q-0002"}

    first = api.act("gridworker", case.id, "verify", body)
    again = api.act("gridworker", case.id, "verify", body)

    assert first.status_code == 200, first.text
    assert again.status_code == 200, again.text  # not 409: the case already left "handled"
    assert again.json()["state"] == "accepted"  # back with the department
    assert again.json()["verify_fail_count"] == 1
    assert len(_verifications(api, case.id)) == 1


def test_a_late_replay_answers_the_case_as_it_now_stands(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")
    body = {"passed": False, "note": "垃圾仍未清运", "client_ref": "q-0003"}
    assert api.act("gridworker", case.id, "verify", body).status_code == 200
    assert api.act(HANDLER, case.id, "handle", {"note": "已再次清运"}).status_code == 200
    before = snapshot(rt, actor, case.id)

    late = api.act("gridworker", case.id, "verify", body)

    assert late.status_code == 200, late.text
    assert late.json()["state"] == "handled"  # the old failure does not send it back again
    assert snapshot(rt, actor, case.id) == before
    assert len(_verifications(api, case.id)) == 1


def test_a_reference_is_per_user(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "handled")
    make_user(rt, actor, "gridworker2", "gridworker", area="99010100100101")
    api.logins["gridworker2"] = bearer(rt, "gridworker2")
    failed = {"passed": False, "note": "未整改", "client_ref": "q-0004"}
    assert api.act("gridworker", case.id, "verify", failed).status_code == 200
    assert api.act(HANDLER, case.id, "handle", {"note": "已整改"}).status_code == 200

    other = api.act("gridworker2", case.id, "verify", {"passed": True, "client_ref": "q-0004"})

    assert other.status_code == 200, other.text
    assert other.json()["state"] == "verified"
    assert len(_verifications(api, case.id)) == 2


def test_a_reference_reused_for_another_outcome_is_refused(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")
    passed = api.act("gridworker", case.id, "verify", {"passed": True, "client_ref": "q-5"})
    assert passed.status_code == 200, passed.text
    before = snapshot(rt, actor, case.id)

    refused = api.act(
        "gridworker", case.id, "verify", {"passed": False, "note": "不合格", "client_ref": "q-5"}
    )

    assert fields(refused) == {"client_ref": "reused"}
    assert snapshot(rt, actor, case.id) == before


def test_without_a_reference_a_second_verification_conflicts(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "handled")
    assert api.act("gridworker", case.id, "verify", {"passed": True}).status_code == 200

    again = api.act("gridworker", case.id, "verify", {"passed": True})

    assert error(again, 409)["code"] == "invalid_transition"


def test_a_replay_outside_the_workers_grid_is_denied(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "handled", lon=OTHER_GRID[0], lat=OTHER_GRID[1])
    before = snapshot(rt, actor, case.id)

    denied = api.act("gridworker", case.id, "verify", {"passed": True, "client_ref": "q-6"})

    assert error(denied, 403)["code"] == "out_of_jurisdiction"
    assert snapshot(rt, actor, case.id) == before


@pytest.mark.parametrize(
    ("client_ref", "code"),
    [
        ("has space", "string_pattern_mismatch"),
        ("引用", "string_pattern_mismatch"),
        ("x" * 65, "string_too_long"),
        (42, "string_type"),
    ],
    ids=["space", "not-ascii", "too-long", "number"],
)
def test_a_bad_reference_is_refused(
    rt: Runtime, actor: ActorFn, api: Api, client_ref: Any, code: str
) -> None:
    case = make_case(rt, actor, "handled")
    before = snapshot(rt, actor, case.id)

    refused = api.act("gridworker", case.id, "verify", {"passed": True, "client_ref": client_ref})

    assert fields(refused) == {"client_ref": code}
    assert snapshot(rt, actor, case.id) == before
