"""Alarm → case through the cases module's public intake: exactly one case at the device's
location, linked both ways, no second case while it is open, a retry after a crash takes the
same case, a closed case lets the next alarm open a new one."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cityops.alarms import case_link, service
from cityops.cases import service as cases
from cityops.cases.schemas import CaseFilter
from cityops.core.auth import SYSTEM
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from factories.alarms import FLOODING, GAUGE, OUTSIDE, Feed, close_case, water_rule

ActorFn = Callable[[str], Any]


def _sensor_cases(rt: Runtime) -> list[Any]:
    page = cases.list_cases(
        rt, actor=SYSTEM, filters=CaseFilter(source="sensor"), params=PageParams(page_size=100)
    )
    return page.items


def _case_of(rt: Runtime, actor: ActorFn, alarm_id: uuid.UUID) -> uuid.UUID | None:
    return service.get_alarm(rt, actor=actor("admin"), alarm_id=alarm_id).case.id


def test_a_critical_alarm_opens_exactly_one_case_at_the_device(
    rt: Runtime, actor: ActorFn, events: Any
) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    [warning, critical, *repeats] = feed.send(GAUGE, 0.35, 0.56, 0.6, 0.58)
    assert warning.cases == []
    assert len(critical.cases) == 1
    assert all(r.cases == [] for r in repeats)
    [case] = _sensor_cases(rt)
    alarm_id = warning.raised[0]
    assert case.id == critical.cases[0] == _case_of(rt, actor, alarm_id)
    assert (case.location.lon, case.location.lat) == (GAUGE.lon, GAUGE.lat)
    assert case.category is not None
    assert case.category.code == FLOODING
    assert case.source == "sensor"
    assert case.state == "reported"
    assert case.attributes["alarm"]["id"] == str(alarm_id)
    assert case.attributes["alarm"]["device_id"] == GAUGE.device_id
    assert case.attributes["alarm"]["severity"] == "critical"
    assert GAUGE.name in case.title
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=alarm_id)
    assert [h.action for h in detail.history] == ["raise", "escalate", "link_case"]
    assert detail.history[-1].data == {"case_id": str(case.id), "joined": False}
    assert detail.case.pending is False
    assert "cases:case:changed" in events.tags()


def test_no_second_case_while_the_first_is_open_and_a_new_one_once_it_is_closed(
    rt: Runtime, actor: ActorFn
) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    [first, *_] = feed.send(GAUGE, 0.6, 0.1)  # raised, then cleared
    first_case = _case_of(rt, actor, first.raised[0])
    [second, *_] = feed.send(GAUGE, 0.7, 0.1)  # a new alarm while the case is still open
    assert second.cases == [first_case]
    assert len(_sensor_cases(rt)) == 1
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=second.raised[0])
    assert [h.action for h in detail.history] == ["raise", "link_case", "condition_ended"]
    assert detail.history[1].data == {"case_id": str(first_case), "joined": True}
    case = cases.get_case(rt, actor=SYSTEM, case_id=first_case)  # type: ignore[arg-type]
    close_case(rt, actor, case)
    [third] = feed.send(GAUGE, 0.8)
    assert len(third.cases) == 1
    assert third.cases != [first_case]
    assert len(_sensor_cases(rt)) == 2
    # The closed case keeps its alarm and stays closed.
    closed = cases.get_case(rt, actor=SYSTEM, case_id=first_case)  # type: ignore[arg-type]
    assert closed.state == "closed"
    assert closed.attributes["alarm"]["id"] == str(first.raised[0])


def test_a_retry_after_a_crash_between_the_two_commits_takes_the_same_case(
    rt: Runtime, actor: ActorFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    water_rule(rt, actor)
    link = case_link._link

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the worker stopped")

    monkeypatch.setattr(case_link, "_link", crash)
    [report] = Feed(rt).send(GAUGE, 0.6)
    assert report.cases == []  # the case was reported but not linked
    [reported] = _sensor_cases(rt)
    alarm_id = report.raised[0]
    assert service.get_alarm(rt, actor=actor("admin"), alarm_id=alarm_id).case.pending is True
    monkeypatch.setattr(case_link, "_link", link)
    retried = service.scan_no_data(rt)  # the periodic job retries pending cases
    assert retried.cases == [reported.id]
    assert len(_sensor_cases(rt)) == 1
    assert _case_of(rt, actor, alarm_id) == reported.id
    assert service.scan_no_data(rt).cases == []


def test_a_refused_case_is_kept_on_the_alarm_and_not_retried(rt: Runtime, actor: ActorFn) -> None:
    water_rule(rt, actor)
    feed = Feed(rt)
    [report, repeat] = feed.send(OUTSIDE, 0.6, 0.7)
    assert report.cases == repeat.cases == []
    detail = service.get_alarm(rt, actor=actor("admin"), alarm_id=report.raised[0])
    assert detail.case.id is None
    assert detail.case.pending is False
    assert detail.case.error is not None
    assert "location" in detail.case.error
    assert service.scan_no_data(rt).cases == []
    assert _sensor_cases(rt) == []


def test_a_rule_without_a_case_category_opens_no_case(rt: Runtime, actor: ActorFn) -> None:
    water_rule(rt, actor, case_severity=None, case_category=None)
    [report] = Feed(rt).send(GAUGE, 0.9)
    assert len(report.raised) == 1
    assert report.cases == []
    assert _sensor_cases(rt) == []
