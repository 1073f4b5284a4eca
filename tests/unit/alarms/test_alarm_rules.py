"""The rule engine in isolation: every kind, hysteresis, levels, duplicates and late samples,
merging overrides, validation; and property-style checks over seeded random sequences."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import pytest

from cityops.alarms.rules import (
    RATE_SPACING,
    Kind,
    Level,
    Outcome,
    Override,
    Rule,
    RuleState,
    Severity,
    Signal,
    check,
    merge,
    silence,
    silent_after,
    step,
)

W, M, C = Severity.warning, Severity.major, Severity.critical
ABOVE = Rule(Kind.threshold, "level", (Level(W, above=2.5),), deadband=0.2)


def run(
    rule: Rule, values: Sequence[float | None], *, start: float = 0.0, every: float = 60.0
) -> tuple[RuleState, list[Outcome | None]]:
    """Feed values one ``every`` seconds apart (None: a sample without the metric)."""
    state, outcomes = RuleState(), []
    for index, value in enumerate(values):
        sample = {} if value is None else {rule.metric or "x": value}
        state, outcome = step(rule, state, start + index * every, sample)
        outcomes.append(outcome)
    return state, outcomes


def signals(outcomes: Iterable[Outcome | None]) -> list[str | None]:
    return [o.signal.value if o else None for o in outcomes]


# --- threshold ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "values", "expected"),
    [
        (
            Level(W, above=2.5),
            [2.4, 2.5, 2.6, 2.7, 2.4, 2.31, 2.29, 2.6],
            [None, None, "raised", "persists", "persists", "persists", "cleared", "raised"],
        ),
        (
            Level(W, below=1.0),
            [1.1, 1.0, 0.9, 1.1, 1.21, 0.5],
            [None, None, "raised", "persists", "cleared", "raised"],
        ),
        (
            Level(W, above=3.0, below=1.0),
            [2.0, 3.1, 2.9, 2.7, 0.9, 1.1, 1.3, 2.0],
            [None, "raised", "persists", "cleared", "raised", "persists", "cleared", None],
        ),
    ],
    ids=["above", "below", "outside-band"],
)
def test_threshold_raises_past_the_line_and_clears_past_the_dead_band(
    level: Level, values: list[float], expected: list[str | None]
) -> None:
    rule = Rule(Kind.threshold, "x", (level,), deadband=0.2)
    _, outcomes = run(rule, values)
    assert signals(outcomes) == expected


def test_an_outcome_carries_the_reading_and_its_time() -> None:
    _, outcomes = run(ABOVE, [2.0, 2.8], start=1000.0)
    raised = outcomes[1]
    assert raised == Outcome(Signal.raised, W, 1060.0, 2.8, 2.8)


def test_levels_raise_at_the_highest_breached_and_escalate_but_never_step_down() -> None:
    rule = Rule(
        Kind.threshold,
        "x",
        (Level(C, above=4.0), Level(W, above=2.5), Level(M, above=3.0)),
        deadband=0.1,
    )
    assert [level.severity for level in rule.levels] == [W, M, C]  # ordered least severe first
    _, outcomes = run(rule, [3.2, 4.1, 3.5, 2.6, 2.45, 2.39, 4.5])
    assert signals(outcomes) == [
        "raised",
        "escalated",
        "persists",
        "persists",
        "persists",
        "cleared",
        "raised",
    ]
    assert [o.severity for o in outcomes if o] == [M, C, C, C, C, C, C]


def test_a_sample_without_the_metric_or_with_a_non_number_changes_nothing() -> None:
    state, outcomes = run(ABOVE, [2.8, None])
    assert signals(outcomes) == ["raised", None]
    for bad in (float("nan"), float("inf"), True):
        after, outcome = step(ABOVE, state, 500.0, {"level": bad})
        assert (after, outcome) == (state, None)


# --- duplicates and late samples ---------------------------------------------------------------


def test_a_duplicate_sample_is_skipped() -> None:
    state, _ = run(ABOVE, [2.8])
    again, outcome = step(ABOVE, state, 0.0, {"level": 2.8})
    assert (again, outcome) == (state, None)


def test_a_late_sample_does_not_undo_what_newer_readings_decided() -> None:
    state, outcomes = run(ABOVE, [2.8, 2.0])  # raised at t=0, cleared at t=60
    assert signals(outcomes) == ["raised", "cleared"]
    late, outcome = step(ABOVE, state, 30.0, {"level": 9.9})
    assert (late, outcome) == (state, None)


# --- sustained ---------------------------------------------------------------------------------

SUSTAINED = Rule(Kind.sustained, "x", (Level(W, above=10.0),), deadband=1.0, for_seconds=300)


def test_sustained_waits_for_its_duration() -> None:
    _, outcomes = run(SUSTAINED, [11, 11, 11, 11, 11, 11, 11])  # one a minute
    assert signals(outcomes) == [None, None, None, None, None, "raised", "persists"]
    assert outcomes[5] is not None
    assert outcomes[5].ts == 300.0


def test_sustained_restarts_its_clock_after_a_recovery_but_not_inside_the_dead_band() -> None:
    recovered = [11, 11, 11, 8.9, 11, 11, 11, 11, 11, 11]
    _, outcomes = run(SUSTAINED, recovered)
    assert signals(outcomes).index("raised") == 9  # counted again from the sample at index 4
    hovering = [11, 11, 9.5, 10.0, 11, 11]  # dips into the dead band only
    _, outcomes = run(SUSTAINED, hovering)
    assert signals(outcomes) == [None, None, None, None, None, "raised"]


def test_sustained_escalates_only_when_the_higher_level_has_held_too() -> None:
    rule = Rule(
        Kind.sustained,
        "x",
        (Level(W, above=10.0), Level(C, above=20.0)),
        deadband=1.0,
        for_seconds=120,
    )
    _, outcomes = run(rule, [11, 11, 21, 21, 21, 21])
    assert signals(outcomes) == [None, None, "raised", "persists", "escalated", "persists"]
    assert outcomes[2] is not None
    assert outcomes[2].severity is W


# --- rate of change ----------------------------------------------------------------------------

RATE = Rule(Kind.rate, "p", (Level(W, below=-0.5),), deadband=0.1, window_seconds=600)


def test_rate_needs_half_its_window_then_judges_the_change_per_minute() -> None:
    falling = [100 - i * 1.0 for i in range(12)]  # one a minute, 1.0 per minute down
    _, outcomes = run(RATE, falling)
    assert signals(outcomes)[:5] == [None] * 5  # less than 300 s of history
    assert signals(outcomes)[5:7] == ["raised", "persists"]
    assert outcomes[5] is not None
    assert outcomes[5].value == pytest.approx(-1.0)
    assert outcomes[5].reading == 95.0


def test_rate_clears_when_the_fall_slows_past_the_dead_band() -> None:
    values = [100 - i * 1.0 for i in range(8)] + [92.0] * 12
    _, outcomes = run(RATE, values)
    seen = [s for s in signals(outcomes) if s]
    assert seen[0] == "raised"
    assert seen[-1] == "cleared"
    assert seen.count("cleared") == 1


def test_rate_history_stays_small_however_many_samples_arrive() -> None:
    state = RuleState()
    for i in range(5000):
        state, _ = step(RATE, state, i * 1.0, {"p": 50.0 + (i % 7)})
    assert len(state.points) <= RATE_SPACING + 3  # spaced window/16 apart, anchor, newest
    assert state.points[0][0] <= 4999 - 600  # the anchor lies at the window's start


# --- no data -----------------------------------------------------------------------------------

SILENCE = Rule(Kind.no_data, None, (Level(M),), silence_seconds=900)


def test_no_data_raises_at_its_limit_and_clears_with_the_next_sample() -> None:
    state, outcomes = run(SILENCE, [1.0])
    assert outcomes == [None]
    assert silent_after(SILENCE, state) == 900.0
    assert silence(SILENCE, state, 899.0) == (state, None)
    raised, outcome = silence(SILENCE, state, 900.0)
    assert outcome == Outcome(Signal.raised, M, 900.0, 900.0)
    assert silence(SILENCE, raised, 5000.0)[1] is None  # raised once, not again
    assert silent_after(SILENCE, raised) is None
    back, outcome = step(SILENCE, raised, 1200.0, {"x": 3.0})
    assert outcome is not None
    assert outcome.signal is Signal.cleared
    assert silent_after(SILENCE, back) == 2100.0


def test_no_data_for_one_metric_ignores_the_others() -> None:
    rule = Rule(Kind.no_data, "battery", (Level(W),), silence_seconds=60)
    state, _ = step(rule, RuleState(), 0.0, {"battery": 3.6})
    state, _ = step(rule, state, 100.0, {"level": 2.0})
    assert silence(rule, state, 100.0)[1] is not None


def test_a_device_never_heard_from_is_not_silent() -> None:
    assert silence(SILENCE, RuleState(), 10**9) == (RuleState(), None)


# --- state -------------------------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    state, _ = run(SUSTAINED, [11, 11, 11, 11, 11, 11])
    assert RuleState.from_json(state.to_json()) == state
    state, _ = run(RATE, [100 - i for i in range(10)])
    assert RuleState.from_json(state.to_json()) == state
    assert RuleState.from_json(None) == RuleState()


# --- merging overrides -------------------------------------------------------------------------


def test_an_override_replaces_the_fields_it_sets_and_levels_as_a_whole() -> None:
    rule = Rule(Kind.threshold, "x", (Level(W, above=2.5), Level(C, above=3.0)), deadband=0.2)
    override = Override(levels=(Level(W, above=4.0),), for_seconds=None, deadband=None)
    merged = merge(rule, override)
    assert merged is not None
    assert merged.levels == (Level(W, above=4.0),)
    assert merged.deadband == 0.2
    assert merge(rule, Override(deadband=0.5)) == Rule(
        Kind.threshold, "x", rule.levels, deadband=0.5
    )


@pytest.mark.parametrize(
    ("rule_enabled", "override_enabled", "applies"),
    [
        (True, None, True),
        (True, False, False),
        (False, None, False),
        (False, True, True),
    ],
)
def test_the_override_switch_decides_when_set(
    rule_enabled: bool, override_enabled: bool | None, applies: bool
) -> None:
    merged = merge(ABOVE, Override(enabled=override_enabled), enabled=rule_enabled)
    assert (merged is not None) is applies


def test_no_override_leaves_the_rule() -> None:
    assert merge(ABOVE, None) is ABOVE
    assert merge(ABOVE, None, enabled=False) is None


# --- validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        (Rule(Kind.threshold, "x", ()), {"levels"}),
        (Rule(Kind.threshold, None, (Level(W, above=1),)), {"metric"}),
        (Rule(Kind.threshold, "x", (Level(W),)), {"levels.0"}),
        (Rule(Kind.threshold, "x", (Level(W, above=1, below=2),)), {"levels.0.below"}),
        (Rule(Kind.threshold, "x", (Level(W, above=2, below=1),), deadband=0.5), {"deadband"}),
        (Rule(Kind.threshold, "x", (Level(W, above=2),), deadband=-1), {"deadband"}),
        (Rule(Kind.threshold, "x", (Level(W, above=3), Level(C, above=2))), {"levels"}),
        (Rule(Kind.threshold, "x", (Level(W, below=3), Level(C, below=4))), {"levels"}),
        (Rule(Kind.threshold, "x", (Level(W, above=3), Level(C, below=1))), {"levels"}),
        (Rule(Kind.threshold, "x", (Level(W, above=3), Level(W, above=4))), {"levels"}),
        (Rule(Kind.threshold, "x", (Level(W, above=float("nan")),)), {"levels.0"}),
        (Rule(Kind.sustained, "x", (Level(W, above=3),)), {"for_seconds"}),
        (Rule(Kind.rate, "x", (Level(W, above=3),)), {"window_seconds"}),
        (Rule(Kind.no_data, None, (Level(W),)), {"silence_seconds"}),
        (Rule(Kind.no_data, None, (Level(W, above=1),), silence_seconds=60), {"levels"}),
    ],
)
def test_check_names_each_inconsistent_field(rule: Rule, fields: set[str]) -> None:
    assert {error.field for error in check(rule)} == fields


@pytest.mark.parametrize(
    "rule",
    [ABOVE, SUSTAINED, RATE, SILENCE, Rule(Kind.threshold, "x", (Level(C, above=5, below=1),))],
)
def test_check_passes_consistent_rules(rule: Rule) -> None:
    assert check(rule) == []


# --- properties over random sequences ----------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_property_values_inside_the_hysteresis_band_never_change_the_state(seed: int) -> None:
    rng = random.Random(seed)
    line, deadband = rng.uniform(-100, 100), rng.uniform(0.01, 10)
    rule = Rule(Kind.threshold, "x", (Level(W, above=line),), deadband=deadband)
    inside = [rng.uniform(line - deadband, line) for _ in range(200)]
    # Not raised: hovering in the band (at or below the line) never raises.
    _, outcomes = run(rule, inside)
    assert all(o is None for o in outcomes)
    # Raised: hovering in the band (at or above the clear line) never clears.
    _, outcomes = run(rule, [line + 1.0, *inside])
    assert set(signals(outcomes)) == {"raised", "persists"}


@pytest.mark.parametrize("seed", range(40))
def test_property_each_raise_and_clear_needs_a_full_crossing_of_the_band(seed: int) -> None:
    rng = random.Random(1000 + seed)
    line, deadband = 50.0, rng.uniform(0.5, 5)
    below = rng.random() < 0.5
    level = Level(W, below=line) if below else Level(W, above=line)
    rule = Rule(Kind.threshold, "x", (level,), deadband=deadband)
    values = [line + rng.gauss(0, deadband * 1.5) for _ in range(500)]
    _, outcomes = run(rule, values)
    changes = [
        (o.signal, v)
        for o, v in zip(outcomes, values, strict=True)
        if o
        and o.signal
        in (
            Signal.raised,
            Signal.cleared,
        )
    ]
    # Raises and clears alternate, starting with a raise.
    assert [s for s, _ in changes] == [
        Signal.raised if i % 2 == 0 else Signal.cleared for i in range(len(changes))
    ]
    sign = -1 if below else 1
    for signal, value in changes:
        if signal is Signal.raised:
            assert sign * (value - line) > 0
        else:
            assert sign * (value - line) < -deadband
    # No more changes than full crossings of the band (out past the line, back past the band).
    crossings, outside = 0, False
    for value in values:
        if not outside and sign * (value - line) > 0:
            outside, crossings = True, crossings + 1
        elif outside and sign * (value - line) < -deadband:
            outside, crossings = False, crossings + 1
    assert len(changes) == crossings


@pytest.mark.parametrize("seed", range(20))
def test_property_shuffled_and_repeated_delivery_never_raises_twice_for_one_reading(
    seed: int,
) -> None:
    """At-least-once delivery: resending samples (in any order after the first time) adds no
    raise or clear that the in-order stream did not have."""
    rng = random.Random(2000 + seed)
    times = [float(t * 10) for t in range(100)]
    values = [50 + rng.gauss(0, 5) for _ in times]
    in_order_state, outcomes = RuleState(), []
    for t, v in zip(times, values, strict=True):
        in_order_state, outcome = step(ABOVE_50, in_order_state, t, {"x": v})
        outcomes.append(outcome)
    expected = [o for o in outcomes if o and o.signal in (Signal.raised, Signal.cleared)]
    state, seen = RuleState(), []
    delivered = list(zip(times, values, strict=True))
    for t, v in delivered:
        replay = rng.sample(delivered, k=3)  # duplicates of anything sent so far or later
        for rt_, rv in [(t, v), *[(a, b) for a, b in replay if a <= t]]:
            state, outcome = step(ABOVE_50, state, rt_, {"x": rv})
            if outcome and outcome.signal in (Signal.raised, Signal.cleared):
                seen.append(outcome)
    assert seen == expected
    assert state == in_order_state


ABOVE_50 = Rule(Kind.threshold, "x", (Level(W, above=52.0),), deadband=2.0)
