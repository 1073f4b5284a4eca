"""``cityops devices``: register one device, import a CSV/Excel file, list devices, archive
old telemetry."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from pydantic import ValidationError

from cityops.cli.common import domain_errors, runtime_or_exit
from cityops.core.auth import SYSTEM
from cityops.core.errors import ValidationFailed
from cityops.core.pagination import PageParams
from cityops.devices import service
from cityops.devices.archive import archive_old
from cityops.devices.schemas import DeviceFilter, DeviceIn, ImportMode, Point


class Status(StrEnum):
    active = "active"
    maintenance = "maintenance"
    retired = "retired"


app = typer.Typer(help="Devices (sensors) of the perception layer.", no_args_is_help=True)


@app.command("add")
def add(
    device_id: Annotated[str, typer.Argument(help="the maker's device code, e.g. wl-000123")],
    type_code: Annotated[str, typer.Option("--type", help="device type code")],
    name: Annotated[str, typer.Option(help="name shown in the UI")],
    lon: Annotated[float, typer.Option(help="WGS84 longitude")],
    lat: Annotated[float, typer.Option(help="WGS84 latitude")],
    department: Annotated[
        str | None, typer.Option(help="owning department code (default: by the type's kind)")
    ] = None,
    address: Annotated[str | None, typer.Option()] = None,
    installed_on: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
) -> None:
    """Register one device."""
    try:
        data = DeviceIn(
            id=device_id,
            type=type_code,
            name=name,
            location=Point(lon=lon, lat=lat),
            department_code=department,
            address=address,
            installed_on=date.fromisoformat(installed_on) if installed_on else None,
        )
    except (ValidationError, ValueError) as exc:
        _print_invalid(exc)
        raise typer.Exit(1) from None
    runtime = runtime_or_exit()
    with domain_errors():
        device = service.register_device(runtime, actor=SYSTEM, data=data)
    owner = device.department.code if device.department else "-"
    typer.echo(
        f"registered {device.id} ({device.type.code}) at {device.location.area_path}, {owner}"
    )


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or .xlsx file")],
    valid_rows: Annotated[
        bool, typer.Option("--valid-rows", help="keep the valid rows when others are wrong")
    ] = False,
) -> None:
    """Register the devices of a CSV or Excel file (all rows or none, unless --valid-rows)."""
    runtime = runtime_or_exit()
    mode: ImportMode = "valid_rows" if valid_rows else "all_or_nothing"
    try:
        report = service.import_devices(
            runtime, actor=SYSTEM, data=path.read_bytes(), mode=mode, filename=path.name
        )
    except ValidationFailed as exc:
        typer.secho(f"error: {exc.message}", fg=typer.colors.RED, err=True)
        rows = exc.details.get("errors") if exc.details else None
        for item in rows or []:
            typer.echo(f"  row {item['row']}, {item['column']}: {item['message']}", err=True)
        if rows is None:
            for field in exc.fields:
                typer.echo(f"  {field.field}: {field.message}", err=True)
        raise typer.Exit(1) from None
    for item in report.errors:
        typer.echo(f"  row {item.row}, {item.column}: {item.message}", err=True)
    typer.echo(f"imported {report.created} of {report.rows} rows ({len(report.errors)} errors)")


@app.command("list")
def list_devices(
    type_code: Annotated[str | None, typer.Option("--type")] = None,
    status: Annotated[Status | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
) -> None:
    """List devices: id, type, status, health, last seen, department, name."""
    runtime = runtime_or_exit()
    with domain_errors():
        page = service.list_devices(
            runtime,
            actor=SYSTEM,
            filters=DeviceFilter(type=type_code, status=status.value if status else None),
            params=PageParams(page_size=limit),
        )
    zone = ZoneInfo(runtime.settings.timezone)
    for device in page.items:
        seen = _local(device.health.last_seen_at, zone)
        owner = device.department.code if device.department else "-"
        typer.echo(
            f"{device.id:<20} {device.type.code:<20} {device.status:<12} "
            f"{device.health.state:<11} {seen:<17} {owner:<20} {device.name}"
        )
    typer.echo(f"{len(page.items)} of {page.total} devices")


@app.command("archive")
def archive(
    before: Annotated[
        str | None,
        typer.Option(help="archive only days before this UTC date (YYYY-MM-DD)"),
    ] = None,
) -> None:
    """Move raw readings older than the hot window to Parquet files and drop expired
    1-minute rollups (what the daily job does)."""
    try:
        until = date.fromisoformat(before) if before else None
    except ValueError:
        typer.secho(f"error: --before: not a date (YYYY-MM-DD): {before!r}", err=True)
        raise typer.Exit(1) from None
    runtime = runtime_or_exit()
    report = archive_old(runtime, before=until)
    for day in report.days:
        typer.echo(
            f"{day.day.isoformat()}  {day.rows:>10} readings  {day.bytes:>12} bytes  {day.path}"
        )
    typer.echo(
        f"archived {report.rows} readings of {len(report.days)} days before"
        f" {report.before.isoformat()} (UTC); dropped {report.expired_minute_rollups}"
        " expired 1-minute rollups"
    )


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    """The time in the city's zone, e.g. ``2026-03-02 10:00 CST``."""
    if moment is None:
        return "-"
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _print_invalid(exc: Exception) -> None:
    if isinstance(exc, ValidationError):
        for error in exc.errors():
            typer.secho(f"error: {'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
    else:
        typer.secho(f"error: {exc}", err=True)
