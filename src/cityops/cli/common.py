"""Shared helpers of the CLI: settings with a readable failure, the runtime, errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from cityops.app import build_runtime
from cityops.core.config import ConfigError, Settings, load_settings
from cityops.core.errors import DomainError
from cityops.core.runtime import Runtime
from cityops.migrations import upgrade


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except ConfigError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def runtime_or_exit(migrate: bool = True, **overrides: Any) -> Runtime:
    """A runtime for one command, with the schema brought up to date first; the work after
    commits (triage) runs in the command's own thread, so that none is left when it exits."""
    overrides.setdefault("brain_background", False)
    runtime = build_runtime(settings_or_exit(run_scheduler=False, **overrides))
    if migrate:
        upgrade(runtime.db.engine)
    return runtime


@contextmanager
def domain_errors() -> Iterator[None]:
    """Print a domain error as one line and exit 1 instead of a traceback."""
    try:
        yield
    except DomainError as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        for field in exc.fields:
            typer.secho(f"  {field.field}: {field.message}", err=True)
        raise typer.Exit(1) from None
