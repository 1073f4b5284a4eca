"""The demo city, built into its own temporary SQLite database (not the shared test database),
with a frozen end time (a Wednesday noon in Changsha) so the history is the same every run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from shapely.geometry import Point, shape

from cityops.alarms import service as alarms
from cityops.app import build_runtime
from cityops.brain import service as brain
from cityops.cases import service as cases
from cityops.cases.hotspots import list_hotspots
from cityops.cases.schemas import CaseFilter, CaseOut
from cityops.core import auth
from cityops.core.auth import SYSTEM
from cityops.core.clock import FrozenClock
from cityops.core.config import Settings
from cityops.core.errors import Conflict, NotAuthenticated
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams
from cityops.core.runtime import Runtime
from cityops.demo import sensors
from cityops.demo.city import DemoCredentials, build_demo_city
from cityops.demo.geography import changsha
from cityops.demo.history import STATES
from cityops.demo.plan import plan_fates
from cityops.demo.timing import calendar_for, plan_arrivals
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter
from cityops.migrations import upgrade
from cityops.org import service as org
from cityops.org.roles import Role
from cityops.org.schemas import UserIn

PASSWORD = "demo-pass-123"
API_KEY = "cok_demo-test-key-0123456789"
END = datetime(2026, 3, 4, 4, 0, tzinfo=UTC)  # Wednesday 4 March 2026, 12:00 in Changsha


def _runtime(path: Path, **settings: Any) -> Runtime:
    runtime = build_runtime(
        Settings(
            data_dir=path,
            database_url=f"sqlite:///{path}/demo.sqlite3",
            run_scheduler=False,
            **settings,
        ),
        clock=FrozenClock(END),
    )
    upgrade(runtime.db.engine)
    return runtime


@pytest.fixture(scope="module")
def cheap_hashing() -> Iterator[None]:
    """Argon2 at its real cost takes a third of a second per account; the demo makes ~60."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory, cheap_hashing: None
) -> Iterator[tuple[Runtime, DemoCredentials]]:
    runtime = _runtime(
        tmp_path_factory.mktemp("demo"), demo_password=PASSWORD, demo_api_key=API_KEY
    )
    yield runtime, build_demo_city(runtime, days=2)
    runtime.db.engine.dispose()


def _all_cases(rt: Runtime) -> list[CaseOut]:
    params = PageParams(page_size=MAX_PAGE_SIZE)
    page = cases.list_cases(rt, actor=SYSTEM, filters=CaseFilter(), params=params)
    assert page.total <= MAX_PAGE_SIZE
    return page.items


def _count(rt: Runtime, state: str) -> int:
    filters, params = CaseFilter(state=[state]), PageParams(page_size=1)
    return cases.list_cases(rt, actor=SYSTEM, filters=filters, params=params).total


def test_every_state_is_present(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, credentials = demo
    counts = {state: _count(rt, state) for state in STATES}
    assert all(counts.values()), counts
    assert credentials.stats is not None
    assert credentials.stats.by_state == counts
    assert 60 <= credentials.stats.cases <= 150  # two days at ~40-60 a day


def test_the_history_holds_a_hot_spot(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, _ = demo
    token = org.login(rt, username="leader", password=PASSWORD).access_token
    leader = org.actor_for_token(rt, token)
    spots = list_hotspots(rt, actor=leader, days=7)
    assert spots, "repeated reports of one problem form a 热点问题 on the screen"
    assert spots[0].reports >= 3


def test_every_role_logs_in_with_the_demo_password(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, credentials = demo
    first_of_role = {a.role: a.username for a in reversed(credentials.accounts)}
    assert set(first_of_role) == {role.value for role in Role}
    for username in first_of_role.values():
        token = org.login(rt, username=username, password=PASSWORD).access_token
        assert org.actor_for_token(rt, token).username == username


def test_open311_key_acts_as_the_integration_user(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, credentials = demo
    assert credentials.api_key == API_KEY
    actor = org.actor_for_api_key(rt, credentials.api_key)
    assert (actor.username, actor.role, actor.via_api_key) == ("open311-app", "citizen", True)


def test_cases_lie_inside_the_city(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, _ = demo
    city = shape(changsha().geometry)
    for case in _all_cases(rt):
        assert city.contains(Point(case.location.lon, case.location.lat)), case.number
        assert case.location.area_path.startswith("/430100/")
        assert case.location.grid is not None


def test_history_looks_like_a_real_month(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, _ = demo
    found = _all_cases(rt)
    assert {c.source for c in found} == {"citizen", "gridworker", "hotline", "open311"}
    hotline = [c for c in found if c.source == "hotline"]
    assert all(re.fullmatch(r"1\d{10}", c.reporter_phone or "") for c in hotline)
    assert all(re.search(r"[\u4e00-\u9fff]", c.description) for c in found)
    assert any(c.photos for c in found)
    assert any(c.return_count for c in found)
    assert any(c.rating for c in found)
    assert min(c.created_at for c in found) >= END.replace(day=2)
    assert max(c.created_at for c in found) <= END
    closed = next(c for c in found if c.state == "closed")
    steps = cases.timeline(rt, actor=SYSTEM, case_id=closed.id)
    assert steps[0].action == "report"
    assert steps[-1].action == "close"
    assert [s.at for s in steps] == sorted(s.at for s in steps)


def test_sensors_of_every_type_report_and_some_are_silent(
    demo: tuple[Runtime, DemoCredentials],
) -> None:
    from cityops.devices import service as devices
    from cityops.devices.schemas import DeviceFilter
    from cityops.devices.tasks import scan_offline

    rt, credentials = demo
    assert credentials.sensors is not None
    summary = devices.health_summary(rt, actor=SYSTEM)
    by_type = {g.code: g for g in summary.by_type}
    assert len(by_type) == 8
    assert all(g.devices >= 20 and g.online > 0 for g in by_type.values())
    total = sum(g.devices for g in by_type.values())
    assert total == credentials.sensors.devices
    assert sum(g.offline for g in by_type.values()) == credentials.sensors.silent > 0
    owners = {g.code.split("-")[0] for g in summary.by_department}
    assert owners == {"jiaotong", "huanbao", "shuiwu", "shizheng", "ranqi", "yingji"}
    page = devices.list_devices(
        rt, actor=SYSTEM, filters=DeviceFilter(type="manhole_cover"), params=PageParams(page_size=5)
    )
    assert all(d.location.grid is not None for d in page.items)
    assert all(d.department and d.department.code.startswith("shizheng-") for d in page.items)
    assert scan_offline(rt) == credentials.sensors.silent


def test_a_flood_on_a_demo_gauge_raises_an_alarm_and_opens_a_case(
    demo: tuple[Runtime, DemoCredentials],
) -> None:
    from cityops.alarms import service as alarms
    from cityops.alarms.devices import Sample
    from cityops.app import DeviceDirectory
    from cityops.demo.simulate import registered_fleet

    rt, _ = demo
    gauge = next(d for d in registered_fleet(rt) if d.type_code == "water_level")
    later = END + timedelta(minutes=5)
    everyday = Sample(gauge.device_id, "water_level", later, {"water_level": 2.0})
    flooded = Sample(
        gauge.device_id, "water_level", later + timedelta(minutes=5), {"water_level": 5.1}
    )
    directory = DeviceDirectory(rt)
    assert alarms.evaluate(rt, [everyday], directory).raised == []
    report = alarms.evaluate(rt, [flooded], directory)
    assert len(report.raised) == 1
    assert len(report.cases) == 1
    case = cases.get_case(rt, actor=SYSTEM, case_id=report.cases[0])
    assert case.category is not None
    assert case.category.code == "E-04-06"


def test_the_simulator_leaves_the_silent_sensors_silent(
    demo: tuple[Runtime, DemoCredentials],
) -> None:
    from cityops.demo.simulate import registered_fleet
    from cityops.devices import service as devices
    from cityops.devices.schemas import DeviceFilter

    rt, _ = demo
    everyone = registered_fleet(rt)
    online = registered_fleet(rt, online_only=True)
    silent = devices.list_devices(
        rt, actor=SYSTEM, filters=DeviceFilter(status="active", online=False), params=PageParams()
    ).total
    assert silent > 0
    assert len(online) == len(everyone) - silent
    assert {d.device_id for d in online} < {d.device_id for d in everyone}


def test_a_second_build_adds_nothing(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, credentials = demo
    before = (len(_all_cases(rt)), len(org.list_api_keys(rt, actor=SYSTEM)))
    again = build_demo_city(rt, days=2)
    assert (again.password, again.api_key) == (credentials.password, credentials.api_key)
    assert again.stats is None
    assert {a.username for a in again.accounts} == {a.username for a in credentials.accounts}
    assert (len(_all_cases(rt)), len(org.list_api_keys(rt, actor=SYSTEM))) == before


def test_describe_tells_how_to_get_in(demo: tuple[Runtime, DemoCredentials]) -> None:
    rt, credentials = demo
    text = credentials.describe(rt.settings)
    for expected in (
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8000/open311/v2",
        PASSWORD,
        API_KEY,
        "operator",
        "handler-chengguan-430102",
        "only in this demo city",
    ):
        assert expected in text


def test_generated_password_is_used_and_replaced_on_restart(
    tmp_path: Path, cheap_hashing: None
) -> None:
    rt = _runtime(tmp_path)
    try:
        first = build_demo_city(rt, days=0)
        assert first.password_source == "generated"
        assert len(first.password) >= 12
        org.login(rt, username="operator", password=first.password)
        assert org.actor_for_api_key(rt, first.api_key).username == "open311-app"
        second = build_demo_city(rt, days=0)
        assert second.password_source == "reset"
        assert second.password != first.password
        org.login(rt, username="handler-chengguan-430102", password=second.password)
        with pytest.raises(NotAuthenticated):
            org.login(rt, username="operator", password=first.password)
        with pytest.raises(NotAuthenticated):
            org.actor_for_api_key(rt, first.api_key)
        assert org.actor_for_api_key(rt, second.api_key).username == "open311-app"
    finally:
        rt.db.engine.dispose()


def test_a_demo_city_without_sensors_gets_the_fleet_on_its_next_start(
    tmp_path: Path, cheap_hashing: None
) -> None:
    """A city built before the perception layer (no devices) gets the demo fleet when the demo
    starts on it again; its rules are kept, not doubled."""
    rt = _runtime(tmp_path, demo_password=PASSWORD, demo_api_key=API_KEY)
    one = PageParams(page_size=1)

    def fleet_size() -> int:
        return devices.list_devices(rt, actor=SYSTEM, filters=DeviceFilter(), params=one).total

    try:
        build_demo_city(rt, days=0, devices=0)
        assert fleet_size() == 0
        rules = len(alarms.list_rules(rt, actor=SYSTEM))
        lines: list[str] = []
        build_demo_city(rt, days=0, progress=lines.append)
        assert fleet_size() == sum(sensors.fleet().values())
        assert len(alarms.list_rules(rt, actor=SYSTEM)) == rules > 0
        assert any("installing the demo fleet" in line for line in lines)
        build_demo_city(rt, days=0)
        assert fleet_size() == sum(sensors.fleet().values())
    finally:
        rt.db.engine.dispose()


def test_a_demo_city_started_again_after_its_sensors_fell_silent_hears_from_them(
    tmp_path: Path, cheap_hashing: None
) -> None:
    """Days later every sensor is offline, and the demo's simulator drives only those online:
    starting the demo again has the fleet report (but the share kept silent in a new city)."""
    rt = _runtime(tmp_path, demo_password=PASSWORD, demo_api_key=API_KEY)
    one = PageParams(page_size=1)

    def online() -> int:
        filters = DeviceFilter(status="active", online=True)
        return devices.list_devices(rt, actor=SYSTEM, filters=filters, params=one).total

    try:
        build_demo_city(rt, days=0)
        first = online()
        rt.clock.advance(days=3)  # type: ignore[attr-defined]
        assert online() == 0
        lines: list[str] = []
        build_demo_city(rt, days=0, progress=lines.append)
        assert any("they report again" in line for line in lines)
        active = devices.list_devices(
            rt, actor=SYSTEM, filters=DeviceFilter(status="active"), params=one
        ).total
        assert 0.8 * active < online() < active  # about SILENT_SHARE stay silent
        assert 0.8 * active < first < active  # as when the city was built
    finally:
        rt.db.engine.dispose()


def test_refuses_a_database_that_is_not_the_demo_city(tmp_path: Path, cheap_hashing: None) -> None:
    rt = _runtime(tmp_path, demo_password=PASSWORD)
    try:
        admin = UserIn(username="admin", display_name="admin", password=PASSWORD, role=Role.admin)
        org.create_user(rt, actor=SYSTEM, data=admin)
        with pytest.raises(Conflict):
            build_demo_city(rt, days=0)
    finally:
        rt.db.engine.dispose()


def test_the_plan_is_deterministic_for_a_seed() -> None:
    import random

    calendar = calendar_for("Asia/Shanghai", "09:00-12:00,13:30-18:00", "1-5")
    start = END.replace(day=1)

    def plan(seed: int) -> list[tuple[datetime, str, str, str | None]]:
        rng = random.Random(seed)
        arrivals = plan_arrivals(start, END, per_day=50, calendar=calendar, rng=rng)
        fates = plan_fates(
            arrivals,
            codes=["E-01-02", "B-01-18"],
            weights=[3, 1],
            quick=frozenset(),
            end=END,
            rng=rng,
        )
        return [(a.at, a.source, f.code, f.stop_at) for a, f in zip(arrivals, fates, strict=True)]

    assert plan(1) == plan(1)
    assert plan(1) != plan(2)
    assert 80 <= len(plan(1)) <= 200


def test_the_history_trains_the_first_dispatch_model(
    demo: tuple[Runtime, DemoCredentials],
) -> None:
    rt, credentials = demo
    model = credentials.model
    assert model is not None
    assert (model.version, model.status, model.source) == (1, "active", "retrain")
    assert model.training["labelled"] >= 10
    assert brain.model_name(brain.current_classifier(rt)) == "model-v1"
    assert "Dispatch:  model v1 trained on" in credentials.describe(rt.settings)
