"""Readings through ``alarms.service.evaluate`` with the frozen clock: raising, repeating,
escalating, hysteresis, clearing, duplicates and late readings, overrides, silence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from cityops.alarms import service
from cityops.alarms.devices import DeviceInfo, Sample, StaticDevices
from cityops.alarms.schemas import AlarmFilter, LevelIn, OverrideIn
from cityops.core.audit.service import list_records
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.alarms import FAR_GAUGE, GAUGE, WATER, Feed, silence_rule, water_rule
from factories.db import count_statements

ActorFn = Callable[[str], Any]


def _alarms(rt: Runtime, actor: ActorFn, sort: str | None = None, **filters: Any) -> list[Any]:
    params = PageParams(page_size=100, sort=sort)
    page = service.list_alarms(
        rt, actor=actor("admin"), filters=AlarmFilter(**filters), params=params
    )
    return page.items


def _audit(rt: Runtime, alarm_id: object) -> list[str]:
    with rt.db.read() as session:
        page = list_records(session, params=PageParams(page_size=100), subject_id=str(alarm_id))
    return [r.action for r in reversed(page.items)]


def test_a_breach_raises_one_alarm_and_repeats_update_it(
    rt: Runtime, actor: ActorFn, events: Any
) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    [quiet, first, second, third] = feed.send(GAUGE, 0.1, 0.34, 0.42, 0.38)
    assert quiet.raised == []
    assert quiet.samples == 1
    assert len(first.raised) == 1
    assert second.raised == third.raised == []
    assert second.updated == third.updated == first.raised
    [alarm] = _alarms(rt, actor)
    assert alarm.id == first.raised[0]
    assert (alarm.state, alarm.severity, alarm.count) == ("active", "warning", 3)
    assert (alarm.first_value, alarm.last_value, alarm.peak_value) == (0.34, 0.38, 0.42)
    assert alarm.raised_at == feed.at(0) - timedelta(minutes=2)
    assert alarm.last_at == feed.at(0)
    assert alarm.raised_at.utcoffset() == timedelta(0)
    assert (alarm.device_id, alarm.department_code, alarm.lon) == ("wl-000001", "shuiwu", GAUGE.lon)
    assert alarm.area_path is not None
    assert alarm.case.id is None  # a warning opens no case
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=alarm.id)
    assert [r.reading for r in detail.readings] == [0.34, 0.42, 0.38]
    assert [h.action for h in detail.history] == ["raise"]
    # Raised is audited, repeats are not; events: raised, then one update per batch.
    assert _audit(rt, alarm.id) == ["alarms:alarm:raised"]
    tags = [t for t in events.tags() if t.startswith("alarms:alarm")]
    assert tags == ["alarms:alarm:raised", "alarms:alarm:updated", "alarms:alarm:updated"]


def test_a_higher_level_escalates_the_alarm_and_needs_a_fresh_acknowledgement(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor, case_severity=None, case_category=None)
    feed = Feed(rt)
    [report] = feed.send(GAUGE, 0.35)
    alarm_id = report.raised[0]
    feed.clock.advance(seconds=20)
    service.acknowledge_alarm(rt, actor=actor("operator"), alarm_id=alarm_id, note="已通知泵站")
    feed.send(GAUGE, 0.4, 0.61, 0.45)
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=alarm_id)
    assert (detail.state, detail.severity, detail.count) == ("active", "critical", 4)
    assert [h.action for h in detail.history] == ["raise", "acknowledge", "escalate"]
    assert detail.history[2].from_state == "acknowledged"
    assert _audit(rt, alarm_id) == [
        "alarms:alarm:raised",
        "alarms:alarm:acknowledged",
        "alarms:alarm:escalated",
    ]


def test_hysteresis_keeps_one_alarm_while_the_level_hovers_at_the_line(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    hovering = [0.31, 0.29, 0.3, 0.26, 0.31, 0.28, 0.3, 0.27, 0.32, 0.26]
    reports = feed.send(GAUGE, *hovering)
    assert sum(len(r.raised) for r in reports) == 1
    assert all(r.cleared == [] for r in reports)
    [alarm] = _alarms(rt, actor)
    assert (alarm.state, alarm.count) == ("active", len(hovering))


def test_the_condition_ending_clears_the_alarm(rt: Runtime, actor: ActorFn, events: Any) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    [raised, _, ended, after] = feed.send(GAUGE, 0.4, 0.27, 0.2, 0.1)
    assert ended.cleared == raised.raised
    assert after.cleared == after.raised == []
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=raised.raised[0])
    assert detail.state == "cleared"
    assert detail.cleared_at == feed.at(-1)  # the time of the reading that ended it
    assert detail.cleared_by == "system"
    assert detail.allowed_actions == []
    assert [h.action for h in detail.history] == ["raise", "condition_ended"]
    assert "alarms:alarm:cleared" in events.tags()
    # It comes back as a new alarm, the old one stays cleared.
    [again] = feed.send(GAUGE, 0.33)
    assert again.raised
    assert again.raised != raised.raised
    assert [a.state for a in _alarms(rt, actor, sort="raised_at")] == ["cleared", "active"]


def test_a_sustained_rule_waits_its_duration(rt: Runtime, actor: ActorFn) -> None:
    water_rule(rt, actor, kind="sustained", for_seconds=600, case_severity=None, case_category=None)
    feed = Feed(rt)
    waiting = feed.send(GAUGE, *([0.4] * 10), every=1.0)  # minutes 1..10: 9 minutes held
    assert all(r.raised == [] for r in waiting)
    [held] = feed.send(GAUGE, 0.4)  # minute 11: 10 minutes since the first breach
    assert len(held.raised) == 1
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=held.raised[0])
    assert detail.raised_at == feed.at(0)


def test_duplicates_and_late_readings_change_nothing(rt: Runtime, actor: ActorFn) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    t0 = feed.at(1)
    breach = Sample(GAUGE.device_id, WATER, t0, {"level": 0.4})
    low = Sample(GAUGE.device_id, WATER, t0 + timedelta(minutes=1), {"level": 0.1})
    # One batch in the wrong order with a duplicate: applied in time order, once each.
    report = feed.batch(low, breach, breach)
    assert len(report.raised) == 1
    assert report.cleared == report.raised
    # The same readings delivered again, and a late breach from before them: all skipped.
    late = Sample(GAUGE.device_id, WATER, t0 - timedelta(minutes=5), {"level": 0.9})
    again = feed.batch(breach, low, late)
    assert (again.raised, again.updated, again.cleared) == ([], [], [])
    [alarm] = _alarms(rt, actor)
    assert (alarm.state, alarm.count) == ("cleared", 1)


def test_readings_of_unknown_devices_or_unwatched_types_are_skipped(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    now = feed.at(0)
    report = feed.batch(
        Sample("wl-999999", WATER, now, {"level": 9.0}),
        Sample(GAUGE.device_id, "noise_meter", now, {"level": 9.0}),
        Sample(GAUGE.device_id, WATER, now, {"level": 0.1}),
    )
    assert (report.samples, report.skipped, report.raised) == (3, 2, [])


def test_a_device_override_changes_the_line_for_that_device_only(
    rt: Runtime, actor: ActorFn
) -> None:
    rule = water_rule(rt, actor)
    override = OverrideIn(levels=[LevelIn(severity="warning", above=0.8)], note="低洼处常年积水")
    service.set_override(
        rt, actor=actor("admin"), rule_id=rule.id, device_id=GAUGE.device_id, data=override
    )
    feed = Feed(rt)
    [own] = feed.send(GAUGE, 0.6)
    [other] = feed.send(FAR_GAUGE, 0.6)
    assert own.raised == []
    assert len(other.raised) == 1
    service.set_override(
        rt,
        actor=actor("admin"),
        rule_id=rule.id,
        device_id=FAR_GAUGE.device_id,
        data=OverrideIn(enabled=False),
    )
    [switched_off] = feed.send(FAR_GAUGE, 0.1)
    assert switched_off.cleared == []  # the rule no longer runs for it


def test_clearing_by_hand_while_the_condition_holds_raises_anew(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor, case_severity=None, case_category=None)
    feed = Feed(rt)
    [first] = feed.send(GAUGE, 0.4)
    service.clear_alarm(rt, actor=actor("operator"), alarm_id=first.raised[0], note="误报，已复位")
    [second] = feed.send(GAUGE, 0.41)
    assert len(second.raised) == 1
    assert second.raised != first.raised


def test_a_silent_device_raises_a_no_data_alarm_once_and_a_reading_clears_it(
    rt: Runtime, actor: ActorFn
) -> None:
    silence_rule(rt, actor)
    feed = Feed(rt)
    feed.send(GAUGE, 0.1)
    assert service.scan_no_data(rt).raised == []
    feed.clock.advance(minutes=14)
    assert service.scan_no_data(rt).raised == []
    feed.clock.advance(minutes=1)
    report = service.scan_no_data(rt)
    assert len(report.raised) == 1
    assert service.scan_no_data(rt).raised == []  # idempotent: once per silence
    [alarm] = _alarms(rt, actor)
    assert (alarm.kind, alarm.severity, alarm.device_id) == ("no_data", "major", GAUGE.device_id)
    assert alarm.area_path is not None  # located from the device as last seen
    [back] = feed.send(GAUGE, 0.12)
    assert back.cleared == report.raised


def test_a_batch_costs_the_same_statements_for_few_devices_or_many(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor)
    silence_rule(rt, actor)
    gauges = [replace(GAUGE, device_id=f"wl-{n:06d}") for n in range(100, 160)]
    feed = Feed(rt, StaticDevices(gauges, types={WATER: {"level"}}))

    def batch(devices: list[DeviceInfo], level: float) -> list[str]:
        at = feed.at(1)
        feed.clock.set(at)
        samples = [Sample(d.device_id, WATER, at, {"level": level}) for d in devices]
        with count_statements(rt) as statements:
            feed.batch(*samples)
        return statements

    for level in (0.1, 0.12):  # first readings make the states; then warm
        batch(gauges, level)
    few, many = batch(gauges[:3], 0.11), batch(gauges, 0.13)
    assert len(few) == len(many), "\n".join(many)
    # A page of alarms costs the same whatever its size.
    batch(gauges[:3], 0.4)
    with count_statements(rt) as small:
        service.list_alarms(rt, actor=actor("operator"), filters=AlarmFilter(), params=PageParams())
    batch(gauges, 0.45)
    with count_statements(rt) as large:
        page = service.list_alarms(
            rt, actor=actor("operator"), filters=AlarmFilter(), params=PageParams()
        )
    assert page.total == len(gauges)
    assert len(small) == len(large), "\n".join(large)


def test_readings_no_rule_watches_cost_one_query_and_write_nothing(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor)
    asked: list[list[str]] = []

    class Directory(StaticDevices):
        def device_info(self, device_ids: Any) -> Any:
            asked.append(sorted(device_ids))
            return super().device_info(device_ids)

    meter = replace(GAUGE, device_id="nm-000001", type="noise_meter")
    feed = Feed(rt, Directory([GAUGE, meter], types={WATER: {"level"}, "noise_meter": {"db"}}))
    now = feed.at(0)
    with count_statements(rt) as statements:
        report = feed.batch(Sample(meter.device_id, "noise_meter", now, {"db": 90.0}))
    assert (report.samples, report.skipped, report.raised) == (1, 1, [])
    assert asked == []
    queries = [s for s in statements if "SAVEPOINT" not in s]  # the test's own transactions
    assert len(queries) == 1, queries
    assert queries[0].lstrip().upper().startswith("SELECT")
    # With a watched device in the batch, only that device is looked up.
    report = feed.batch(
        Sample(meter.device_id, "noise_meter", now, {"db": 90.0}),
        Sample(GAUGE.device_id, WATER, now, {"level": 0.9}),
    )
    assert (report.samples, report.skipped, len(report.raised)) == (2, 1, 1)
    assert asked == [[GAUGE.device_id]]
