"""Registering thousands of devices from one CSV or Excel (.xlsx) file.

Every row is checked (columns, type, location, department, duplicates in the file and in the
database) and every problem reported with its row, column and reason. ``all_or_nothing`` (the
default) stores nothing when any row is wrong, so a corrected file can simply be sent again;
``valid_rows`` stores the good rows and reports the others. The rows go in with one bulk
insert, in one transaction.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from pydantic import ValidationError
from sqlalchemy import insert, select

from cityops.core.audit.service import record
from cityops.core.auth import Actor
from cityops.core.errors import FieldError, ValidationFailed, invalid
from cityops.core.i18n import pydantic_text, text
from cityops.core.runtime import Runtime
from cityops.devices import events, known
from cityops.devices.models import Device
from cityops.devices.registry import device_type, place, placement_columns, registered_event
from cityops.devices.schemas import DeviceIn, ImportMode, ImportReport, RowError
from cityops.org.roles import Perm

MAX_ROWS = 50_000
MAX_BYTES = 20 * 1024 * 1024
REQUIRED = ("id", "type", "name", "lon", "lat")
# Accepted header names of each column (English, then the Chinese a city's sheet uses).
ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "device_id", "设备编号"),
    "type": ("type", "type_code", "设备类型"),
    "name": ("name", "设备名称", "名称"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "address": ("address", "地址"),
    "department": ("department", "department_code", "权属部门", "部门"),
    "installed_on": ("installed_on", "install_date", "安装日期"),
    "status": ("status", "状态"),
}
_COLUMN_OF_FIELD = {
    "id": "id",
    "type": "type",
    "name": "name",
    "location": "lon,lat",
    "location.lon": "lon",
    "location.lat": "lat",
    "address": "address",
    "department_code": "department",
    "installed_on": "installed_on",
    "status": "status",
}
XLSX_MAGIC = b"PK\x03\x04"


def read_table(data: bytes) -> list[list[Any]]:
    """The rows of a CSV (UTF-8, or GB18030 as Chinese Excel writes it) or .xlsx file."""
    if len(data) > MAX_BYTES:
        raise invalid(
            "file", text("the file is over {size} MB", size=MAX_BYTES // (1024 * 1024)), "too_large"
        )
    if data.startswith(XLSX_MAGIC):
        return _read_xlsx(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return list(csv.reader(io.StringIO(decoded, newline="")))
    raise invalid("file", "not a UTF-8 or GB18030 CSV file, nor an .xlsx workbook", "unreadable")


def _read_xlsx(data: bytes) -> list[list[Any]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise invalid(
            "file", text("not a readable .xlsx workbook: {error}", error=exc), "unreadable"
        ) from None
    try:
        sheet = book.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _header(row: Sequence[Any]) -> dict[str, int]:
    """Column name → position, by the accepted aliases; missing required columns are errors."""
    names = [str(cell).strip().lower() if cell is not None else "" for cell in row]
    found: dict[str, int] = {}
    for column, aliases in ALIASES.items():
        for position, name in enumerate(names):
            if name in aliases:
                found[column] = position
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise ValidationFailed(
            *(
                FieldError(
                    f"file.{c}",
                    text("the header has no {column!r} column", column=c),
                    "missing_column",
                )
                for c in missing
            )
        )
    return found


def _cell(row: Sequence[Any], position: int | None) -> Any:
    if position is None or position >= len(row):
        return None
    value = row[position]
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _row_input(row: Sequence[Any], columns: dict[str, int]) -> dict[str, Any]:
    get = {name: _cell(row, position) for name, position in columns.items()}
    installed = get.get("installed_on")
    if isinstance(installed, datetime):
        installed = installed.date()
    body: dict[str, Any] = {
        "id": _text(get.get("id")),
        "type": _text(get.get("type")),
        "name": _text(get.get("name")),
        "address": _text(get.get("address")),
        "department_code": _text(get.get("department")),
        "installed_on": installed.isoformat() if isinstance(installed, date) else installed,
        "status": _text(get.get("status")),
    }
    point = {k: get[k] for k in ("lon", "lat") if get.get(k) is not None}
    # An empty cell is a missing value (reported as "missing", not as a wrong type).
    return {k: v for k, v in body.items() if v is not None} | {"location": point}


def _text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) if isinstance(value, int | float) else value


def _errors_of(number: int, exc: ValidationError | ValidationFailed) -> Iterator[RowError]:
    if isinstance(exc, ValidationFailed):
        for f in exc.fields:
            column = _COLUMN_OF_FIELD.get(f.field, f.field)
            yield _row_error(number, column, f.code, f.message)
        return
    for e in exc.errors():
        field = ".".join(str(part) for part in e["loc"])
        column = _COLUMN_OF_FIELD.get(field, field)
        yield _row_error(number, column, e["type"], pydantic_text(e))


def _row_error(row: int, column: str, code: str, message: str) -> RowError:
    """A RowError that keeps its message as made: a ``Text`` stays one, so that the refusal
    of an all-or-nothing import says it in the caller's language (validating the model would
    turn it into a plain ``str``)."""
    return RowError.model_construct(row=row, column=column, code=code, message=message)


def import_devices(
    rt: Runtime,
    *,
    actor: Actor,
    data: bytes,
    mode: ImportMode = "all_or_nothing",
    filename: str | None = None,
) -> ImportReport:
    """Register the devices of a CSV/.xlsx file (see the module docstring for the modes).

    ``all_or_nothing`` with errors raises ValidationFailed whose ``details`` hold the report.
    """
    actor.require(Perm.devices_manage)
    table = read_table(data)
    if not table:
        raise invalid("file", "the file is empty", "empty")
    columns = _header(table[0])
    body = [row for row in table[1:] if any(cell not in (None, "") for cell in row)]
    if len(body) > MAX_ROWS:
        raise invalid(
            "file",
            text("{rows} rows; at most {limit} per import", rows=len(body), limit=MAX_ROWS),
            "too_many_rows",
        )
    with rt.db.transaction() as tx:
        now = rt.clock.now()
        rows, errors = _check_rows(rt, tx.session, table, columns)
        report = ImportReport(mode=mode, rows=len(body), created=0, errors=errors)
        if errors and mode == "all_or_nothing":
            failed = ValidationFailed(
                *(FieldError(f"rows.{e.row}.{e.column}", e.message, e.code) for e in errors[:200]),
                message=text(
                    "{count} problem(s) in the file; nothing was imported", count=len(errors)
                ),
            )
            failed.details = report.model_dump(mode="json")
            raise failed
        for row in rows:
            row.update(created_at=now, updated_at=now, online=False)
        if rows:
            tx.session.execute(insert(Device), rows)
        ids = [row["id"] for row in rows]
        record(
            tx.session,
            actor=actor,
            action=events.DEVICES_IMPORTED,
            subject_type="device_import",
            subject_id=filename or "upload",
            at=now,
            after={
                "mode": mode,
                "rows": len(body),
                "created": len(ids),
                "ids": ids,
                "errors": len(errors),
            },
        )
        for row in rows:
            tx.emit(registered_event(Device(**row)))
        tx.after_commit(lambda: known.forget(rt, ids))
        report.created, report.created_ids = len(ids), ids
    return report


def _check_rows(
    rt: Runtime, session: Any, table: list[list[Any]], columns: dict[str, int]
) -> tuple[list[dict[str, Any]], list[RowError]]:
    """Valid rows as Device column dicts, and every problem found."""
    candidates: list[tuple[int, DeviceIn]] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(table[1:], start=2):
        if not any(cell not in (None, "") for cell in row):
            continue
        try:
            device = DeviceIn.model_validate(_row_input(row, columns))
        except ValidationError as exc:
            errors.extend(_errors_of(number, exc))
            continue
        if device.id in seen:
            message = text("device {id!r} is also on row {row}", id=device.id, row=seen[device.id])
            errors.append(_row_error(number, "id", "duplicate", message))
            continue
        seen[device.id] = number
        candidates.append((number, device))
    taken = _registered(session, [d.id for _, d in candidates])
    rows = []
    for number, device in candidates:
        if device.id in taken:
            message = text("device {id!r} is already registered", id=device.id)
            errors.append(_row_error(number, "id", "duplicate", message))
            continue
        try:
            rows.append(_columns(rt, session, device))
        except ValidationFailed as exc:
            errors.extend(_errors_of(number, exc))
    errors.sort(key=lambda e: e.row)
    return rows, errors


def _registered(session: Any, ids: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        taken.update(session.scalars(select(Device.id).where(Device.id.in_(chunk))))
    return taken


def _columns(rt: Runtime, session: Any, device: DeviceIn) -> dict[str, Any]:
    kind = device_type(session, device.type)
    placement = place(
        rt, session, kind, device.location.lon, device.location.lat, device.department_code
    )
    return {
        "id": device.id,
        "type_code": kind.code,
        "name": device.name,
        "lon": device.location.lon,
        "lat": device.location.lat,
        "address": device.address,
        "installed_on": device.installed_on,
        "status": device.status,
        **placement_columns(placement),
    }
