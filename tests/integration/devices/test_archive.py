"""Raw readings older than the hot window move to Parquet files; the series API still reads
them; expired 1-minute rollups are dropped; ``cityops devices archive`` runs it by hand."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, func, insert, select
from typer.testing import CliRunner

from cityops.cli.main import app
from cityops.core.audit.models import AuditRecord
from cityops.core.runtime import Runtime
from cityops.devices.archive import archive_old, archive_root
from cityops.devices.models import Reading, Rollup1h, Rollup1m
from cityops.devices.payload import from_ms, to_ms
from cityops.devices.points import sample_rows
from cityops.devices.rollups import DAY_MS, HOUR_MS, run_rollups
from factories.api import Api
from factories.devices import make_device

ActorFn = Callable[[str], Any]
KEYS = ("device_id", "metric", "ts", "value")


def iso(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")


def ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text).replace(tzinfo=UTC))


def history(start: int, end: int, seed: int = 5) -> list[tuple[str, str, int, float]]:
    rng = random.Random(seed)
    rows = []
    for device in ("aq-000001", "aq-000002"):
        for metric in ("pm25", "no2"):
            ts = start
            while True:
                ts += rng.randint(20_000, 100_000)
                if ts >= end:
                    break
                rows.append((device, metric, ts, round(rng.uniform(0, 300), 3)))
    return rows


def store(rt: Runtime, rows: list[Any]) -> None:
    with rt.db.transaction() as tx:
        tx.session.execute(insert(Reading), sample_rows(rows))


def count_readings(rt: Runtime, *where: Any) -> int:
    with rt.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Reading).where(*where)) or 0)


def telemetry(api: Api, since: int, until: int, step: str | None = None) -> list[Any]:
    params: dict[str, Any] = {"metric": ["pm25", "no2"], "since": iso(since), "until": iso(until)}
    if step:
        params["step"] = step
    response = api.get("operator", "/api/v1/devices/aq-000001/telemetry", **params)
    assert response.status_code == 200, response.text
    return [s["points"] or s["buckets"] for s in response.json()["series"]]


def same(got: list[Any], want: list[Any]) -> None:
    """Equal series, averages within float rounding (sums added in another order)."""
    assert len(got) == len(want)
    for g_series, w_series in zip(got, want, strict=True):
        assert len(g_series) == len(w_series)
        for g, w in zip(g_series, w_series, strict=True):
            assert {k: v for k, v in g.items() if k != "avg"} == {
                k: v for k, v in w.items() if k != "avg"
            }
            assert g.get("avg") == pytest.approx(w.get("avg"))


@pytest.fixture
def old_and_new(rt: Runtime, actor: ActorFn) -> list[Any]:
    """Two UTC days of readings ten days back (2026-02-20 and 21) and the last three hours."""
    make_device(rt, actor, "aq-000001")
    now = to_ms(rt.clock.now())
    rows = history(ms("2026-02-20T00:00:00"), ms("2026-02-22T00:00:00"))
    rows += history(now - 3 * HOUR_MS, now, seed=6)
    store(rt, rows)
    run_rollups(rt)
    return rows


def test_archive_moves_old_days_to_parquet_and_the_api_reads_them(
    rt: Runtime, api: Api, old_and_new: list[Any]
) -> None:
    now = to_ms(rt.clock.now())
    queries = [
        (ms("2026-02-20T22:00:00"), ms("2026-02-21T02:30:00"), None),
        (ms("2026-02-20T22:00:00"), ms("2026-02-21T02:30:00"), "10s"),
        (ms("2026-02-19T00:00:00"), now, "1h"),
        (ms("2026-02-20T05:03:00"), ms("2026-02-21T09:00:00"), "5m"),
        (ms("2026-02-21T23:50:00"), ms("2026-02-22T00:10:00"), "1m"),
    ]
    before = [telemetry(api, *q) for q in queries]
    assert len(before[0][0]) > 100
    old = [r for r in old_and_new if r[2] < ms("2026-02-22T00:00:00")]

    report = archive_old(rt)

    assert report.before == date(2026, 2, 23)
    assert [(d.day, d.rows) for d in report.days] == [
        (date(2026, 2, 20), sum(1 for r in old if r[2] < ms("2026-02-21T00:00:00"))),
        (date(2026, 2, 21), sum(1 for r in old if r[2] >= ms("2026-02-21T00:00:00"))),
    ]
    assert count_readings(rt, Reading.ts < ms("2026-02-23T00:00:00")) == 0
    assert count_readings(rt) == len(old_and_new) - len(old)
    with rt.db.read() as session:
        audited = session.execute(
            select(AuditRecord.subject_id, AuditRecord.after, AuditRecord.actor_name)
            .where(AuditRecord.action == "devices:telemetry:archived")
            .order_by(AuditRecord.subject_id)
        ).all()
    assert [(a[0], a[1]["readings"]) for a in audited] == [
        (d.day.isoformat(), d.rows) for d in report.days
    ]
    root = archive_root(rt)
    files = sorted(root.rglob("*"))
    parquet = [p for p in files if p.is_file()]
    assert [p.parent.name for p in parquet] == ["day=2026-02-20", "day=2026-02-21"]
    assert all(p.name.startswith("part-") and p.suffix == ".parquet" for p in parquet)
    table = pq.read_table(parquet[0])
    rows = list(zip(*(table.column(k).to_pylist() for k in KEYS), strict=True))
    first_day = (r for r in old if r[2] < ms("2026-02-21T00:00:00"))
    assert rows == sorted(first_day, key=lambda r: (r[0], r[2], r[1]))  # device, time, metric
    meta = pq.ParquetFile(parquet[0]).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"

    after = [telemetry(api, *q) for q in queries]
    for got, want in zip(after, before, strict=True):
        same(got, want)
    # Nothing left to move: a second run writes nothing.
    assert archive_old(rt).days == []
    assert sorted(p for p in root.rglob("*") if p.is_file()) == parquet


def test_rows_stay_when_the_file_cannot_be_written(
    rt: Runtime, old_and_new: list[Any], tmp_path: Path
) -> None:
    blocked = archive_root(rt)
    blocked.parent.mkdir(parents=True)
    blocked.write_text("not a folder")
    with pytest.raises((FileExistsError, NotADirectoryError)):
        archive_old(rt)
    assert count_readings(rt) == len(old_and_new)


def test_archive_respects_the_hot_window_and_before(
    rt: Runtime, old_and_new: list[Any], api: Api
) -> None:
    report = archive_old(rt, before=date(2026, 2, 21))
    assert [d.day for d in report.days] == [date(2026, 2, 20)]
    assert count_readings(rt, Reading.ts < ms("2026-02-21T00:00:00")) == 0
    assert count_readings(rt, Reading.ts >= ms("2026-02-21T00:00:00")) > 0
    rt.settings = rt.settings.model_copy(update={"telemetry_hot_days": 30})
    assert archive_old(rt).days == []


def test_retention_drops_expired_minute_rollups_and_keeps_the_hourly(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    now = to_ms(rt.clock.now())
    start = (now - 100 * DAY_MS) // DAY_MS * DAY_MS
    rows = history(start, start + 6 * HOUR_MS)
    store(rt, rows + history(now - 2 * HOUR_MS, now, seed=9))
    run_rollups(rt)
    hourly = telemetry(api, start, start + DAY_MS, "1h")
    five = telemetry(api, start + 7 * 60_000, start + 8 * HOUR_MS, "5m")
    assert sum(b["count"] for b in hourly[0]) > 100

    report = archive_old(rt)

    cutoff = (now - 90 * DAY_MS) // DAY_MS * DAY_MS
    with rt.db.read() as session:
        old_minutes = session.scalar(
            select(func.count()).select_from(Rollup1m).where(Rollup1m.bucket < cutoff)
        )
        kept_minutes = session.scalar(select(func.count()).select_from(Rollup1m))
        old_hours = session.scalar(
            select(func.count()).select_from(Rollup1h).where(Rollup1h.bucket < cutoff)
        )
    assert old_minutes == 0
    assert report.expired_minute_rollups > 0
    assert kept_minutes  # the recent ones
    assert old_hours == 6 * 2 * 2
    same(telemetry(api, start, start + DAY_MS, "1h"), hourly)
    # 5-minute steps of that day: no 1-minute rollups left, so from the archived readings.
    same(telemetry(api, start + 7 * 60_000, start + 8 * HOUR_MS, "5m"), five)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def test_cli_archive_prints_what_it_moved(cli_env: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    # The command runs on the real clock: days 20 and 19 days back.
    today = datetime.now(UTC).date()
    first, second = today - timedelta(days=20), today - timedelta(days=19)
    begin = to_ms(datetime(first.year, first.month, first.day, tzinfo=UTC))
    rows = history(begin, begin + 2 * DAY_MS)
    engine = create_engine(f"sqlite:///{cli_env}/cli.sqlite3")
    with engine.begin() as connection:
        connection.execute(insert(Reading), sample_rows(rows))
    engine.dispose()

    result = runner.invoke(app, ["devices", "archive", "--before", second.isoformat()])
    assert result.exit_code == 0, result.output
    on_first = sum(1 for r in rows if r[2] < begin + DAY_MS)
    assert f"archived {on_first} readings of 1 days before {second.isoformat()}" in result.output
    assert (cli_env / "archive" / "telemetry" / f"day={first.isoformat()}").is_dir()

    result = runner.invoke(app, ["devices", "archive"])
    assert result.exit_code == 0, result.output
    assert f"archived {len(rows) - on_first} readings of 1 days" in result.output
    assert second.isoformat() in result.output

    bad = runner.invoke(app, ["devices", "archive", "--before", "21/11/2026"])
    assert bad.exit_code == 1
    assert "--before" in bad.output
