"""The state machine in isolation: every action from every state, required fields."""

from __future__ import annotations

import pytest

from cityops.cases.workflow import (
    DONE_STATES,
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    State,
    allowed_actions,
    check_required,
    sla_stage,
    target_state,
    transition_for,
)
from cityops.core.errors import InvalidTransition, ValidationFailed

EXPECTED = {
    Action.register: ({State.reported}, State.registered),
    Action.reject: ({State.reported}, State.rejected),
    Action.dispatch: ({State.registered, State.returned}, State.dispatched),
    Action.return_: ({State.dispatched}, State.returned),
    Action.accept: ({State.dispatched}, State.accepted),
    Action.handle: ({State.accepted}, State.handled),
    Action.verify: ({State.handled}, State.verified),
    Action.close: ({State.verified}, State.closed),
    Action.evaluate: ({State.closed}, State.evaluated),
    Action.reopen: ({State.closed, State.evaluated}, State.dispatched),
    Action.merge: ({State.reported, State.registered}, State.merged),
}


@pytest.mark.parametrize("action", list(EXPECTED))
@pytest.mark.parametrize("state", list(State))
def test_each_action_is_allowed_exactly_from_its_sources(action: Action, state: State) -> None:
    sources, target = EXPECTED[action]
    if state in sources:
        transition = transition_for(action, state)
        assert target_state(transition, state, passed=True) is target
    else:
        with pytest.raises(InvalidTransition) as caught:
            transition_for(action, state)
        assert caught.value.details == {"action": action.value, "state": state.value}


def test_failed_verification_goes_back_to_the_department() -> None:
    transition = transition_for(Action.verify, State.handled)
    assert target_state(transition, State.handled, passed=False) is State.accepted


@pytest.mark.parametrize("action", [Action.urge, Action.escalate, Action.assign])
def test_side_actions_keep_the_state(action: Action) -> None:
    for state in TRANSITIONS[action].sources:
        assert target_state(transition_for(action, state), state) is state


def test_terminal_states_allow_nothing_but_reopen_from_evaluated() -> None:
    for state in TERMINAL_STATES - {State.evaluated}:
        assert allowed_actions(state) == []
    assert allowed_actions(State.evaluated) == [Action.reopen]


def test_open_and_done_states_do_not_overlap() -> None:
    assert not OPEN_STATES & DONE_STATES
    assert not OPEN_STATES & TERMINAL_STATES


@pytest.mark.parametrize(
    ("action", "field"),
    [
        (Action.reject, "reason"),
        (Action.return_, "reason"),
        (Action.handle, "note"),
        (Action.evaluate, "rating"),
        (Action.cancel, "reason"),
        (Action.urge, "note"),
    ],
)
def test_required_fields_are_named(action: Action, field: str) -> None:
    transition = TRANSITIONS[action]
    for missing in ({}, {field: None}, {field: "   "}):
        with pytest.raises(ValidationFailed) as caught:
            check_required(transition, missing)
        assert [e.field for e in caught.value.fields] == [field]
    check_required(transition, {field: "ok" if field != "rating" else 3})


def test_sla_stage_follows_the_state() -> None:
    assert sla_stage(State.reported) == "register"
    assert sla_stage(State.returned) == "dispatch"
    assert sla_stage(State.accepted) == "handle"
    assert sla_stage(State.closed) is None


def test_every_transition_names_a_permission() -> None:
    for transition in TRANSITIONS.values():
        assert transition.permission.startswith("cases.")
