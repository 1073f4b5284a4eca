"""cityops command line: serve, demo, db, users, devices, kpi, ingest, simulate."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Annotated

import typer

from cityops.cli import ai as ai_cli
from cityops.cli import devices as devices_cli
from cityops.cli import ingest as ingest_cli
from cityops.cli import kpi as kpi_cli
from cityops.cli import serving
from cityops.cli import simulate as simulate_cli
from cityops.cli.common import domain_errors, runtime_or_exit, settings_or_exit
from cityops.cli.live import live_feed
from cityops.core.auth import SYSTEM
from cityops.devices import service as devices
from cityops.migrations import current_revision, upgrade
from cityops.org import service as org
from cityops.org.roles import Role
from cityops.org.schemas import UserIn

app = typer.Typer(help="cityops: the city operations platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="User accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(devices_cli.app, name="devices")
app.add_typer(ai_cli.app, name="ai")
app.command("kpi")(kpi_cli.kpi)
app.command("ingest")(ingest_cli.ingest)
app.command("simulate")(simulate_cli.simulate)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address (CITYOPS_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (CITYOPS_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (CITYOPS_WORKERS)")] = None,
) -> None:
    """Run the platform (production start: no demo data, default secrets refused)."""
    # Worker processes build their own settings from the environment: pin the profile there.
    os.environ["CITYOPS_PROFILE"] = "production"
    settings = settings_or_exit()
    runtime = runtime_or_exit()
    # Shipped reference data that a new release may extend (the case catalogue is seeded once).
    devices.import_default_types(runtime, actor=SYSTEM)
    runtime.db.engine.dispose()
    serving.serve(
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
    )


@app.command()
def demo(
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="serve afterwards")
    ] = True,
    days: Annotated[int, typer.Option(help="days of case history to generate")] = 30,
    cases: Annotated[
        int | None,
        typer.Option(
            help="write this many cases over --days in bulk instead of replaying the history"
            " (load tests: no photos, no audit records)",
            min=0,
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live/--no-live",
            help="while serving, run the sensor simulator (and an ingest worker with a broker)",
        ),
    ] = True,
) -> None:
    """Create the demo city (if the database is empty) and serve it."""
    from cityops.demo.city import build_demo_city

    os.environ["CITYOPS_PROFILE"] = "demo"
    # The demo shows intelligent dispatch at work: its trained model dispatches confident reports.
    os.environ.setdefault("CITYOPS_AUTO_DISPATCH", "true")
    runtime = runtime_or_exit()
    with domain_errors():
        credentials = build_demo_city(
            runtime, days=days, cases=cases, progress=lambda line: typer.echo(line, err=True)
        )
    typer.echo(credentials.describe(runtime.settings))
    if serve_after:
        runtime.db.engine.dispose()
        settings = runtime.settings
        with live_feed(settings, credentials.api_key) if live else nullcontext():
            serving.serve(
                host=settings.host, port=settings.port, workers=1, log_level=settings.log_level
            )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: all)."""
    runtime = runtime_or_exit(migrate=False)
    upgrade(runtime.db.engine, revision)
    typer.echo(f"database at revision {current_revision(runtime.db.engine)}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the database."""
    runtime = runtime_or_exit(migrate=False)
    typer.echo(current_revision(runtime.db.engine) or "empty")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="role of the new user")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    display_name: Annotated[str | None, typer.Option(help="name shown in the UI")] = None,
    department: Annotated[str | None, typer.Option(help="department code (handlers)")] = None,
    area: Annotated[str | None, typer.Option(help="area code (grid workers, scoped staff)")] = None,
) -> None:
    """Create a user account."""
    runtime = runtime_or_exit()
    with domain_errors():
        user = org.create_user(
            runtime,
            actor=SYSTEM,
            data=_user_in(username, role, password, display_name, department, area),
        )
    typer.echo(f"created {user.username} ({user.role}) id={user.id}")


def _user_in(
    username: str,
    role: Role,
    password: str,
    display_name: str | None,
    department: str | None,
    area: str | None,
) -> UserIn:
    from pydantic import ValidationError

    try:
        return UserIn(
            username=username,
            role=role,
            password=password,
            display_name=display_name or username,
            department_code=department,
            area_code=area,
        )
    except ValidationError as exc:
        for error in exc.errors():
            typer.secho(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(1) from None
