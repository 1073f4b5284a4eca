"""Every action the state machine does not allow in a state answers 409 ``invalid_transition``
and changes nothing: not the case, not its timeline, not the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.cases.workflow import TRANSITIONS, Action, State, allowed_actions
from cityops.core.runtime import Runtime
from factories.api import Api, error
from factories.cases import STATES, make_case, report, snapshot

ActorFn = Callable[[str], Any]

# A body each action accepts, so that only the state can be the problem.
BODIES: dict[Action, dict[str, Any]] = {
    Action.register: {},
    Action.reject: {"reason": "不予立案"},
    Action.dispatch: {},
    Action.return_: {"reason": "退回"},
    Action.recall: {"reason": "撤回派单"},
    Action.accept: {},
    Action.handle: {"note": "已处理"},
    Action.verify: {"passed": True},
    Action.close: {},
    Action.evaluate: {"rating": 5},
    Action.reopen: {"reason": "重新派单"},
    Action.reassign: {"department_code": "zhujian-990101", "reason": "改派"},
    Action.assign: {"username": "handler-chengguan-990101"},
    Action.merge: {},  # "into" is filled in with an open case
    Action.cancel: {"reason": "撤销"},
    Action.urge: {"reason": "督办"},
    Action.escalate: {"reason": "升级"},
}
# The role that does each action in real life, when the case is in its jurisdiction.
ROLE: dict[Action, str] = {
    Action.register: "operator",
    Action.reject: "operator",
    Action.dispatch: "dispatcher",
    Action.return_: "handler",
    Action.recall: "operator",
    Action.accept: "handler",
    Action.handle: "handler",
    Action.verify: "gridworker",
    Action.close: "operator",
    Action.evaluate: "citizen",
    Action.reopen: "operator",
    Action.reassign: "dispatcher",
    Action.assign: "handler",
    Action.merge: "dispatcher",
    Action.cancel: "operator",
    Action.urge: "operator",
    Action.escalate: "operator",
}
INVALID = [
    (state, action)
    for state in STATES
    for action in TRANSITIONS
    if action not in allowed_actions(State(state))
]


def test_the_factory_reaches_every_state_and_the_table_names_every_action() -> None:
    assert set(STATES) == {s.value for s in State}
    assert set(BODIES) == set(TRANSITIONS) == set(ROLE)
    assert len(INVALID) == len(STATES) * len(TRANSITIONS) - sum(
        len(t.sources) for t in TRANSITIONS.values()
    )


@pytest.mark.parametrize(("state", "action"), INVALID, ids=[f"{a}-{s}" for s, a in INVALID])
def test_invalid_transition_is_a_conflict_and_changes_nothing(
    rt: Runtime, actor: ActorFn, api: Api, state: str, action: Action
) -> None:
    case = make_case(rt, actor, state)
    body = dict(BODIES[action])
    if action is Action.merge:
        body["into"] = str(report(rt, actor).id)
    # The role that does it, when jurisdiction lets it reach the state check; admin otherwise.
    who = ROLE[action]
    if who == "handler":
        who = f"handler-{case.department.code}" if case.department else "admin"
    if who == "citizen" and case.reporter is None:
        who = "admin"
    before = snapshot(rt, actor, case.id)
    assert action.value not in before[0]["allowed_actions"]

    response = api.act(who, case.id, action.value, body)

    err = error(response, 409)
    assert err["code"] == "invalid_transition"
    assert err["details"] == {"action": action.value, "state": state}
    assert snapshot(rt, actor, case.id) == before
