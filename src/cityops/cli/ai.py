"""``cityops ai``: train a case classifier from a CSV/Excel file, evaluate it, ask it; and the
city's model versions: retrain from its cases, list, activate, roll back, publish a file.

Bad input (a missing column, an empty or unreadable file, a single class, a file that is not
a model) is one line on stderr and exit code 2; a refused model command (too few examples, no
such version, labels not in the catalogue) exits with 1.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cityops.brain import modelfile, tabular, training, versions
from cityops.brain.views import ModelOut
from cityops.cli.common import domain_errors, runtime_or_exit
from cityops.core.auth import SYSTEM
from cityops.core.pagination import MAX_PAGE_SIZE, PageParams

app = typer.Typer(
    help="The case classifier (智能派单): train, evaluate, predict; the city's model versions.",
    no_args_is_help=True,
)

BAD_INPUT = 2

InputOption = Annotated[Path, typer.Option("--input", help="labelled messages (.csv or .xlsx)")]
TextOption = Annotated[str, typer.Option("--text-column", help="column with the message text")]
TitleOption = Annotated[
    str | None, typer.Option("--title-column", help="column with the message title")
]
LabelOption = Annotated[str, typer.Option("--label-column", help="column with the category")]
ModelOption = Annotated[Path, typer.Option("--model", help="model file")]


@contextmanager
def _bad_input() -> Iterator[None]:
    try:
        yield
    except (tabular.TableError, modelfile.ModelFileError, training.TrainingError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(BAD_INPUT) from None


@app.command()
def train(
    input_file: InputOption,
    text_column: TextOption,
    label_column: LabelOption,
    model: Annotated[Path, typer.Option("--model", help="model file to write")],
    title_column: TitleOption = None,
    unlabelled: Annotated[
        list[Path] | None,
        typer.Option("--unlabelled", help="files of unlabelled messages (same columns); repeat"),
    ] = None,
    category_tree: Annotated[
        Path | None,
        typer.Option("--category-tree", help="category paths, one per row, top level first"),
    ] = None,
    test_share: Annotated[
        float, typer.Option(help="share held out for the evaluation printed", min=0.0, max=0.5)
    ] = 0.2,
) -> None:
    """Train a classifier, print an evaluation on a held-out split, write the model."""
    with _bad_input():
        messages = tabular.read_messages(
            input_file,
            text_column=text_column,
            title_column=title_column,
            label_column=label_column,
        )
        tabular.require_classes(messages, input_file, label_column)
        extra = list(messages.unlabelled)
        for path in unlabelled or []:
            extra.extend(
                tabular.read_unlabelled(
                    path,
                    text_column=text_column,
                    title_column=title_column,
                    label_column=label_column,
                )
            )
        tree = tabular.read_tree(category_tree) if category_tree else []
        counts = Counter(example.label for example in messages.labelled)
        typer.echo(
            f"read {len(messages.labelled)} labelled and {len(extra)} unlabelled messages,"
            f" {len(counts)} classes, {len(tree)} category paths"
        )
        for label, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
            typer.echo(f"  {label}: {count}")
        if test_share > 0:
            train_part, test_part = training.split(messages.labelled, test_share)
            if test_part:
                held = training.train(train_part, unlabelled=extra, tree=tree)
                figures = training.evaluate(held, test_part)
                typer.echo(
                    f"held-out evaluation ({figures.n} messages, {test_share:.0%}):"
                    f" accuracy {figures.accuracy:.4f}, macro-F1 {figures.macro_f1:.4f}"
                )
        final = training.train(messages.labelled, unlabelled=extra, tree=tree)
        size = modelfile.save(final, model)
    typer.echo(
        f"model with {len(final.labels)} classes trained on {len(messages.labelled)} messages"
        f" ({final.info['pseudo_labelled']} self-labelled) in {final.info['seconds']:.1f} s,"
        f" written to {model} ({size / 1e6:.1f} MB)"
    )


@app.command()
def evaluate(
    model: ModelOption,
    input_file: InputOption,
    text_column: TextOption,
    label_column: LabelOption,
    title_column: TitleOption = None,
) -> None:
    """Evaluate a model on a labelled file; the last line is the figures as one JSON object."""
    with _bad_input():
        classifier = modelfile.load(model)
        messages = tabular.read_messages(
            input_file,
            text_column=text_column,
            title_column=title_column,
            label_column=label_column,
        )
        if not messages.labelled:
            raise tabular.TableError(f"{input_file}: column {label_column!r} has no labels")
        figures = training.evaluate(classifier, messages.labelled)
    unknown = sorted(set(messages.labels) - set(classifier.labels))
    if unknown:
        typer.echo(f"labels the model does not know: {', '.join(unknown)}", err=True)
    typer.echo(json.dumps(figures.as_dict(), ensure_ascii=False))


@app.command()
def predict(
    model: ModelOption,
    text: Annotated[str, typer.Argument(help="the message")],
    title: Annotated[str, typer.Option(help="the message's title")] = "",
    top: Annotated[int, typer.Option("--top", help="suggestions to show", min=1, max=20)] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The most likely categories of a message, with confidence and the words behind them."""
    with _bad_input():
        if not text.strip() and not title.strip():
            raise tabular.TableError("the message is empty")
        classifier = modelfile.load(model)
    suggestions = classifier.suggest(title, text, k=top)
    if as_json:
        payload = [
            {"label": s.label, "confidence": round(s.confidence, 4), "words": list(s.words)}
            for s in suggestions
        ]
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    for rank, suggestion in enumerate(suggestions, 1):
        words = "、".join(suggestion.words) or "-"
        typer.echo(f"{rank}. {suggestion.label}  {suggestion.confidence:.1%}  ({words})")


# --- the city's model versions ---------------------------------------------------------------


class Activation(StrEnum):
    always = "always"
    never = "never"
    if_better = "if_better"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _describe(out: ModelOut) -> str:
    return (
        f"version {out.version} ({out.source}, {out.status}): {out.training.get('labelled', 0)}"
        f" labelled, {out.training.get('unlabelled', 0)} unlabelled,"
        f" accuracy {_figure(out.accuracy)}, macro-F1 {_figure(out.macro_f1)}"
    )


@app.command()
def retrain(
    activate: Annotated[
        Activation, typer.Option(help="activate the new version: always, never, if_better")
    ] = Activation.if_better,
    note: Annotated[str, typer.Option(help="a note kept with the version")] = "",
) -> None:
    """Train a version from the city's categorised cases and store it with its figures."""
    runtime = runtime_or_exit()
    with domain_errors():
        out = versions.retrain_model(runtime, actor=SYSTEM, activate=activate.value, note=note)
    typer.echo(_describe(out))


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The model versions, newest first, with their figures."""
    runtime = runtime_or_exit()
    listed = versions.list_models(
        runtime, actor=SYSTEM, params=PageParams(page=1, page_size=MAX_PAGE_SIZE)
    )
    if as_json:
        typer.echo(listed.model_dump_json())
        return
    if not listed.items:
        typer.echo("no model versions yet: triage uses the keyword classifier")
        return
    typer.echo("version  status   source   created (UTC)     labelled  accuracy  macro-F1")
    for item in listed.items:
        typer.echo(
            f"{item.version:>7}  {item.status:<7}  {item.source:<7}"
            f"  {item.created_at:%Y-%m-%d %H:%M}  {item.training.get('labelled', 0):>8}"
            f"  {_figure(item.accuracy):>8}  {_figure(item.macro_f1):>8}"
        )


@app.command("activate")
def activate_version(
    version: Annotated[int, typer.Argument(help="the version to activate")],
) -> None:
    """Make a version the model triage uses."""
    runtime = runtime_or_exit()
    with domain_errors():
        out = versions.activate_model(runtime, actor=SYSTEM, version=version)
    typer.echo(f"activated {_describe(out)}")


@app.command()
def rollback() -> None:
    """Go back to the version the active one replaced."""
    runtime = runtime_or_exit()
    with domain_errors():
        out = versions.rollback_model(runtime, actor=SYSTEM)
    typer.echo(f"rolled back to {_describe(out)}")


@app.command()
def publish(
    model: Annotated[
        Path, typer.Option("--model", help="model file from cityops ai train", dir_okay=False)
    ],
    note: Annotated[str, typer.Option(help="a note kept with the version")] = "",
) -> None:
    """Store a model file as a new version (not activated: use cityops ai activate)."""
    try:
        data = model.read_bytes()
    except OSError as exc:
        typer.secho(f"error: cannot read {model}: {exc.strerror}", fg=typer.colors.RED, err=True)
        raise typer.Exit(BAD_INPUT) from None
    runtime = runtime_or_exit()
    with domain_errors():
        out = versions.upload_model(runtime, actor=SYSTEM, data=data, note=note)
    typer.echo(f"published {_describe(out)}")
