"""The alarm lifecycle, in one place and free of I/O.

      raise            acknowledge
  ─────────→ active ─────────────→ acknowledged
              │  ▲ escalate (a higher level: needs attention again)│
              │  └─────────────────────────────────────────────────┤
              │ clear (by hand, with a note) / condition_ended     │
              ▼                                                    ▼
           cleared ←───────────────────────────────────────────────┘

``update`` (a repeat: last value, count, peak) and ``link_case`` keep the state. Actions of the
system (raise, update, escalate, condition_ended, link_case) carry no user permission: only the
evaluation calls them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cityops.core.auth import Actor
from cityops.core.errors import Conflict, invalid
from cityops.core.i18n import text
from cityops.org.roles import Perm


class State(StrEnum):
    active = "active"
    acknowledged = "acknowledged"
    cleared = "cleared"


class Action(StrEnum):
    raise_ = "raise"
    update = "update"
    escalate = "escalate"
    acknowledge = "acknowledge"
    clear = "clear"
    condition_ended = "condition_ended"
    link_case = "link_case"


OPEN_STATES = frozenset({State.active, State.acknowledged})


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State | None]
    target: State | None  # None: the state stays
    permission: str | None  # None: the system only
    requires_note: bool = False


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.raise_, frozenset({None}), State.active, None),
        Transition(Action.update, frozenset(OPEN_STATES), None, None),
        Transition(Action.escalate, frozenset(OPEN_STATES), State.active, None),
        Transition(
            Action.acknowledge, frozenset({State.active}), State.acknowledged, Perm.alarms_ack
        ),
        Transition(Action.clear, frozenset(OPEN_STATES), State.cleared, Perm.alarms_ack, True),
        Transition(Action.condition_ended, frozenset(OPEN_STATES), State.cleared, None),
        Transition(Action.link_case, frozenset({*OPEN_STATES, State.cleared}), None, None),
    )
}


class InvalidAlarmTransition(Conflict):
    def __init__(self, action: str, state: str | None) -> None:
        super().__init__(
            text("cannot {action!t} an alarm that is {state!t}", action=action, state=state),
            code="invalid_transition",
            action=action,
            state=state,
        )


def transition_for(action: Action, state: State | None) -> Transition:
    """The transition for ``action`` from ``state``; a 409 conflict where it is not allowed."""
    transition = TRANSITIONS[action]
    if state not in transition.sources:
        raise InvalidAlarmTransition(action.value, state.value if state else None)
    return transition


def target_state(transition: Transition, state: State | None) -> State:
    target = transition.target or state
    assert target is not None
    return target


def check_note(transition: Transition, note: str | None) -> None:
    if transition.requires_note and not (note and note.strip()):
        raise invalid(
            "note",
            text("a note is required to {action!t} an alarm", action=transition.action.value),
            "required",
        )


def allowed_actions(state: State, actor: Actor) -> list[Action]:
    """What this user may do now (the system's own actions are left out)."""
    return [
        action
        for action, t in TRANSITIONS.items()
        if t.permission is not None and state in t.sources and actor.can(t.permission)
    ]
