"""The case state machine (一网统管 loop), in one place and free of I/O.

reported ─register→ registered ─dispatch→ dispatched ─accept→ accepted ─handle→ handled
   │                    ▲   │                 │  ▲                 ▲            │
   ├─reject→ rejected   │   └─merge→ merged   │  └── verify(fail) ─┼────────────┤
   ├─merge→ merged      ├──── returned ←return┤                    │     verify(pass)
   │                    └───────── recall ─────┘                    │            │
   └─cancel→ cancelled       (dispatch again)                      │            ▼
                                   closed ←close── verified       reopen ← closed/evaluated
                                     └─evaluate→ evaluated
Actions that keep the state (urge, escalate, assign) are listed with ``target=None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cityops.core.errors import InvalidTransition, invalid
from cityops.core.i18n import text
from cityops.org.roles import Perm


class State(StrEnum):
    reported = "reported"
    registered = "registered"
    rejected = "rejected"
    dispatched = "dispatched"
    returned = "returned"
    accepted = "accepted"
    handled = "handled"
    verified = "verified"
    closed = "closed"
    evaluated = "evaluated"
    merged = "merged"
    cancelled = "cancelled"


class Action(StrEnum):
    report = "report"
    register = "register"
    reject = "reject"
    dispatch = "dispatch"
    return_ = "return"
    recall = "recall"
    accept = "accept"
    handle = "handle"
    verify = "verify"
    close = "close"
    evaluate = "evaluate"
    reopen = "reopen"
    reassign = "reassign"
    assign = "assign"
    merge = "merge"
    cancel = "cancel"
    urge = "urge"
    escalate = "escalate"
    sla_warning = "sla_warning"
    sla_overdue = "sla_overdue"


class Who(StrEnum):
    """Which jurisdiction check applies to an action (evaluated by the service)."""

    area = "area"  # the case lies in the actor's area (city-wide actors pass)
    department = "department"  # the actor belongs to the case's current department
    verifier = "verifier"  # a grid worker of the case's area, or the reporter
    reporter = "reporter"  # only the person who reported it


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[State]
    target: State | None
    permission: str
    who: Who
    requires: frozenset[str] = frozenset()


OPEN_STATES = frozenset(
    {
        State.reported,
        State.registered,
        State.dispatched,
        State.returned,
        State.accepted,
        State.handled,
        State.verified,
    }
)
DONE_STATES = frozenset({State.closed, State.evaluated})
TERMINAL_STATES = frozenset({State.rejected, State.merged, State.cancelled, State.evaluated})
IN_DEPARTMENT = frozenset({State.dispatched, State.accepted, State.handled})
WORKING = frozenset(
    {State.registered, State.dispatched, State.returned, State.accepted, State.handled}
)


def _t(
    action: Action,
    sources: set[State],
    target: State | None,
    permission: Perm,
    who: Who,
    requires: set[str] | None = None,
) -> Transition:
    return Transition(
        action, frozenset(sources), target, permission, who, frozenset(requires or ())
    )


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        _t(Action.register, {State.reported}, State.registered, Perm.cases_register, Who.area),
        _t(
            Action.reject, {State.reported}, State.rejected, Perm.cases_reject, Who.area, {"reason"}
        ),
        _t(
            Action.dispatch,
            {State.registered, State.returned},
            State.dispatched,
            Perm.cases_dispatch,
            Who.area,
        ),
        _t(
            Action.return_,
            {State.dispatched},
            State.returned,
            Perm.cases_return,
            Who.department,
            {"reason"},
        ),
        _t(
            Action.recall,
            {State.dispatched},
            State.registered,
            Perm.cases_recall,
            Who.area,
            {"reason"},
        ),
        _t(Action.accept, {State.dispatched}, State.accepted, Perm.cases_accept, Who.department),
        _t(
            Action.handle,
            {State.accepted},
            State.handled,
            Perm.cases_handle,
            Who.department,
            {"note"},
        ),
        _t(Action.verify, {State.handled}, State.verified, Perm.cases_verify, Who.verifier),
        _t(Action.close, {State.verified}, State.closed, Perm.cases_close, Who.area),
        _t(
            Action.evaluate,
            {State.closed},
            State.evaluated,
            Perm.cases_evaluate,
            Who.reporter,
            {"rating"},
        ),
        _t(
            Action.reopen,
            {State.closed, State.evaluated},
            State.dispatched,
            Perm.cases_reopen,
            Who.area,
            {"reason"},
        ),
        _t(
            Action.reassign,
            {State.dispatched, State.accepted},
            State.dispatched,
            Perm.cases_reassign,
            Who.area,
            {"reason"},
        ),
        _t(
            Action.assign,
            {State.dispatched, State.accepted},
            None,
            Perm.cases_assign,
            Who.department,
        ),
        _t(
            Action.merge,
            {State.reported, State.registered},
            State.merged,
            Perm.cases_merge,
            Who.area,
        ),
        _t(
            Action.cancel,
            {State.reported, State.registered, State.returned, State.dispatched},
            State.cancelled,
            Perm.cases_cancel,
            Who.area,
            {"reason"},
        ),
        _t(Action.urge, set(WORKING), None, Perm.cases_urge, Who.area, {"note"}),
        _t(Action.escalate, set(WORKING), None, Perm.cases_escalate, Who.area, {"reason"}),
    )
}

# A failed verification sends the case back to the department that handled it.
VERIFY_FAILED_TARGET = State.accepted


def transition_for(action: Action, state: State) -> Transition:
    """The transition for ``action`` from ``state``; InvalidTransition if not allowed there."""
    transition = TRANSITIONS.get(action)
    if transition is None or state not in transition.sources:
        raise InvalidTransition(action.value, state.value)
    return transition


def target_state(transition: Transition, state: State, *, passed: bool | None = None) -> State:
    """Where the case goes; verification branches on ``passed``."""
    if transition.action is Action.verify and passed is False:
        return VERIFY_FAILED_TARGET
    return transition.target or state


def check_required(transition: Transition, values: dict[str, object]) -> None:
    """Every field the transition requires is present and not blank."""
    for name in sorted(transition.requires):
        value = values.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise invalid(
                name,
                text(
                    "{name} is required to {action} a case",
                    name=name,
                    action=transition.action.value,
                ),
                "required",
            )


def allowed_actions(state: State) -> list[Action]:
    return [action for action, t in TRANSITIONS.items() if state in t.sources]


def sla_stage(state: State) -> str | None:
    """Which time limit runs in a state: registration, dispatch or handling."""
    if state is State.reported:
        return "register"
    if state in (State.registered, State.returned):
        return "dispatch"
    if state in IN_DEPARTMENT:
        return "handle"
    return None
