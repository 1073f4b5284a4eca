"""The live feed (GET /api/v1/live) over a real HTTP connection: authentication, scope, the
content of an event, replay after Last-Event-ID, and a change committed through a second app
on the same database (another worker process) reaching a subscriber of the first."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.cases import service
from cityops.cases.tasks import scan_sla
from cityops.core.bus import Bus
from cityops.core.live import id_floor
from cityops.core.runtime import Runtime
from cityops.web import live_api
from factories.cases import OTHER_DISTRICT, handler_of, make_case, report
from factories.server import serving
from factories.sse import Sse, event_stream

LIVE = "/api/v1/live"


@pytest.fixture
def live_url(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with serving(create_app(runtime=rt), monkeypatch) as url:
        yield url


def _case_event(number: int, action: str) -> Callable[[Sse], bool]:
    def done(event: Sse) -> bool:
        if event.event != "case":
            return False
        data = event.json()
        return bool(data["case"]["number"] == number and data["action"] == action)

    return done


def _numbers(events: list[Sse]) -> set[int]:
    return {e.json()["case"]["number"] for e in events if e.event == "case"}


def test_the_stream_needs_a_login(client: TestClient) -> None:
    response = client.get(LIVE)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_bad_last_event_id_names_the_header(
    client: TestClient, auth: Callable[[str], dict[str, str]]
) -> None:
    headers = {**auth("operator"), "Last-Event-ID": "not-an-id"}
    response = client.get(LIVE, headers=headers)
    assert response.status_code == 422
    [field] = response.json()["error"]["fields"]
    assert field["field"] == "Last-Event-ID"


def test_a_report_arrives_with_the_step_and_the_case(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    with event_stream(live_url + LIVE, auth("operator")) as stream:
        case = report(rt, actor)
        [*_, event] = stream.until(_case_event(case.number, "report"))
    [step] = service.timeline(rt, actor=actor("admin"), case_id=case.id)
    data = event.json()
    assert event.id == str(step.id) == data["id"]
    assert (data["from_state"], data["to_state"]) == (None, "reported")
    assert data["case"]["id"] == str(case.id)
    assert data["case"]["state"] == "reported"
    assert (data["case"]["lon"], data["case"]["lat"]) == (case.location.lon, case.location.lat)
    assert data["case"]["category"]["code"] == "E-01-02"
    assert case.location.district is not None
    assert data["case"]["district"]["code"] == case.location.district.code
    assert data["case"]["closed"] is False


def test_overdue_marks_are_streamed(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    case = make_case(rt, actor, "dispatched")
    with event_stream(live_url + LIVE, auth("operator")) as stream:
        rt.clock.advance(days=20)  # type: ignore[attr-defined]
        scan_sla(rt)
        [*_, event] = stream.until(_case_event(case.number, "sla_overdue"))
    assert event.json()["case"]["sla_status"] == "overdue"


def test_a_handler_gets_only_its_departments_cases(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    own = make_case(rt, actor, "registered")
    other = make_case(rt, actor, "registered", lon=OTHER_DISTRICT[0], lat=OTHER_DISTRICT[1])
    dispatcher = actor("dispatcher")
    other = service.dispatch_case(rt, actor=dispatcher, case_id=other.id, department_code=None)
    own = service.dispatch_case(rt, actor=dispatcher, case_id=own.id, department_code=None)
    assert own.department is not None
    assert other.department is not None
    assert own.department.code != other.department.code
    handler = handler_of(own)
    with event_stream(live_url + LIVE, auth(handler)) as stream:
        # The other department's case changes first: had it been sent, it would come first.
        service.urge_case(rt, actor=actor("operator"), case_id=other.id, note="请尽快处理")
        service.urge_case(rt, actor=actor("operator"), case_id=own.id, note="请尽快处理")
        events = stream.until(_case_event(own.number, "urge"))
    assert other.number not in _numbers(events)
    assert own.number in _numbers(events)


def test_reconnecting_with_last_event_id_replays_what_was_missed(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    with event_stream(live_url + LIVE, auth("operator")) as stream:
        first = report(rt, actor)
        [*_, seen] = stream.until(_case_event(first.number, "report"))
    missed = make_case(rt, actor, "registered")
    headers = {**auth("operator"), "Last-Event-ID": str(seen.id)}
    with event_stream(live_url + LIVE, headers) as stream:
        replayed = stream.replayed
    actions = [(e.json()["case"]["number"], e.json()["action"]) for e in replayed]
    assert (missed.number, "report") in actions
    assert (missed.number, "register") in actions
    assert actions.index((missed.number, "report")) < actions.index((missed.number, "register"))


def test_too_much_to_replay_asks_for_a_reload(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_api, "REPLAY_LIMIT", 1)
    before = id_floor(time.time())  # ids carry the real time, not the frozen clock's
    make_case(rt, actor, "registered")  # two timeline entries
    headers = {**auth("operator"), "Last-Event-ID": str(before)}
    with event_stream(live_url + LIVE, headers) as stream:
        replayed = stream.replayed
    assert [e.event for e in replayed] == ["reset"]


def test_a_change_made_through_another_app_reaches_this_one(
    rt: Runtime,
    actor: Callable[[str], Any],
    auth: Callable[[str], dict[str, str]],
    live_url: str,
) -> None:
    """Worker 2 (its own runtime, bus and app, the same database) takes the report; the
    subscriber of worker 1 hears of it although worker 1's bus never does."""
    db_class = type(rt.db)
    other_db = db_class.__new__(db_class)
    other_db.engine, other_db.bus = rt.db.engine, Bus()
    other_db.connection = rt.db.connection  # type: ignore[attr-defined]
    other_db.__post_init__()
    other_db.lock = rt.db.lock  # type: ignore[attr-defined]  # one connection: take turns
    worker2 = Runtime(settings=rt.settings, db=other_db, clock=rt.clock, files=rt.files)
    heard_here: list[object] = []
    rt.db.bus.subscribe_all(heard_here.append)
    body = {"description": "井盖缺失，有安全隐患", "location": {"lon": 112.95, "lat": 28.12}}
    with (
        event_stream(live_url + LIVE, auth("operator")) as stream,
        TestClient(create_app(runtime=worker2)) as second,
    ):
        response = second.post("/api/v1/cases", json=body, headers=auth("citizen"))
        assert response.status_code == 201, response.text
        number = response.json()["number"]
        [*_, event] = stream.until(_case_event(number, "report"))
    assert heard_here == []
    assert event.json()["case"]["title"] == response.json()["title"]
