"""绩效评估 through the real services, the HTTP API and the command line: the KPIs move."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from typer.testing import CliRunner

from cityops.app import build_runtime
from cityops.cases import kpi_service
from cityops.cases import service as cases
from cityops.cases.schemas import CaseIn, Point
from cityops.cli.kpi import display_width, format_table
from cityops.cli.main import app as cli_app
from cityops.core.auth import SYSTEM, Actor
from cityops.core.clock import FrozenClock
from cityops.core.config import Settings
from cityops.core.runtime import Runtime
from cityops.demo.geography import synthetic_city
from cityops.demo.seed import seed_organisation
from cityops.migrations import upgrade
from cityops.org import service as org
from cityops.org.schemas import UserIn

Auth = Callable[[str], dict[str, str]]
ActorOf = Callable[[str], Actor]
PASSWORD = "correct-horse-battery"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai, as in conftest
DISTRICT_1 = Point(lon=112.95, lat=28.12)  # the first grid of district 990101
DISTRICT_2 = Point(lon=113.05, lat=28.12)  # district 990102


# --- helpers -------------------------------------------------------------------------------


def report(rt: Runtime, actor: ActorOf, where: Point = DISTRICT_1) -> uuid.UUID:
    """A citizen reports exposed rubbish (E-01-02: 8 working hours to handle)."""
    data = CaseIn(description="路边有一堆暴露垃圾", category_code="E-01-02", location=where)
    return cases.report_case(rt, actor=actor("citizen"), data=data).id


def to_department(rt: Runtime, actor: ActorOf, clock: FrozenClock, case_id: uuid.UUID) -> str:
    """Register after an hour, dispatch half an hour later; the department's handler."""
    clock.advance(hours=1)
    cases.register_case(rt, actor=actor("operator"), case_id=case_id)
    clock.advance(minutes=30)
    out = cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=case_id)
    assert out.department is not None
    return f"handler-{out.department.code}"


def kpis(client: TestClient, auth: Auth, who: str = "operator", **params: str) -> Any:
    response = client.get("/api/v1/kpi", params=params, headers=auth(who))
    assert response.status_code == 200, response.text
    return response.json()


UNTIL = "2026-04-01"  # with no ``since``: the 30 days from Monday 2 March, judged at ``now``


def figures(client: TestClient, auth: Auth, who: str = "operator") -> Any:
    """The whole-scope figures of March 2026, as the frozen clock's ``now`` sees them."""
    return kpis(client, auth, who, group_by="city", until=UNTIL)["total"]["figures"]


# --- the KPIs move -------------------------------------------------------------------------


def test_kpis_follow_a_case_around_the_loop(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    empty = figures(client, auth)
    assert empty["reported"] == 0
    assert empty["on_time_rate"] is None
    assert empty["handling"]["median_working_hours"] is None

    case_id = report(rt, actor)
    assert figures(client, auth)["by_state"]["reported"] == 1

    handler = to_department(rt, actor, clock, case_id)  # registered 11:00, dispatched 11:30
    clock.advance(minutes=30)
    cases.accept_case(rt, actor=actor(handler), case_id=case_id)
    clock.advance(hours=2, minutes=30)  # 14:30: 0.5 h before lunch + 1 h after
    cases.handle_case(rt, actor=actor(handler), case_id=case_id, note="已清理")
    clock.advance(minutes=1)
    now = figures(client, auth)
    assert now["registration"]["median_working_hours"] == 1.0
    assert now["dispatch"]["median_working_hours"] == 0.5
    assert now["handling"]["median_working_hours"] == 1.5
    assert now["handling"]["median_hours"] == 3.0
    assert (now["handled"], now["on_time_rate"]) == (1, 1.0)
    assert now["return_rate"] == 0.0

    cases.verify_case(rt, actor=actor("gridworker"), case_id=case_id, passed=True)
    clock.advance(minutes=1)
    cases.close_case(rt, actor=actor("operator"), case_id=case_id)
    clock.advance(minutes=1)
    cases.evaluate_case(rt, actor=actor("citizen"), case_id=case_id, rating=4)
    clock.advance(minutes=1)
    done = figures(client, auth)
    assert (done["closed"], done["reopen_rate"]) == (1, 0.0)
    assert done["verification_pass_rate"] == 1.0
    assert (done["rating_count"], done["satisfaction"]) == (1, 4.0)
    assert done["by_state"]["evaluated"] == 1


def test_returns_lateness_failed_checks_and_delays_lower_the_figures(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    on_time, late, waiting = report(rt, actor), report(rt, actor), report(rt, actor)
    for case_id in (on_time, late):
        handler = to_department(rt, actor, clock, case_id)
        cases.accept_case(rt, actor=actor(handler), case_id=case_id)
    cases.handle_case(rt, actor=actor(handler), case_id=on_time, note="已清理")
    cases.return_case(
        rt, actor=actor(handler), case_id=late, reason="不属本部门"
    ) if False else None
    clock.advance(days=3)  # Thursday: past the 8 working hours of the second case
    cases.handle_case(rt, actor=actor(handler), case_id=late, note="已清理")
    clock.advance(minutes=1)
    now = figures(client, auth)
    assert (now["handled"], now["on_time"], now["on_time_rate"]) == (2, 1, 0.5)
    assert now["overdue_open"] == 1  # the third report was never registered

    cases.verify_case(rt, actor=actor("citizen"), case_id=late, passed=False, note="仍有垃圾")
    cases.handle_case(rt, actor=actor(handler), case_id=late, note="已再次清理")
    cases.verify_case(rt, actor=actor("citizen"), case_id=late, passed=True)
    clock.advance(minutes=1)
    after = figures(client, auth)
    assert (after["verified"], after["verify_failures"], after["verification_pass_rate"]) == (
        1,
        1,
        0.5,
    )
    assert after["by_state"]["reported"] == 1, waiting


def test_a_returned_case_counts_in_the_return_rate_and_not_its_time_away(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    kept, returned = report(rt, actor), report(rt, actor)
    to_department(rt, actor, clock, kept)
    handler = to_department(rt, actor, clock, returned)  # dispatched at 13:00, in lunch
    clock.advance(minutes=30)
    cases.return_case(rt, actor=actor(handler), case_id=returned, reason="请核实位置")
    clock.advance(hours=1)  # one more wall hour, back at dispatch
    cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=returned)
    cases.accept_case(rt, actor=actor(handler), case_id=returned)
    clock.advance(hours=1)
    cases.handle_case(rt, actor=actor(handler), case_id=returned, note="已清理")
    clock.advance(minutes=1)
    now = figures(client, auth)
    assert (now["dispatched"], now["returned"], now["return_rate"]) == (2, 1, 0.5)
    # 13:00-15:30 less the hour back at dispatch (13:30-14:30): 1.5 wall, 1 working hour
    assert now["handling"]["median_hours"] == 1.5
    assert now["handling"]["median_working_hours"] == 1.0


def test_grouped_by_department_category_and_district(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    first, second, _ = report(rt, actor), report(rt, actor, DISTRICT_2), report(rt, actor)
    to_department(rt, actor, clock, first)
    to_department(rt, actor, clock, second)
    clock.advance(minutes=1)

    by_department = kpis(client, auth, group_by="department")
    rows = {row["code"]: row for row in by_department["rows"]}
    assert set(rows) == {"chengguan-990101", "chengguan-990102", None}
    assert rows["chengguan-990101"]["name_zh"] == "第1区城市管理局"
    assert rows["chengguan-990101"]["name_en"] == "District 1 Urban Management Bureau"
    assert rows[None]["name_zh"] == "未派单"
    assert rows[None]["figures"]["reported"] == 1
    assert by_department["total"]["figures"]["reported"] == 3
    assert by_department["total"]["name_zh"] == "全市"

    by_category = kpis(client, auth, group_by="category")["rows"]
    assert [(r["code"], r["name_zh"], r["figures"]["reported"]) for r in by_category] == [
        ("E-01-02", "暴露垃圾", 3)
    ]
    by_district = kpis(client, auth, group_by="district")["rows"]
    assert [(r["code"], r["figures"]["reported"]) for r in by_district] == [
        ("990101", 2),
        ("990102", 1),
    ]
    city = kpis(client, auth, group_by="city")
    assert city["rows"] == [city["total"]]


def test_one_select_for_the_cases_however_many_groups(
    rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    def selects() -> int:
        seen: list[str] = []

        def count(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(rt.db.engine, "before_cursor_execute", count)
        try:
            kpi_service.case_kpis(rt, actor=actor("operator"), group_by="department")
        finally:
            event.remove(rt.db.engine, "before_cursor_execute", count)
        return len(seen)

    to_department(rt, actor, clock, report(rt, actor))
    clock.advance(minutes=1)
    one = selects()
    for where in (DISTRICT_1, DISTRICT_2, DISTRICT_2):
        to_department(rt, actor, clock, report(rt, actor, where))
    clock.advance(minutes=1)
    assert selects() == one <= 3, one


# --- who may see what ----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["citizen", "handler-chengguan-990101", "gridworker"])
def test_roles_without_kpi_read_are_refused(client: TestClient, auth: Auth, who: str) -> None:
    for path in ("/api/v1/kpi", "/api/v1/kpi.csv"):
        response = client.get(path, headers=auth(who))
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "permission_denied"


def test_anonymous_is_refused(client: TestClient) -> None:
    assert client.get("/api/v1/kpi").status_code == 401


def test_a_district_leader_sees_only_their_district(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    org.create_user(
        rt,
        actor=SYSTEM,
        data=UserIn(
            username="leader-990102",
            display_name="第2区领导",
            password=PASSWORD,
            role="leader",
            area_code="990102",
        ),
    )
    token = org.login(rt, username="leader-990102", password=PASSWORD).access_token
    headers = {"Authorization": f"Bearer {token}"}
    report(rt, actor)
    report(rt, actor)
    report(rt, actor, DISTRICT_2)
    clock.advance(minutes=1)

    response = client.get("/api/v1/kpi", params={"group_by": "district"}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [row["code"] for row in body["rows"]] == ["990102"]
    assert body["total"]["figures"]["reported"] == 1
    assert (body["total"]["code"], body["total"]["name_zh"]) == ("990102", "第2区")
    everyone = client.get("/api/v1/kpi", params={"group_by": "district"}, headers=auth("leader"))
    assert everyone.json()["total"]["figures"]["reported"] == 3


# --- the period ----------------------------------------------------------------------------


def test_a_reversed_period_is_refused_naming_since(client: TestClient, auth: Auth) -> None:
    params = {"since": "2026-03-02T00:00:00+08:00", "until": "2026-03-01T00:00:00+08:00"}
    response = client.get("/api/v1/kpi", params=params, headers=auth("operator"))
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["error"]["fields"]] == ["since"]


def test_an_unknown_grouping_is_refused(client: TestClient, auth: Auth) -> None:
    response = client.get("/api/v1/kpi?group_by=street", headers=auth("operator"))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "group_by"


def test_the_default_period_is_the_last_30_days_and_naive_times_are_city_time(
    client: TestClient, auth: Auth
) -> None:
    default = kpis(client, auth)
    assert default["until"] == "2026-03-02T02:00:00Z"
    assert default["since"] == "2026-01-31T02:00:00Z"
    assert default["group_by"] == "department"
    assert default["percentile_method"] == "linear"
    naive = kpis(client, auth, since="2026-03-01", until="2026-03-02T08:00")
    assert (naive["since"], naive["until"]) == ("2026-02-28T16:00:00Z", "2026-03-02T00:00:00Z")


def test_cases_outside_the_period_do_not_count(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    report(rt, actor)
    clock.advance(days=1)
    report(rt, actor)
    clock.advance(minutes=1)
    monday = kpis(client, auth, group_by="city", since="2026-03-02", until="2026-03-03")
    assert monday["total"]["figures"]["reported"] == 1
    assert figures(client, auth)["reported"] == 2


# --- CSV -----------------------------------------------------------------------------------


def test_csv_download_has_a_bom_and_the_same_rows(
    client: TestClient, auth: Auth, rt: Runtime, actor: ActorOf, clock: FrozenClock
) -> None:
    to_department(rt, actor, clock, report(rt, actor))
    clock.advance(minutes=1)
    response = client.get("/api/v1/kpi.csv", headers=auth("leader"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="kpi-')
    assert response.content.startswith("\ufeff".encode())
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["code"], r["name_zh"]) for r in rows] == [
        ("chengguan-990101", "第1区城市管理局"),
        ("", "全市"),
    ]
    assert rows[0]["reported"] == "1"
    assert rows[0]["dispatch_median_working_hours"] == "0.5"
    assert rows[0]["on_time_rate"] == ""  # nothing handled yet
    assert rows[0]["state_dispatched"] == "1"


# --- the command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with the synthetic city and two cases: one dispatched, one reported."""
    directory = tmp_path_factory.mktemp("cli")
    settings = Settings(
        data_dir=directory,
        database_url=f"sqlite:///{directory / 'cli.sqlite3'}",
        run_scheduler=False,
        duplicate_auto_merge=False,  # the two cases are the same report, kept apart
    )
    runtime = build_runtime(settings, clock=FrozenClock(START))
    try:
        upgrade(runtime.db.engine)
        seed_organisation(runtime, synthetic_city(), password=PASSWORD)
        people = _actors(runtime)
        clock = runtime.clock
        assert isinstance(clock, FrozenClock)
        report(runtime, people)
        to_department(runtime, people, clock, report(runtime, people))
    finally:
        runtime.db.engine.dispose()
    return directory


def _actors(rt: Runtime) -> ActorOf:
    def build(username: str) -> Actor:
        from sqlalchemy import select

        from cityops.org.accounts import actor_for_user
        from cityops.org.models import User

        with rt.db.read() as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None
            return actor_for_user(session, user)

    return build


def run_cli(monkeypatch: pytest.MonkeyPatch, directory: Path, *args: str) -> Any:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(directory))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{directory / 'cli.sqlite3'}")
    monkeypatch.delenv("CITYOPS_CONFIG", raising=False)
    return CliRunner().invoke(cli_app, ["kpi", *args])


MONDAY = ("--since", "2026-03-02", "--until", "2026-03-03")


def test_cli_prints_an_aligned_table_with_chinese_names(
    monkeypatch: pytest.MonkeyPatch, cli_database: Path
) -> None:
    result = run_cli(monkeypatch, cli_database, *MONDAY)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("绩效评估 2026-03-02 00:00 – 2026-03-03 00:00 (Asia/Shanghai)")
    assert any(line.startswith("第1区城市管理局") for line in lines)
    assert any(line.startswith("未派单") for line in lines)
    assert lines[-1].startswith("全市")
    table = [line for line in lines[2:] if not line.startswith("-")]
    assert len({display_width(line) for line in table}) == 1  # columns end together


def test_cli_json_is_one_object(monkeypatch: pytest.MonkeyPatch, cli_database: Path) -> None:
    result = run_cli(monkeypatch, cli_database, *MONDAY, "--format", "json", "--group-by", "city")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["total"]["figures"]["reported"] == 2
    assert body["total"]["figures"]["by_state"]["dispatched"] == 1
    assert body["group_by"] == "city"


def test_cli_csv(monkeypatch: pytest.MonkeyPatch, cli_database: Path) -> None:
    result = run_cli(monkeypatch, cli_database, *MONDAY, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["name_zh"] for r in rows] == ["第1区城市管理局", "未派单", "全市"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "yesterday"), "--since: 'yesterday' is not a date"),
        (("--until", "2026-13-01"), "--until: '2026-13-01' is not a date"),
        (("--since", "2026-03-03", "--until", "2026-03-02"), "--since: since must be before"),
        (("--group-by", "street"), "--group-by: 'street' is not one of"),
    ],
)
def test_cli_refuses_bad_input_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, cli_database: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(monkeypatch, cli_database, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_table_of_an_empty_report_says_so(rt: Runtime) -> None:
    report_ = kpi_service.case_kpis(rt, actor=SYSTEM, group_by="district")
    text = format_table(report_)
    assert "(无数据 / no cases)" in text
    assert text.splitlines()[-1].startswith("全市")


def test_display_width_counts_chinese_as_two_columns() -> None:
    assert display_width("第1区") == 5
    assert display_width("abc") == 3
