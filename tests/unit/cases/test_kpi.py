"""The case-loop KPIs on hand-built cases with answers worked out by hand.

The calendar is the default one: Mon-Fri, 09:00-12:00 and 13:30-18:00 in Asia/Shanghai
(7.5 working hours a day). 6 March 2026 is a Friday, 9 March the Monday after.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.kpi import (
    CaseFacts,
    Period,
    Ratio,
    compute_kpis,
    group_key,
    kpi_tables,
    kpis_by_group,
    percentile,
)
from cityops.cases.sla import WorkingCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = WorkingCalendar()


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of March 2026 in Shanghai."""
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


PERIOD = Period(since=at(2, 0), until=at(16, 0), as_of=at(16, 0))


def case(**fields: Any) -> CaseFacts:
    values: dict[str, Any] = {"state": "reported", "created_at": at(2, 10)}
    values.update(fields)
    return CaseFacts(**values)


def handled(start: datetime, end: datetime, **fields: Any) -> CaseFacts:
    return case(
        state="handled", created_at=start, first_dispatched_at=start, handled_at=end, **fields
    )


# --- percentiles ---------------------------------------------------------------------------


def test_percentile_interpolates_linearly_between_ranks() -> None:
    values = [0.5, 2.0, 3.0, 4.0, 15.0]
    assert percentile(values, 90) == pytest.approx(10.6)  # 4 + 0.6 * (15 - 4)
    assert percentile(values, 50) == 3.0
    assert percentile([7.0, 1.0], 50) == 4.0  # order does not matter


def test_percentile_of_one_or_no_value() -> None:
    assert percentile([2.5], 90) == 2.5
    assert percentile([], 90) is None


def test_percentile_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"1\.\.99"):
        percentile([1.0, 2.0], 100)


def test_period_must_be_ordered_and_aware() -> None:
    with pytest.raises(ValueError, match="before until"):
        Period(since=at(3, 0), until=at(3, 0), as_of=at(3, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        Period(since=datetime(2026, 3, 1), until=at(3, 0), as_of=at(3, 0))


# --- durations -----------------------------------------------------------------------------


def test_handling_time_across_a_weekend_in_working_and_wall_hours() -> None:
    cases = [
        handled(at(6, 17), at(9, 10)),  # Fri 17-18 + Mon 9-10: 2 h, 65 h wall
        handled(at(6, 16), at(9, 11)),  # 2 + 2 = 4 h, 67 h wall
        handled(at(9, 9), at(9, 13, 30)),  # lunch is not work: 3 h, 4.5 h wall
        handled(at(5, 9), at(9, 9)),  # Thu + Fri: 15 h, 96 h wall
        handled(at(9, 10), at(9, 10, 30)),  # 0.5 h
    ]
    handling = compute_kpis(cases, CALENDAR, PERIOD).handling
    assert handling.count == 5
    assert handling.median_working_hours == pytest.approx(3.0)
    assert handling.p90_working_hours == pytest.approx(10.6)
    assert handling.median_hours == pytest.approx(65.0)
    assert handling.p90_hours == pytest.approx(84.4)  # 67 + 0.6 * (96 - 67)


def test_handling_time_leaves_out_the_time_back_at_dispatch() -> None:
    returned = handled(
        at(9, 9),
        at(9, 16),
        returned_at=at(9, 11),
        returned_seconds=3 * 3600,  # 11:00-14:00: 1.5 working hours
        return_count=1,
    )
    handling = compute_kpis([returned], CALENDAR, PERIOD).handling
    assert handling.median_working_hours == pytest.approx(5.5 - 1.5)
    assert handling.median_hours == pytest.approx(7.0 - 3.0)


def test_registration_and_dispatch_times() -> None:
    one = case(
        state="dispatched",
        created_at=at(6, 17, 30),
        registered_at=at(9, 9, 30),  # 0.5 + 0.5 = 1 working hour, 64 h wall
        first_dispatched_at=at(9, 14),  # 9:30-12 + 13:30-14 = 3 working hours
    )
    kpis = compute_kpis([one], CALENDAR, PERIOD)
    assert kpis.registration.median_working_hours == pytest.approx(1.0)
    assert kpis.registration.median_hours == pytest.approx(64.0)
    assert kpis.dispatch.median_working_hours == pytest.approx(3.0)
    assert kpis.dispatch.p90_hours == pytest.approx(4.5)


def test_stages_count_in_the_period_they_end() -> None:
    before = handled(at(1, 9), at(1, 10))  # a Sunday before the period
    after = handled(at(16, 9), at(16, 10))  # on ``until``: outside [since, until)
    kpis = compute_kpis([before, after], CALENDAR, PERIOD)
    assert kpis.handling.count == 0
    assert kpis.on_time == Ratio(0, 0)


# --- rates ---------------------------------------------------------------------------------


def test_on_time_rate_counts_handled_by_the_deadline() -> None:
    cases = [
        handled(at(9, 9), at(9, 10), handle_due_at=at(9, 17)),
        handled(at(9, 9), at(9, 17), handle_due_at=at(9, 17)),  # exactly on time
        handled(at(9, 9), at(10, 9), handle_due_at=at(9, 17)),  # late
        handled(at(9, 9), at(9, 11), handle_due_at=None),  # no deadline: cannot be late
    ]
    kpis = compute_kpis(cases, CALENDAR, PERIOD)
    assert kpis.on_time == Ratio(3, 4)
    assert kpis.on_time.rate == 0.75


def test_return_rate_over_cases_dispatched_in_the_period() -> None:
    cases = [
        case(state="dispatched", first_dispatched_at=at(3, 10)),
        case(state="accepted", first_dispatched_at=at(3, 10), return_count=2),
        case(state="returned", first_dispatched_at=at(4, 10), return_count=1),
        case(state="accepted", first_dispatched_at=at(5, 10)),
        case(state="accepted", first_dispatched_at=at(1, 10), return_count=1),  # before
    ]
    assert compute_kpis(cases, CALENDAR, PERIOD).returned == Ratio(2, 4)


def test_reopen_rate_over_cases_closed_in_the_period() -> None:
    cases = [
        case(state="closed", closed_at=at(4, 10)),
        case(state="evaluated", closed_at=at(5, 10), reopen_count=1),
        case(state="closed", closed_at=at(6, 10)),
        case(state="closed", closed_at=at(6, 11), reopen_count=2),
        case(state="rejected", closed_at=at(4, 10)),  # not a closed case
        case(state="dispatched", reopen_count=1),  # reopened, not closed again yet
    ]
    kpis = compute_kpis(cases, CALENDAR, PERIOD)
    assert kpis.closed == 4
    assert kpis.reopened == Ratio(2, 4)
    assert kpis.reopened.rate == 0.5


def test_verification_pass_rate_counts_failed_checks() -> None:
    cases = [
        case(state="verified", verified_at=at(4, 10)),
        case(state="closed", verified_at=at(4, 11), verify_fail_count=2),
        case(state="accepted", verify_fail_count=1),  # not verified yet: not counted
    ]
    kpis = compute_kpis(cases, CALENDAR, PERIOD)
    assert kpis.verification == Ratio(2, 4)


def test_satisfaction_is_the_mean_rating_of_the_period() -> None:
    cases = [
        case(state="evaluated", evaluated_at=at(4, 10), rating=5),
        case(state="evaluated", evaluated_at=at(5, 10), rating=4),
        case(state="evaluated", evaluated_at=at(5, 10), rating=4),
        case(state="dispatched", evaluated_at=None, rating=1),  # reopened: rating withdrawn
        case(state="evaluated", evaluated_at=at(20, 10), rating=1),  # after the period
    ]
    kpis = compute_kpis(cases, CALENDAR, PERIOD)
    assert kpis.rating_count == 3
    assert kpis.satisfaction == pytest.approx(13 / 3)


def test_overdue_open_cases_by_their_current_stage() -> None:
    past, future = at(10, 9), at(20, 9)
    cases = [
        case(state="reported", register_due_at=past),
        case(state="registered", dispatch_due_at=past),
        case(state="returned", dispatch_due_at=future),
        case(state="accepted", handle_due_at=past, created_at=at(1, 9)),  # older cases count
        case(state="handled", handle_due_at=past),  # awaiting verification: not overdue
        case(state="closed", handle_due_at=past),
        case(state="dispatched", handle_due_at=past, created_at=at(16, 9)),  # after until
    ]
    assert compute_kpis(cases, CALENDAR, PERIOD).overdue_open == 3


def test_counts_by_state_of_the_cases_reported_in_the_period() -> None:
    cases = [
        case(state="reported"),
        case(state="dispatched"),
        case(state="dispatched"),
        case(state="closed", created_at=at(1, 10), closed_at=at(3, 10)),
    ]
    kpis = compute_kpis(cases, CALENDAR, PERIOD)
    assert kpis.reported == 3
    assert kpis.by_state["dispatched"] == 2
    assert kpis.by_state["reported"] == 1
    assert kpis.by_state["closed"] == 0
    assert sum(kpis.by_state.values()) == 3


def test_no_cases_gives_no_figures() -> None:
    kpis = compute_kpis([], CALENDAR, PERIOD)
    assert kpis.reported == kpis.closed == kpis.overdue_open == kpis.rating_count == 0
    for durations in (kpis.registration, kpis.dispatch, kpis.handling):
        assert durations.count == 0
        assert durations.median_working_hours is None
        assert durations.p90_working_hours is None
        assert durations.median_hours is None
        assert durations.p90_hours is None
    for ratio in (kpis.on_time, kpis.returned, kpis.verification, kpis.reopened):
        assert ratio.rate is None
    assert kpis.satisfaction is None


# --- grouping ------------------------------------------------------------------------------


def test_groups_by_department_with_a_group_for_none() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    cases = [
        case(state="dispatched", department_id=first),
        case(state="accepted", department_id=first),
        case(state="dispatched", department_id=second),
        case(state="reported"),
    ]
    groups = kpis_by_group(cases, CALENDAR, PERIOD, "department")
    assert {key: kpis.reported for key, kpis in groups.items()} == {first: 2, second: 1, None: 1}
    city = kpis_by_group(cases, CALENDAR, PERIOD, "city")
    assert list(city) == [None]
    assert city[None].reported == 4


def test_tables_give_the_total_and_the_groups_of_the_same_cases() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    cases = [
        handled(at(9, 9), at(9, 10), district_id=first),
        handled(at(9, 9), at(9, 12), district_id=first),
        handled(at(9, 9), at(9, 15), district_id=second),
    ]
    total, groups = kpi_tables(cases, CALENDAR, PERIOD, "district")
    assert total == compute_kpis(cases, CALENDAR, PERIOD)
    assert total.handling.median_working_hours == pytest.approx(3.0)
    assert groups[first].handling.median_working_hours == pytest.approx(2.0)
    assert groups[second].handling.median_working_hours == pytest.approx(4.5)


def test_group_keys() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    one = case(department_id=ids[0], category_id=ids[1], district_id=ids[2])
    assert group_key(one, "department") == ids[0]
    assert group_key(one, "category") == ids[1]
    assert group_key(one, "district") == ids[2]
    assert group_key(one, "city") is None


def test_working_hours_follow_the_calendar_holidays() -> None:
    holiday = WorkingCalendar(holidays=frozenset({at(9, 0).date()}))
    one = handled(at(6, 17), at(10, 10))  # Monday off: Fri 17-18 + Tue 9-10
    kpis = compute_kpis([one], holiday, PERIOD)
    assert kpis.handling.median_working_hours == pytest.approx(2.0)
    assert kpis.handling.median_hours == pytest.approx(
        (at(10, 10) - at(6, 17)) / timedelta(hours=1)
    )
