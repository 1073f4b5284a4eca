"""The migrations build exactly the models' schema, and the CLI's basic commands work."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from typer.testing import CliRunner

from cityops.cli.main import app
from cityops.migrations import target_metadata


def _not_a_partition(name: str | None, kind: str, parent: object) -> bool:
    return not (kind == "table" and name is not None and name.startswith("devices_readings_"))


def test_migrated_schema_matches_the_models(engine: Engine, seeded: object) -> None:
    with engine.connect() as connection:
        # The monthly partitions of the readings on PostgreSQL are made at run time.
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _not_a_partition}
        )
        differences = compare_metadata(context, target_metadata)
    assert differences == []


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def test_db_upgrade_then_current(cli_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "database at revision 0013" in result.output
    current = runner.invoke(app, ["db", "current"])
    assert current.output.strip() == "0013"


def test_users_create_and_its_errors(cli_env: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app, ["users", "create", "chief", "--role", "admin", "--password", "a-long-password"]
    )
    assert ok.exit_code == 0, ok.output
    assert "created chief (admin)" in ok.output
    again = runner.invoke(
        app, ["users", "create", "chief", "--role", "admin", "--password", "a-long-password"]
    )
    assert again.exit_code == 1
    assert "taken" in again.output
    short = runner.invoke(app, ["users", "create", "x2", "--role", "admin", "--password", "short"])
    assert short.exit_code == 1
    assert "password" in short.output
    handler = runner.invoke(
        app, ["users", "create", "h1", "--role", "handler", "--password", "a-long-password"]
    )
    assert handler.exit_code == 1
    assert "department" in handler.output


def test_bad_setting_stops_the_cli_with_the_variable_named(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYOPS_PORT", "99999")
    result = CliRunner().invoke(app, ["db", "current"])
    assert result.exit_code == 2
    assert "CITYOPS_PORT" in result.output
