"""The alarm lifecycle in isolation: which action is allowed from which state, and who may."""

from __future__ import annotations

import pytest

from cityops.alarms.workflow import (
    TRANSITIONS,
    Action,
    State,
    allowed_actions,
    check_note,
    target_state,
    transition_for,
)
from cityops.core.auth import Actor
from cityops.core.errors import Conflict, ValidationFailed
from cityops.org.roles import permissions_for

EXPECTED: dict[Action, tuple[set[State | None], State | None]] = {
    Action.raise_: ({None}, State.active),
    Action.update: ({State.active, State.acknowledged}, None),
    Action.escalate: ({State.active, State.acknowledged}, State.active),
    Action.acknowledge: ({State.active}, State.acknowledged),
    Action.clear: ({State.active, State.acknowledged}, State.cleared),
    Action.condition_ended: ({State.active, State.acknowledged}, State.cleared),
    Action.link_case: ({State.active, State.acknowledged, State.cleared}, None),
}


def test_every_action_is_listed() -> None:
    assert set(EXPECTED) == set(Action) == set(TRANSITIONS)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("state", [None, *State])
def test_each_action_is_allowed_exactly_from_its_sources(
    action: Action, state: State | None
) -> None:
    sources, target = EXPECTED[action]
    if state in sources:
        transition = transition_for(action, state)
        assert target_state(transition, state) == (target or state)
    else:
        with pytest.raises(Conflict) as raised:
            transition_for(action, state)
        assert raised.value.code == "invalid_transition"


def test_a_cleared_alarm_is_done() -> None:
    admin = Actor(None, "admin", "admin", frozenset({"*"}))
    assert allowed_actions(State.cleared, admin) == []
    assert allowed_actions(State.active, admin) == [Action.acknowledge, Action.clear]
    assert allowed_actions(State.acknowledged, admin) == [Action.clear]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("operator", [Action.acknowledge, Action.clear]),
        ("handler", [Action.acknowledge, Action.clear]),
        ("leader", []),
        ("dispatcher", []),
    ],
)
def test_allowed_actions_follow_the_role(role: str, expected: list[Action]) -> None:
    actor = Actor(None, role, role, permissions_for(role))
    assert allowed_actions(State.active, actor) == expected


def test_clearing_by_hand_needs_a_note() -> None:
    transition = transition_for(Action.clear, State.active)
    for note in (None, "", "   "):
        with pytest.raises(ValidationFailed) as raised:
            check_note(transition, note)
        assert [f.field for f in raised.value.fields] == ["note"]
    check_note(transition, "水位已回落，现场确认")
    check_note(transition_for(Action.acknowledge, State.active), None)
