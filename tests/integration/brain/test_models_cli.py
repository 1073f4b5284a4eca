"""``cityops ai retrain / models / activate / rollback / publish`` against a fresh database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityops.brain import modelfile, training
from cityops.cases import service as cases
from cityops.cli.common import runtime_or_exit
from cityops.cli.main import app
from cityops.core.auth import SYSTEM
from factories.models import messages

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CITYOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CITYOPS_DATABASE_URL", f"sqlite:///{tmp_path}/cli.sqlite3")
    monkeypatch.setenv("CITYOPS_BRAIN_RETRAIN_HOURS", "0")
    return tmp_path


def _model_file(tmp_path: Path, name: str, codes: tuple[str, ...]) -> Path:
    rows = [training.Example(t, x, code) for code in codes for t, x in messages(code, 6)]
    path = tmp_path / name
    modelfile.save(training.train(rows), path)
    return path


def test_publish_activate_and_roll_back(cli_env: Path) -> None:
    first = _model_file(cli_env, "a.model", ("E-01-02", "E-05-21"))
    second = _model_file(cli_env, "b.model", ("E-01-02", "A-01-01"))
    listed = runner.invoke(app, ["ai", "models"])
    assert listed.exit_code == 0, listed.output
    assert "no model versions yet" in listed.output
    # An empty catalogue knows none of the labels.
    refused = runner.invoke(app, ["ai", "publish", "--model", str(first)])
    assert refused.exit_code == 1
    assert "not category codes of the catalogue: E-01-02, E-05-21" in refused.output
    cases.import_default_catalogue(runtime_or_exit(), actor=SYSTEM)

    published = runner.invoke(app, ["ai", "publish", "--model", str(first), "--note", "first"])
    assert published.exit_code == 0, published.output
    assert "published version 1 (upload, trained): 12 labelled" in published.output
    runner.invoke(app, ["ai", "publish", "--model", str(second)])
    activated = runner.invoke(app, ["ai", "activate", "1"])
    assert activated.exit_code == 0, activated.output
    assert "activated version 1 (upload, active)" in activated.output
    again = runner.invoke(app, ["ai", "activate", "2"])
    assert "activated version 2 (upload, active)" in again.output
    back = runner.invoke(app, ["ai", "rollback"])
    assert back.exit_code == 0, back.output
    assert "rolled back to version 1 (upload, active)" in back.output
    table = runner.invoke(app, ["ai", "models"])
    lines = table.output.splitlines()
    assert lines[1].split()[:3] == ["2", "retired", "upload"]
    assert lines[2].split()[:3] == ["1", "active", "upload"]


def test_refusals_exit_non_zero_with_a_message(cli_env: Path) -> None:
    retrain = runner.invoke(app, ["ai", "retrain"])
    assert retrain.exit_code == 1
    assert "too few labelled cases to train" in retrain.output
    assert "Traceback" not in retrain.output
    rollback = runner.invoke(app, ["ai", "rollback"])
    assert rollback.exit_code == 1
    assert "no earlier version" in rollback.output
    missing = runner.invoke(app, ["ai", "activate", "3"])
    assert missing.exit_code == 1
    assert "model version 3 not found" in missing.output
    bad = runner.invoke(app, ["ai", "retrain", "--activate", "sometimes"])
    assert bad.exit_code == 2
    junk = cli_env / "junk.model"
    junk.write_bytes(b"not a model")
    not_model = runner.invoke(app, ["ai", "publish", "--model", str(junk)])
    assert not_model.exit_code == 1
    assert "file:" in not_model.output
    absent = runner.invoke(app, ["ai", "publish", "--model", str(cli_env / "none.model")])
    assert absent.exit_code == 2
    assert "cannot read" in absent.output


def test_commands_triage_in_their_own_thread(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A command may exit right after it commits: nothing may be left in a queue.
    monkeypatch.setenv("CITYOPS_BRAIN_BACKGROUND", "true")
    assert runtime_or_exit().workers == []
    assert runtime_or_exit(brain_background=True).workers != []
