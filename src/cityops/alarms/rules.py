"""Alarm rules and their evaluation, free of I/O.

A rule watches one metric of every device of a type (``no_data`` watches the device itself):

- ``threshold``: the value is above a line, below a line, or outside a band (a level with both
  ``above`` and ``below``);
- ``sustained``: a threshold that must hold for ``for_seconds`` before the alarm is raised;
- ``rate``: the change per minute over ``window_seconds`` is above/below/outside the levels;
- ``no_data``: the device (or the metric) has been silent for longer than ``silence_seconds``.

Levels give the severities: the alarm is raised at the highest level that is breached and
escalates when a higher one is breached later; it never de-escalates while it is up.
Hysteresis: a level is breached when the value passes its line, and the alarm clears only when
the value is back past the line of the lowest level by more than the ``deadband`` (``above -
deadband`` / ``below + deadband``). Between the two lines nothing changes, so a value hovering
at the line does not flap.

Evaluation is incremental per (device, rule): ``step`` takes the small ``RuleState`` and one
sample and returns the new state and what happened (``Outcome``). Samples must be applied in
time order; one not newer than the last applied (a duplicate from at-least-once delivery, or a
late arrival) is skipped, since the newer readings already decided the state.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from cityops.core.errors import FieldError
from cityops.core.i18n import text


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    major = "major"
    critical = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.info: 1, Severity.warning: 2, Severity.major: 3, Severity.critical: 4}


class Kind(StrEnum):
    threshold = "threshold"
    sustained = "sustained"
    rate = "rate"
    no_data = "no_data"


class Signal(StrEnum):
    raised = "raised"  # the condition began: raise an alarm
    escalated = "escalated"  # a higher level is breached now
    persists = "persists"  # still breached: update the alarm's last value
    cleared = "cleared"  # the condition ended


@dataclass(frozen=True)
class Level:
    """One severity and its line(s): ``above`` and/or ``below`` (both: outside the band)."""

    severity: Severity
    above: float | None = None
    below: float | None = None

    def breached(self, value: float) -> bool:
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )

    def recovered(self, value: float, deadband: float) -> bool:
        return (self.above is None or value < self.above - deadband) and (
            self.below is None or value > self.below + deadband
        )


@dataclass(frozen=True)
class Rule:
    """An effective rule for one device (the type's rule with the device's override merged)."""

    kind: Kind
    metric: str | None
    levels: tuple[Level, ...]
    deadband: float = 0.0
    for_seconds: float = 0.0
    window_seconds: float = 0.0
    silence_seconds: float = 0.0

    def __post_init__(self) -> None:
        # Least severe first: the lowest level decides when the alarm clears.
        object.__setattr__(self, "levels", ordered_levels(self.levels))

    @property
    def lowest(self) -> Level:
        return self.levels[0]


@dataclass(frozen=True)
class Override:
    """A device's changes to a type's rule; ``None`` keeps the rule's value."""

    enabled: bool | None = None
    levels: tuple[Level, ...] | None = None
    deadband: float | None = None
    for_seconds: float | None = None
    window_seconds: float | None = None
    silence_seconds: float | None = None


def merge(rule: Rule, override: Override | None, *, enabled: bool = True) -> Rule | None:
    """The rule as it applies to one device, or None where it is switched off.

    Merge order: the device type's rule, then the device's override field by field (a field
    the override sets replaces the rule's; ``levels`` is replaced as a whole, never mixed).
    ``enabled`` is the type rule's switch; the override's ``enabled`` decides when it is set.
    """
    if override is None:
        return rule if enabled else None
    if not (enabled if override.enabled is None else override.enabled):
        return None
    changes: dict[str, Any] = {
        name: getattr(override, name)
        for name in ("levels", "deadband", "for_seconds", "window_seconds", "silence_seconds")
        if getattr(override, name) is not None
    }
    return replace(rule, **changes) if changes else rule


@dataclass(frozen=True)
class RuleState:
    """What evaluation keeps per (device, rule): a few numbers (times as epoch seconds)."""

    last_ts: float | None = None
    raised: Severity | None = None
    # When each level's breach began (for ``sustained``), by severity.
    since: Mapping[str, float] = field(default_factory=dict)
    # Sparse (time, value) history over the rate window, oldest first (at most ~19 points).
    points: tuple[tuple[float, float], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "last_ts": self.last_ts,
            "raised": self.raised.value if self.raised else None,
            "since": dict(self.since),
            "points": [list(p) for p in self.points],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> RuleState:
        if not data:
            return cls()
        raised = data.get("raised")
        return cls(
            last_ts=data.get("last_ts"),
            raised=Severity(raised) if raised else None,
            since=dict(data.get("since") or {}),
            points=tuple((float(t), float(v)) for t, v in data.get("points") or ()),
        )


@dataclass(frozen=True)
class Outcome:
    """What a sample (or the silence scan) did to the alarm of one device and rule."""

    signal: Signal
    severity: Severity  # the alarm's severity now (for ``cleared``: what it was)
    ts: float
    value: float | None = None  # what the rule judged (the reading, or the rate per minute)
    reading: float | None = None  # the metric's reading itself


# Rate history: a new point closer than window/RATE_SPACING to the one before replaces it.
RATE_SPACING = 16


def step(
    rule: Rule, state: RuleState, ts: float, values: Mapping[str, float]
) -> tuple[RuleState, Outcome | None]:
    """Apply one sample (``ts`` in epoch seconds). Returns the new state and the outcome."""
    if state.last_ts is not None and ts <= state.last_ts:
        return state, None  # a duplicate or a late sample: the newer ones decided already
    if rule.kind is Kind.no_data:
        return _seen(rule, state, ts, values)
    reading = values.get(rule.metric or "")
    if reading is None or not _finite(reading):
        return state, None
    state = replace(state, last_ts=ts)
    if rule.kind is Kind.rate:
        points = _push(state.points, ts, float(reading), rule.window_seconds)
        state = replace(state, points=points)
        observed = _rate(points, rule.window_seconds)
        if observed is None:
            return state, None
    else:
        observed = float(reading)
    return _judge(rule, state, ts, observed, float(reading))


def silence(rule: Rule, state: RuleState, now: float) -> tuple[RuleState, Outcome | None]:
    """For ``no_data`` rules: raise once nothing came for the limit or longer."""
    if rule.kind is not Kind.no_data or state.last_ts is None or state.raised is not None:
        return state, None
    if now - state.last_ts < rule.silence_seconds:
        return state, None
    severity = rule.lowest.severity
    silent_for = now - state.last_ts
    return replace(state, raised=severity), Outcome(Signal.raised, severity, now, silent_for)


def silent_after(rule: Rule, state: RuleState) -> float | None:
    """When a ``no_data`` rule would raise if nothing more arrives (None: it cannot)."""
    if rule.kind is not Kind.no_data or state.last_ts is None or state.raised is not None:
        return None
    return state.last_ts + rule.silence_seconds


def _seen(
    rule: Rule, state: RuleState, ts: float, values: Mapping[str, float]
) -> tuple[RuleState, Outcome | None]:
    if rule.metric is not None and rule.metric not in values:
        return state, None
    was = state.raised
    state = replace(state, last_ts=ts, raised=None)
    if was is None:
        return state, None
    return state, Outcome(Signal.cleared, was, ts)


def _judge(
    rule: Rule, state: RuleState, ts: float, observed: float, reading: float
) -> tuple[RuleState, Outcome | None]:
    since = _track(rule, state.since, ts, observed)
    ready = [
        level
        for level in rule.levels
        if level.breached(observed) and _held(rule, since, level.severity, ts)
    ]
    top = max((level.severity for level in ready), key=lambda s: s.rank, default=None)
    raised = state.raised
    if raised is None:
        if top is None:
            return replace(state, since=since), None
        new = replace(state, since=since, raised=top)
        return new, Outcome(Signal.raised, top, ts, observed, reading)
    if rule.lowest.recovered(observed, rule.deadband):
        return replace(state, since={}, raised=None), Outcome(
            Signal.cleared, raised, ts, observed, reading
        )
    if top is not None and top.rank > raised.rank:
        new = replace(state, since=since, raised=top)
        return new, Outcome(Signal.escalated, top, ts, observed, reading)
    return replace(state, since=since), Outcome(Signal.persists, raised, ts, observed, reading)


def _track(rule: Rule, since: Mapping[str, float], ts: float, observed: float) -> dict[str, float]:
    """Start or stop each level's breach clock; inside the dead band it keeps running."""
    if rule.kind is not Kind.sustained:
        return {}
    out = dict(since)
    for level in rule.levels:
        key = level.severity.value
        if level.breached(observed):
            out.setdefault(key, ts)
        elif level.recovered(observed, rule.deadband):
            out.pop(key, None)
    return out


def _held(rule: Rule, since: Mapping[str, float], severity: Severity, ts: float) -> bool:
    if rule.kind is not Kind.sustained:
        return True
    start = since.get(severity.value)
    return start is not None and ts - start >= rule.for_seconds


def _push(
    points: tuple[tuple[float, float], ...], ts: float, value: float, window: float
) -> tuple[tuple[float, float], ...]:
    kept = list(points)
    if len(kept) >= 2 and ts - kept[-2][0] < window / RATE_SPACING:
        kept[-1] = (ts, value)
    else:
        kept.append((ts, value))
    start = ts - window
    # Keep one point at or before the window's start: the anchor the rate is measured from.
    while len(kept) >= 2 and kept[1][0] <= start:
        kept.pop(0)
    return tuple(kept)


def _rate(points: tuple[tuple[float, float], ...], window: float) -> float | None:
    """Change per minute from the oldest kept point; None until half the window is covered."""
    if len(points) < 2:
        return None
    (t0, v0), (t1, v1) = points[0], points[-1]
    span = t1 - t0
    if span <= 0 or span < window / 2:
        return None
    return (v1 - v0) / (span / 60.0)


def more_extreme(rule: Rule, value: float, than: float) -> bool:
    """Whether ``value`` lies further into the alarm than ``than`` (an alarm's peak)."""
    level = rule.lowest
    if level.above is not None and level.below is not None:
        middle = (level.above + level.below) / 2
        return abs(value - middle) > abs(than - middle)
    if level.below is not None:
        return value < than
    return value > than


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- validation -------------------------------------------------------------------------------


def check(rule: Rule) -> list[FieldError]:
    """Everything wrong with a rule, each naming its field (empty when it is consistent)."""
    errors: list[FieldError] = []
    if rule.kind is Kind.no_data:
        _check_no_data(rule, errors)
    else:
        _check_levels(rule, errors)
        if rule.metric is None:
            errors.append(FieldError("metric", "this kind of rule needs a metric", "required"))
        if not math.isfinite(rule.deadband) or rule.deadband < 0:
            errors.append(FieldError("deadband", "must be zero or more"))
    if rule.kind is Kind.sustained and not rule.for_seconds > 0:
        errors.append(FieldError("for_seconds", "a sustained rule needs a positive duration"))
    if rule.kind is Kind.rate and not rule.window_seconds > 0:
        errors.append(FieldError("window_seconds", "a rate rule needs a positive window"))
    return errors


def _check_no_data(rule: Rule, errors: list[FieldError]) -> None:
    if not rule.silence_seconds > 0:
        errors.append(FieldError("silence_seconds", "a no-data rule needs a positive limit"))
    if (
        len(rule.levels) != 1
        or rule.levels[0].above is not None
        or rule.levels[0].below is not None
    ):
        errors.append(FieldError("levels", "a no-data rule has one level with a severity only"))


def _check_levels(rule: Rule, errors: list[FieldError]) -> None:
    levels = rule.levels
    if not levels:
        errors.append(FieldError("levels", "give at least one level", "required"))
        return
    severities = [level.severity for level in levels]
    if len(set(severities)) != len(severities):
        errors.append(FieldError("levels", "each severity may appear once", "duplicate"))
    shapes = {(level.above is not None, level.below is not None) for level in levels}
    for index, level in enumerate(levels):
        where = f"levels.{index}"
        bounds = [v for v in (level.above, level.below) if v is not None]
        if not bounds:
            errors.append(FieldError(where, "give above, below or both", "required"))
        elif not all(math.isfinite(v) for v in bounds):
            errors.append(FieldError(where, "lines must be finite numbers"))
        elif level.above is not None and level.below is not None:
            if level.below >= level.above:
                errors.append(FieldError(f"{where}.below", "must be below 'above'"))
            elif rule.deadband * 2 >= level.above - level.below:
                errors.append(FieldError("deadband", "the dead band leaves no normal range"))
    if len(shapes) > 1:
        errors.append(FieldError("levels", "all levels use the same lines (above/below/band)"))
    elif not errors:
        _check_order(levels, errors)


def _check_order(levels: tuple[Level, ...], errors: list[FieldError]) -> None:
    """A more severe level lies further out than a less severe one."""
    ordered = sorted(levels, key=lambda level: level.severity.rank)
    for lower, higher in itertools.pairwise(ordered):
        if lower.above is not None and higher.above is not None and higher.above < lower.above:
            errors.append(
                FieldError(
                    "levels",
                    text(
                        "{higher} must lie at or above {lower}",
                        higher=higher.severity,
                        lower=lower.severity,
                    ),
                )
            )
        if lower.below is not None and higher.below is not None and higher.below > lower.below:
            errors.append(
                FieldError(
                    "levels",
                    text(
                        "{higher} must lie at or below {lower}",
                        higher=higher.severity,
                        lower=lower.severity,
                    ),
                )
            )


def ordered_levels(levels: tuple[Level, ...]) -> tuple[Level, ...]:
    """Levels from least to most severe (the lowest one decides when the alarm clears)."""
    return tuple(sorted(levels, key=lambda level: level.severity.rank))
