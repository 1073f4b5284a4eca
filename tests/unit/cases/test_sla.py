"""Working-hour SLA arithmetic: calendars, deadlines and the SLA traffic light.

Default calendar: Asia/Shanghai, 09:00-12:00 and 13:30-18:00 (7.5 h/day), Mon-Fri.
Reference week: Mon 2026-03-02 .. Sun 2026-03-08 (no holidays in it).
"""

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.sla import (
    CHINA_2025_HOLIDAYS,
    CHINA_2025_WORKDAYS,
    CHINA_2026_HOLIDAYS,
    CHINA_2026_WORKDAYS,
    SlaStatus,
    TimeLimits,
    WorkingCalendar,
    sla_status,
    stage_due,
)

SH = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
PLAIN = WorkingCalendar()
CHINA_2026 = WorkingCalendar(holidays=CHINA_2026_HOLIDAYS, workdays=CHINA_2026_WORKDAYS)


def sh(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    """Shanghai wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


# --- add_working_hours ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        pytest.param(sh(3, 2, 9, 30), 2, sh(3, 2, 11, 30), id="within-one-period"),
        pytest.param(sh(3, 2, 11), 2, sh(3, 2, 14, 30), id="across-lunch"),
        pytest.param(sh(3, 2, 17), 2, sh(3, 3, 10), id="across-night"),
        pytest.param(sh(3, 6, 17), 2, sh(3, 9, 10), id="across-weekend"),
        pytest.param(sh(3, 2, 9), 3, sh(3, 2, 12), id="ends-exactly-at-lunch"),
        pytest.param(sh(3, 2, 9), 7.5, sh(3, 2, 18), id="one-full-day"),
        pytest.param(sh(3, 2, 9), 37.5, sh(3, 6, 18), id="one-full-week"),
        pytest.param(sh(3, 2, 10), 0.25, sh(3, 2, 10, 15), id="fraction-of-an-hour"),
    ],
)
def test_add_working_hours_plain_calendar(
    start: datetime, hours: float, expected: datetime
) -> None:
    assert PLAIN.add_working_hours(start, hours) == expected


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(sh(3, 2, 7), sh(3, 2, 10), id="before-nine"),
        pytest.param(sh(3, 2, 0), sh(3, 2, 10), id="midnight"),
        pytest.param(sh(3, 2, 12), sh(3, 2, 14, 30), id="exactly-at-lunch-start"),
        pytest.param(sh(3, 2, 12, 30), sh(3, 2, 14, 30), id="during-lunch"),
        pytest.param(sh(3, 2, 18), sh(3, 3, 10), id="exactly-at-closing"),
        pytest.param(sh(3, 2, 20), sh(3, 3, 10), id="evening"),
        pytest.param(sh(3, 7, 10), sh(3, 9, 10), id="saturday"),
        pytest.param(sh(3, 8, 23, 59), sh(3, 9, 10), id="late-sunday"),
    ],
)
def test_start_outside_working_time_counts_from_next_period(
    start: datetime, expected: datetime
) -> None:
    assert PLAIN.add_working_hours(start, 1) == expected


def test_result_is_utc() -> None:
    result = PLAIN.add_working_hours(sh(3, 2, 9), 1)

    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("hours", [0, 0.0, -1.5])
def test_non_positive_hours_return_start_unchanged_in_utc(hours: float) -> None:
    saturday = sh(3, 7, 10)  # outside working time: must not be moved to Monday

    result = PLAIN.add_working_hours(saturday, hours)

    assert result == saturday
    assert result.tzinfo is UTC


@pytest.mark.parametrize("hours", [float("nan"), float("inf")])
def test_non_finite_hours_are_rejected(hours: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        PLAIN.add_working_hours(sh(3, 2, 9), hours)


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        PLAIN.add_working_hours(datetime(2026, 3, 2, 9), 1)


def test_holiday_is_skipped() -> None:
    # Qingming 2026: Sat 04-04 .. Mon 04-06 off; Fri 17:00 + 2 h lands on Tuesday.
    assert CHINA_2026.add_working_hours(sh(4, 3, 17), 2) == sh(4, 7, 10)
    assert PLAIN.add_working_hours(sh(4, 3, 17), 2) == sh(4, 6, 10)


def test_make_up_workday_counts() -> None:
    # Spring Festival 2026: Sat 02-14 is a make-up working day, 02-15 .. 02-23 are off.
    assert CHINA_2026.add_working_hours(sh(2, 13, 17), 2) == sh(2, 14, 10)
    # One more full day jumps over the whole break to Tue 02-24.
    assert CHINA_2026.add_working_hours(sh(2, 13, 17), 9.5) == sh(2, 24, 10)


def test_holiday_start_counts_from_make_up_sunday() -> None:
    # New Year 2026: Thu 01-01 .. Sat 01-03 off, Sun 01-04 is a working day.
    assert CHINA_2026.add_working_hours(sh(1, 1, 10), 1) == sh(1, 4, 10)


def test_custom_holiday_and_workday() -> None:
    calendar = WorkingCalendar(
        holidays=frozenset({date(2026, 3, 3)}), workdays=frozenset({date(2026, 3, 7)})
    )

    assert calendar.is_working_day(date(2026, 3, 2))
    assert not calendar.is_working_day(date(2026, 3, 3))  # holiday on a Tuesday
    assert calendar.is_working_day(date(2026, 3, 7))  # make-up Saturday
    assert not calendar.is_working_day(date(2026, 3, 8))  # ordinary Sunday
    assert calendar.add_working_hours(sh(3, 2, 17), 2) == sh(3, 4, 10)


def test_input_in_other_zones_is_converted_to_calendar_zone() -> None:
    # Sun 2026-03-01 20:00 in New York (EST) == Mon 09:00 in Shanghai.
    new_york_evening = datetime(2026, 3, 1, 20, 0, tzinfo=NEW_YORK)
    utc_morning = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

    assert PLAIN.add_working_hours(new_york_evening, 2) == sh(3, 2, 11)
    assert PLAIN.add_working_hours(utc_morning, 2) == sh(3, 2, 11)
    # Sat 23:30 UTC is already Sunday in Shanghai: no working time until Monday.
    assert PLAIN.add_working_hours(datetime(2026, 3, 7, 23, 30, tzinfo=UTC), 1) == sh(3, 9, 10)


def test_long_span_of_2000_hours() -> None:
    # 2000 h = 266 full days + 5 h; 265 days are 53 whole weeks from Mon 2026-03-02,
    # day 266 is Mon 2027-03-08, and 5 h into Tue 2027-03-09 is 15:30.
    start = sh(3, 2, 9)
    due = PLAIN.add_working_hours(start, 2000)

    assert due == sh(3, 9, 15, 30, year=2027)
    assert PLAIN.working_hours_between(start, due) == pytest.approx(2000)


def test_calendar_behind_utc_uses_its_local_date() -> None:
    # Mon 20:00 in New York is already Tuesday in UTC; Monday's evening period still counts.
    late = WorkingCalendar(tz=NEW_YORK, periods=((time(9), time(21)),))
    monday_evening = datetime(2026, 3, 2, 20, 0, tzinfo=NEW_YORK)

    assert late.add_working_hours(monday_evening, 0.5) == datetime(
        2026, 3, 2, 20, 30, tzinfo=NEW_YORK
    )
    assert late.working_hours_between(monday_evening, monday_evening + timedelta(hours=1)) == 1.0


def test_calendar_in_dst_zone_keeps_wall_clock_periods() -> None:
    berlin = WorkingCalendar(tz=BERLIN)
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=BERLIN)  # clocks spring forward on Sun 03-29

    due = berlin.add_working_hours(friday, 2)

    assert due == datetime(2026, 3, 30, 10, 0, tzinfo=BERLIN)
    assert due.astimezone(UTC).hour == 8  # CEST (UTC+2), not CET


def test_period_across_dst_change_counts_real_elapsed_time() -> None:
    # 01:00-04:00 on the night Berlin skips 02:00-03:00 lasts only two real hours.
    night = WorkingCalendar(tz=BERLIN, periods=((time(1), time(4)),), weekdays=frozenset({6}))
    sunday = datetime(2026, 3, 29, 0, 0, tzinfo=BERLIN)

    assert night.working_hours_between(sunday, sunday + timedelta(days=1)) == 2.0


# --- working_hours_between --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(sh(3, 2, 9, 30), sh(3, 2, 11), 1.5, id="within-one-period"),
        pytest.param(sh(3, 2, 11), sh(3, 2, 14, 30), 2.0, id="across-lunch"),
        pytest.param(sh(3, 2, 12), sh(3, 2, 13, 30), 0.0, id="lunch-only"),
        pytest.param(sh(3, 2, 17), sh(3, 3, 10), 2.0, id="across-night"),
        pytest.param(sh(3, 6, 17), sh(3, 9, 10), 2.0, id="across-weekend"),
        pytest.param(sh(3, 7, 0), sh(3, 9, 0), 0.0, id="weekend-only"),
        pytest.param(sh(3, 2, 0), sh(3, 9, 0), 37.5, id="whole-week"),
        pytest.param(sh(3, 2, 11), sh(3, 2, 11), 0.0, id="empty-interval"),
        pytest.param(sh(3, 3, 11), sh(3, 2, 11), 0.0, id="reversed-interval"),
    ],
)
def test_working_hours_between(start: datetime, end: datetime, expected: float) -> None:
    assert PLAIN.working_hours_between(start, end) == pytest.approx(expected)


def test_working_hours_between_mixed_zones() -> None:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    end = datetime(2026, 3, 2, 0, 0, tzinfo=NEW_YORK)  # 13:00 Shanghai

    assert PLAIN.working_hours_between(start, end) == pytest.approx(3.0)


def test_working_hours_between_rejects_naive_end() -> None:
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        PLAIN.working_hours_between(sh(3, 2, 9), datetime(2026, 3, 3, 9))


@pytest.mark.parametrize(
    ("year", "holidays", "workdays"),
    [
        (2025, CHINA_2025_HOLIDAYS, CHINA_2025_WORKDAYS),
        (2026, CHINA_2026_HOLIDAYS, CHINA_2026_WORKDAYS),
    ],
)
def test_whole_year_with_official_holidays(
    year: int, holidays: frozenset[date], workdays: frozenset[date]
) -> None:
    # Both years: 365 days - 104 weekend days - 13 statutory holidays = 248 working days.
    calendar = WorkingCalendar(holidays=holidays, workdays=workdays)
    start = datetime(year, 1, 1, tzinfo=SH)

    hours = calendar.working_hours_between(start, start.replace(year=year + 1))

    assert hours == pytest.approx(248 * 7.5)


@pytest.mark.parametrize(
    ("year", "holidays", "workdays"),
    [
        (2025, CHINA_2025_HOLIDAYS, CHINA_2025_WORKDAYS),
        (2026, CHINA_2026_HOLIDAYS, CHINA_2026_WORKDAYS),
    ],
)
def test_official_holiday_sets_are_consistent(
    year: int, holidays: frozenset[date], workdays: frozenset[date]
) -> None:
    assert {d.year for d in holidays | workdays} == {year}
    assert all(d.weekday() >= 5 for d in workdays)  # make-up days are weekends
    weekday_holidays = sum(1 for d in holidays if d.weekday() < 5)
    # Statutory holidays are 13 days a year since 2025; the rest is shuffled weekends.
    assert weekday_holidays - len(workdays) == 13


# --- properties ---------------------------------------------------------------------------------

ZONES = [SH, UTC, NEW_YORK, BERLIN, ZoneInfo("Asia/Kolkata")]


def _random_moment(rng: random.Random) -> datetime:
    base = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(2 * 365 * 86400))
    return (base + timedelta(microseconds=rng.randrange(1_000_000))).astimezone(rng.choice(ZONES))


def _random_hours(rng: random.Random) -> float:
    kind = rng.random()
    if kind < 0.1:
        return 0.0
    if kind < 0.2:
        return float(rng.randrange(1, 40)) * 0.5  # whole/half hours hit period edges
    if kind < 0.25:
        return rng.uniform(100, 2000)
    return rng.uniform(0, 40)


@pytest.mark.parametrize("calendar", [PLAIN, CHINA_2026], ids=["plain", "china-2026"])
def test_between_inverts_add(calendar: WorkingCalendar) -> None:
    rng = random.Random(20260302)
    for _ in range(400):
        start, hours = _random_moment(rng), _random_hours(rng)

        due = calendar.add_working_hours(start, hours)

        assert due >= start
        # timedelta keeps microseconds, so the round trip is exact to ~1e-10 h.
        assert calendar.working_hours_between(start, due) == pytest.approx(hours, abs=1e-9), (
            start,
            hours,
        )


def test_add_inverts_between_inside_working_time() -> None:
    rng = random.Random(7)
    for _ in range(400):
        start = _random_moment(rng)
        # An end strictly inside a working period is the unique moment with that many hours.
        day = start.astimezone(SH).date() + timedelta(days=rng.randrange(0, 60))
        while not CHINA_2026.is_working_day(day):
            day += timedelta(days=1)
        begin, finish = rng.choice(CHINA_2026.periods)
        span = (datetime.combine(day, finish) - datetime.combine(day, begin)).total_seconds()
        end = datetime.combine(day, begin, tzinfo=SH) + timedelta(seconds=rng.uniform(1, span - 1))
        if end <= start:
            continue

        hours = CHINA_2026.working_hours_between(start, end)

        assert abs(CHINA_2026.add_working_hours(start, hours) - end) < timedelta(milliseconds=1)


def test_add_is_monotonic_in_hours() -> None:
    rng = random.Random(11)
    for _ in range(200):
        start = _random_moment(rng)
        low, high = sorted((_random_hours(rng), _random_hours(rng)))

        assert PLAIN.add_working_hours(start, low) <= PLAIN.add_working_hours(start, high)


# --- sla_status ---------------------------------------------------------------------------------

STARTED = sh(3, 2, 9)
DUE = sh(3, 2, 18)  # 7.5 working hours; 80 % is reached at 16:30
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(STARTED - timedelta(hours=1), SlaStatus.ok, id="before-start"),
        pytest.param(STARTED, SlaStatus.ok, id="at-start"),
        pytest.param(sh(3, 2, 16, 30) - TICK, SlaStatus.ok, id="just-before-warning"),
        pytest.param(sh(3, 2, 16, 30), SlaStatus.warning, id="at-warning"),
        pytest.param(DUE - TICK, SlaStatus.warning, id="just-before-due"),
        pytest.param(DUE, SlaStatus.warning, id="at-due"),
        pytest.param(DUE + TICK, SlaStatus.overdue, id="just-after-due"),
        pytest.param(sh(3, 7, 10), SlaStatus.overdue, id="overdue-on-weekend"),
    ],
)
def test_sla_status_boundaries(now: datetime, expected: SlaStatus) -> None:
    assert sla_status(started_at=STARTED, due_at=DUE, now=now, calendar=PLAIN) == expected


def test_warning_ratio_counts_working_hours_not_clock_hours() -> None:
    # Half of 7.5 working hours is reached at 14:15 (3 h morning + 45 min), not at 13:30.
    def status(now: datetime) -> SlaStatus:
        return sla_status(
            started_at=STARTED, due_at=DUE, now=now, calendar=PLAIN, warning_ratio=0.5
        )

    assert status(sh(3, 2, 13, 30)) == SlaStatus.ok
    assert status(sh(3, 2, 14, 15) - TICK) == SlaStatus.ok
    assert status(sh(3, 2, 14, 15)) == SlaStatus.warning


def test_sla_status_accepts_other_zones() -> None:
    now_utc = datetime(2026, 3, 2, 10, 0, 1, tzinfo=UTC)  # 18:00:01 Shanghai

    assert sla_status(started_at=STARTED, due_at=DUE, now=now_utc, calendar=PLAIN) == "overdue"


def test_sla_status_without_deadline_is_ok() -> None:
    far_future = sh(1, 1, year=2030)

    assert (
        sla_status(started_at=STARTED, due_at=None, now=far_future, calendar=PLAIN) is SlaStatus.ok
    )


def test_sla_status_without_working_time_left_is_warning() -> None:
    # Started and due on the same weekend: no working time to use, so warn at once.
    status = sla_status(
        started_at=sh(3, 7, 10), due_at=sh(3, 8, 10), now=sh(3, 7, 11), calendar=PLAIN
    )

    assert status == SlaStatus.warning


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.01, float("nan")])
def test_sla_status_rejects_bad_warning_ratio(ratio: float) -> None:
    with pytest.raises(ValueError, match="warning_ratio"):
        sla_status(started_at=STARTED, due_at=DUE, now=STARTED, calendar=PLAIN, warning_ratio=ratio)


def test_sla_status_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        sla_status(started_at=STARTED, due_at=DUE, now=datetime(2026, 3, 2, 10), calendar=PLAIN)


def test_sla_status_values_are_strings() -> None:
    assert [status.value for status in SlaStatus] == ["ok", "warning", "overdue"]


# --- TimeLimits and stage_due -------------------------------------------------------------------


def test_time_limits_keep_valid_values() -> None:
    limits = TimeLimits(register_hours=0.5, dispatch_hours=2, handle_hours=37.5)

    assert (limits.register_hours, limits.dispatch_hours, limits.handle_hours) == (0.5, 2, 37.5)


@pytest.mark.parametrize("field", ["register_hours", "dispatch_hours", "handle_hours"])
@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_time_limits_reject_non_positive_or_non_finite(field: str, bad: float) -> None:
    values = {"register_hours": 1.0, "dispatch_hours": 2.0, "handle_hours": 3.0, field: bad}

    with pytest.raises(ValueError, match=field):
        TimeLimits(**values)


def test_stage_due_uses_the_calendar() -> None:
    assert stage_due(CHINA_2026, sh(2, 13, 17), 2) == sh(2, 14, 10)
    assert stage_due(PLAIN, sh(2, 13, 17), 2) == sh(2, 16, 10)


# --- configuration ------------------------------------------------------------------------------


def test_from_config_matches_defaults() -> None:
    calendar = WorkingCalendar.from_config(
        "Asia/Shanghai", "09:00-12:00,13:30-18:00", "1-5", [], []
    )

    assert calendar == WorkingCalendar()


def test_from_config_parses_everything() -> None:
    holiday, workday = date(2026, 3, 3), date(2026, 3, 8)

    calendar = WorkingCalendar.from_config(
        " Europe/Berlin ", " 8:00-12:00 , 13:00-17:30 ", "1-3, 5,7", [holiday], iter([workday])
    )

    assert calendar.tz == BERLIN
    assert calendar.periods == ((time(8), time(12)), (time(13), time(17, 30)))
    assert calendar.weekdays == frozenset({0, 1, 2, 4, 6})
    assert calendar.holidays == frozenset({holiday})
    assert calendar.workdays == frozenset({workday})


@pytest.mark.parametrize(
    ("periods", "message"),
    [
        ("", "working periods are empty"),
        ("   ", "working periods are empty"),
        ("09:00", "bad working period '09:00'"),
        ("09:00-12:00-13:00", "bad working period"),
        ("9-12", "bad time '9': expected HH:MM"),
        ("aa:bb-cc:dd", "bad time 'aa:bb'"),
        ("09:00-24:00", "bad time '24:00': hour must be 00-23"),
        ("09:60-12:00", "bad time '09:60'"),
        ("09:00-12:00,", "bad working period ''"),
        ("12:00-09:00", "empty or reversed"),
        ("09:00-09:00", "empty or reversed"),
        ("13:30-18:00,09:00-12:00", "not sorted"),
        ("09:00-12:00,11:00-13:00", "overlap"),
        ("09:00-12:00,09:00-10:00", "overlap"),
    ],
)
def test_from_config_rejects_bad_periods(periods: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_config("Asia/Shanghai", periods, "1-5", [], [])


@pytest.mark.parametrize(
    ("weekdays", "message"),
    [
        ("", "working weekdays are empty"),
        ("0-5", "bad weekday '0'"),
        ("1-8", "bad weekday '8'"),
        ("5-1", "start is after end"),
        ("mon-fri", "bad weekday 'mon'"),
        ("1,,2", "bad weekday ''"),
        ("1-", "bad weekday ''"),
    ],
)
def test_from_config_rejects_bad_weekdays(weekdays: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_config("Asia/Shanghai", "09:00-18:00", weekdays, [], [])


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "asia/shanghai", "../etc/passwd"])
def test_from_config_rejects_unknown_zone(tz: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingCalendar.from_config(tz, "09:00-18:00", "1-5", [], [])


def test_from_config_rejects_date_both_holiday_and_workday() -> None:
    day = date(2026, 3, 7)

    with pytest.raises(ValueError, match="both holiday and make-up workday: 2026-03-07"):
        WorkingCalendar.from_config("Asia/Shanghai", "09:00-18:00", "1-5", [day], [day])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"periods": ()}, "at least one working period"),
        ({"weekdays": frozenset()}, "weekdays must not be empty"),
        ({"weekdays": frozenset({0, 7})}, r"weekdays must be 0 \(Mon\) .. 6 \(Sun\), got \[7\]"),
        ({"periods": ((time(9, tzinfo=UTC), time(12)),)}, "naive times"),
    ],
)
def test_direct_construction_is_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkingCalendar(**kwargs)  # type: ignore[arg-type]
