"""Alarms on the command screen's live feed (GET /api/v1/live, event ``alarm``) over a real
HTTP connection: a raised alarm arrives with its step and the alarm as it is now, its clearing
follows, and a reader gets only the alarms it may read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cityops.alarms import service
from cityops.app import create_app
from cityops.core.runtime import Runtime
from factories.alarms import FAR_GAUGE, GAUGE, Feed, water_rule
from factories.server import serving
from factories.sse import Sse, event_stream

LIVE = "/api/v1/live"


@pytest.fixture
def live_url(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serving(create_app(runtime=rt), monkeypatch) as url:
        yield url


def _alarm_step(device_id: str, action: str) -> Callable[[Sse], bool]:
    def done(event: Sse) -> bool:
        if event.event != "alarm":
            return False
        data = event.json()
        return bool(data["alarm"]["device_id"] == device_id and data["action"] == action)

    return done


def test_a_raised_alarm_and_its_clearing_arrive_on_the_live_feed(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    water_rule(rt, actor, case_severity=None, case_category=None)
    feed = Feed(rt)
    with event_stream(live_url + LIVE, auth("operator")) as stream:
        [report] = feed.send(GAUGE, 0.42)
        [*_, raised] = stream.until(_alarm_step(GAUGE.device_id, "raise"))
        feed.send(GAUGE, 0.1)
        [*_, cleared] = stream.until(_alarm_step(GAUGE.device_id, "condition_ended"))
    [step, *_] = service.get_alarm(rt, actor=actor("admin"), alarm_id=report.raised[0]).history
    data = raised.json()
    assert raised.id == str(step.id) == data["id"]
    assert (data["from_state"], data["to_state"]) == (None, "active")
    alarm = data["alarm"]
    assert alarm["id"] == str(report.raised[0])
    assert (alarm["severity"], alarm["state"], alarm["rule_code"]) == (
        "warning",
        "active",
        "wl-high",
    )
    assert (alarm["lon"], alarm["lat"]) == (GAUGE.lon, GAUGE.lat)
    assert alarm["last_value"] == 0.42
    assert cleared.json()["alarm"]["state"] == "cleared"


def test_a_reader_gets_only_the_alarms_it_may_read(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    water_rule(rt, actor, case_severity=None, case_category=None)
    feed = Feed(rt)
    with event_stream(live_url + LIVE, auth("handler-shuiwu")) as stream:
        # The other department's gauge alarms first: had it been sent, it would come first.
        feed.send(FAR_GAUGE, 0.7)
        feed.send(GAUGE, 0.4)
        events = stream.until(_alarm_step(GAUGE.device_id, "raise"))
    devices = {e.json()["alarm"]["device_id"] for e in events if e.event == "alarm"}
    assert devices == {GAUGE.device_id}
