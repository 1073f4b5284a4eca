"""``cityops devices add|import|list`` against a fresh database holding the synthetic city."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.app import build_runtime
from cityops.cli.main import app
from cityops.core.config import load_settings
from cityops.demo.geography import synthetic_city
from cityops.demo.seed import seed_organisation
from cityops.migrations import upgrade
from factories.devices import IN_GRID, OTHER_DISTRICT


@pytest.fixture
def city_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    runtime = build_runtime(load_settings(run_scheduler=False))
    upgrade(runtime.db.engine)
    seed_organisation(runtime, synthetic_city(), password="a-long-password")
    runtime.db.engine.dispose()
    return tmp_path


def test_add_import_and_list(city_db: Path) -> None:
    runner = CliRunner()
    lon, lat = IN_GRID
    added = runner.invoke(
        app,
        [
            "devices",
            "add",
            "wl-000123",
            "--type",
            "water_level",
            "--name",
            "水位计",
            "--lon",
            str(lon),
            "--lat",
            str(lat),
            "--installed-on",
            "2025-06-01",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "registered wl-000123 (water_level)" in added.output
    assert "shuiwu" in added.output
    again = runner.invoke(
        app,
        [
            "devices",
            "add",
            "wl-000123",
            "--type",
            "water_level",
            "--name",
            "x",
            "--lon",
            str(lon),
            "--lat",
            str(lat),
        ],
    )
    assert again.exit_code == 1
    assert "already registered" in again.output
    bad_id = runner.invoke(
        app,
        ["devices", "add", "w", "--type", "water_level", "--name", "x", "--lon", "1", "--lat", "1"],
    )
    assert bad_id.exit_code == 1
    assert "id:" in bad_id.output

    good = city_db / "good.csv"
    good.write_text(
        "id,type,name,lon,lat\n"
        f"mh-000001,manhole_cover,井盖一,{lon},{lat}\n"
        f"mh-000002,manhole_cover,井盖二,{OTHER_DISTRICT[0]},{OTHER_DISTRICT[1]}\n",
        encoding="utf-8",
    )
    imported = runner.invoke(app, ["devices", "import", str(good)])
    assert imported.exit_code == 0, imported.output
    assert "imported 2 of 2 rows (0 errors)" in imported.output

    bad = city_db / "bad.csv"
    bad.write_text(
        f"id,type,name,lon,lat\nsd-000001,smoke_detector,烟感,{lon},{lat}\nsd-2,teapot,x,{lon},{lat}\n",
        encoding="utf-8",
    )
    refused = runner.invoke(app, ["devices", "import", str(bad)])
    assert refused.exit_code == 1
    assert "row 3, type: unknown device type 'teapot'" in refused.output
    kept = runner.invoke(app, ["devices", "import", str(bad), "--valid-rows"])
    assert kept.exit_code == 0
    assert "imported 1 of 2 rows (1 errors)" in kept.output

    listed = runner.invoke(app, ["devices", "list", "--type", "manhole_cover"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["mh-000001", "mh-000002"]
    assert "never_seen" in lines[0]
    assert lines[-1] == "2 of 2 devices"
    everything = runner.invoke(app, ["devices", "list"])
    assert everything.output.strip().splitlines()[-1] == "4 of 4 devices"
