"""What will happen to each report of the demo history (its fate), decided up front.

Rare outcomes get a minimum count so that even a two-day demo shows every state: some reports
are rejected, cancelled or merged as duplicates, and a few of the latest ones stop in each open
state (a backlog waiting at the operations centre, the dispatcher, a department or a grid
worker). The rest run the whole loop, with returns, failed verifications and late handling.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cityops.demo.timing import Arrival

# Open states a few recent cases stop in, with the window (hours before the end: oldest,
# newest) they are reported in, so that they have had time to get there.
STOPS: dict[str, tuple[int, int]] = {
    "reported": (24, 0),
    "registered": (24, 1),
    "dispatched": (24, 2),
    "returned": (36, 8),
    "accepted": (36, 8),
    "handled": (60, 12),
    "verified": (72, 22),
}
QUICK_STOPS = frozenset({"handled", "verified"})  # only categories handled within a day
STOPS_EACH = 2
# (share of all reports, minimum count) of the outcomes that end the loop early.
REJECTED = (0.05, 2)
CANCELLED = (0.03, 2)
DUPLICATES = (0.04, 2)
# Chances along the loop.
WRONG_DISPATCH = 0.06
VERIFY_FAILS = 0.07
LATE = 0.10
REOPEN_IF_UNHAPPY = 0.4
NO_CATEGORY = 0.3  # citizens often leave the category to the operator
PHOTO = {"citizen": 0.2, "open311": 0.2, "gridworker": 0.35, "hotline": 0.0}
RATES = 0.75  # share of citizens who rate a closed case
RATINGS = (5, 4, 3, 2, 1)
RATING_WEIGHTS = (60, 24, 8, 5, 3)
UNHAPPY_WEIGHTS = (25, 25, 20, 18, 12)


@dataclass
class Fate:
    """The planned course of one report."""

    code: str
    reject: bool = False
    cancel: bool = False
    duplicate: bool = False
    wrong_dispatch: bool = False
    verify_fails: bool = False
    late: bool = False
    reopen: bool = False
    no_category: bool = False
    photo: bool = False
    rating: int | None = None
    stop_at: str | None = None


def plan_fates(
    arrivals: list[Arrival],
    *,
    codes: Sequence[str],
    weights: Sequence[int],
    quick: frozenset[str],
    end: datetime,
    rng: random.Random,
) -> list[Fate]:
    """One fate per arrival, in the same order; ``codes`` are the categories to report about
    (chosen by ``weights``), ``quick`` those handled within a working day."""
    count = len(arrivals)
    fates = [_ordinary(arrival, rng.choices(codes, weights)[0], rng) for arrival in arrivals]
    free = list(range(count))
    rng.shuffle(free)
    for state, (oldest, newest) in STOPS.items():
        since, until = end - timedelta(hours=oldest), end - timedelta(hours=newest)
        pool = [
            i
            for i in free
            if since <= arrivals[i].at <= until
            and (state not in QUICK_STOPS or fates[i].code in quick)
        ]
        for index in pool[:STOPS_EACH]:
            _stop(fates[index], state)
            free.remove(index)
    for outcome, (share, minimum) in (
        ("reject", REJECTED),
        ("cancel", CANCELLED),
        ("duplicate", DUPLICATES),
    ):
        # A duplicate needs an earlier open case to repeat, so not among the very first.
        pool = [i for i in free if outcome != "duplicate" or i >= count // 5]
        for index in pool[: max(minimum, round(share * count))]:
            setattr(fates[index], outcome, True)
            free.remove(index)
    return fates


def _stop(fate: Fate, state: str) -> None:
    fate.stop_at = state
    fate.wrong_dispatch = state == "returned"
    if state in QUICK_STOPS:
        fate.late = fate.verify_fails = False


def _ordinary(arrival: Arrival, code: str, rng: random.Random) -> Fate:
    wrong, fails, late = (rng.random() < p for p in (WRONG_DISPATCH, VERIFY_FAILS, LATE))
    unhappy = wrong or fails or late
    rating = None
    if arrival.source in ("citizen", "open311") and rng.random() < RATES:
        weights = UNHAPPY_WEIGHTS if unhappy else RATING_WEIGHTS
        rating = rng.choices(RATINGS, weights)[0]
    return Fate(
        code=code,
        wrong_dispatch=wrong,
        verify_fails=fails,
        late=late,
        reopen=rng.random() < REOPEN_IF_UNHAPPY,
        no_category=arrival.source == "citizen" and rng.random() < NO_CATEGORY,
        photo=rng.random() < PHOTO[arrival.source],
        rating=rating,
    )
