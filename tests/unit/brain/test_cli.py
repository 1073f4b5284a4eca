"""``cityops ai train|evaluate|predict`` through the real command line (typer's runner)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import pytest
from typer.testing import CliRunner

from cityops.brain.training import Example
from cityops.cli.main import app
from cityops.demo import corpus

runner = CliRunner()
COLUMNS = ["--text-column", "text", "--title-column", "title", "--label-column", "label"]


class Files(NamedTuple):
    folder: Path
    labelled: Path
    model: Path
    train_output: str


@pytest.fixture(scope="module")
def files(examples: list[Example], tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A labelled CSV of six common categories, an unlabelled XLSX and a tree."""
    common = {label for label, _ in Counter(e.label for e in examples).most_common(6)}
    chosen = [e for e in examples if e.label in common][:240]
    folder = tmp_path_factory.mktemp("ai")
    labelled = folder / "labelled.csv"
    corpus.write(labelled, [(e.title, e.text, e.label) for e in chosen], ("title", "text", "label"))
    unlabelled = folder / "unlabelled.xlsx"
    rows = [(e.title, e.text, "") for e in examples[900:1100]]
    corpus.write(unlabelled, rows, ("title", "text", "label"))
    tree = folder / "tree.csv"
    corpus.write(tree, corpus.category_tree(), ("level1", "level2", "level3"))
    model = folder / "model.cityops"
    result = runner.invoke(
        app,
        [
            "ai",
            "train",
            "--input",
            str(labelled),
            *COLUMNS,
            "--model",
            str(model),
            "--unlabelled",
            str(unlabelled),
            "--category-tree",
            str(tree),
        ],
    )
    assert result.exit_code == 0, result.output
    return Files(folder, labelled, model, result.output)


def test_train_reports_what_it_read_and_a_held_out_evaluation(files: Files) -> None:
    output = files.train_output
    assert "read 240 labelled and 200 unlabelled messages, 6 classes, " in output
    assert "held-out evaluation (" in output
    assert "macro-F1 0." in output
    assert files.model.stat().st_size > 0


def test_evaluate_prints_the_figures_as_json_last(files: Files) -> None:
    result = runner.invoke(
        app,
        ["ai", "evaluate", "--model", str(files.model), "--input", str(files.labelled), *COLUMNS],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output.strip().splitlines()[-1])
    assert set(figures) == {"n", "accuracy", "macro_f1", "per_class"}
    assert figures["n"] == 240
    assert figures["accuracy"] > 0.8
    row = next(iter(figures["per_class"].values()))
    assert set(row) == {"precision", "recall", "f1", "support"}


def test_predict_prints_top_three_with_confidence_and_words(files: Files) -> None:
    message = "小区楼下垃圾成堆好几天没人清理，臭死了"
    result = runner.invoke(app, ["ai", "predict", "--model", str(files.model), message])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("1. ")
    assert "%" in lines[0]
    as_json = runner.invoke(app, ["ai", "predict", "--json", "--model", str(files.model), message])
    suggestions = json.loads(as_json.output)
    assert [s["label"] for s in suggestions] == [line.split()[1] for line in lines]
    assert all(0 <= s["confidence"] <= 1 for s in suggestions)
    assert all(word in message for word in suggestions[0]["words"])


def _bad(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["ai", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_train_bad_input(files: Files) -> None:
    folder, labelled = files.folder, files.labelled
    out = ["--model", str(folder / "never.cityops")]
    _bad(
        [
            "train",
            "--input",
            str(labelled),
            "--text-column",
            "body",
            "--label-column",
            "label",
            *out,
        ],
        "no column 'body' (columns present: title, text, label)",
    )
    empty = folder / "empty.csv"
    empty.write_text("")
    _bad(["train", "--input", str(empty), *COLUMNS, *out], "empty.csv: the file is empty")
    one = folder / "one.csv"
    one.write_text("title,text,label\n,路灯坏了,路灯\n,路灯不亮,路灯\n", encoding="utf-8")
    _bad(["train", "--input", str(one), *COLUMNS, *out], "has only one class (路灯)")
    broken = folder / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    _bad(["train", "--input", str(broken), *COLUMNS, *out], "not a readable Excel")
    _bad(
        [
            "train",
            "--input",
            str(labelled),
            *COLUMNS,
            *out,
            "--category-tree",
            str(folder / "no.csv"),
        ],
        "no.csv: cannot read the file",
    )
    assert not (folder / "never.cityops").exists()


def test_evaluate_and_predict_bad_input(files: Files) -> None:
    folder, labelled, model = files.folder, files.labelled, files.model
    _bad(
        ["evaluate", "--model", str(labelled), "--input", str(labelled), *COLUMNS],
        "not a cityops model file",
    )
    _bad(
        [
            "evaluate",
            "--model",
            str(model),
            "--input",
            str(labelled),
            "--text-column",
            "text",
            "--label-column",
            "类别",
        ],
        "no column '类别'",
    )
    _bad(["predict", "--model", str(folder / "none.cityops"), "路灯"], "cannot read model file")
    _bad(["predict", "--model", str(model), "  "], "the message is empty")
