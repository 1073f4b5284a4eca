"""Reading labelled and unlabelled messages and category trees from CSV and Excel files.

CSV is UTF-8 (with or without a byte-order mark) or GBK/GB18030, as Excel in a Chinese locale
saves it; XLSX is read with openpyxl in read-only mode (first sheet). The first row names the
columns. Every problem is a :class:`TableError` whose message names the file (and the column).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cityops.brain.training import Example

_CSV = {".csv", ".txt", ".tsv"}
_XLSX = {".xlsx", ".xlsm"}


class TableError(ValueError):
    """A file that cannot serve as input, with a message a person can act on."""


@dataclass
class Table:
    path: Path
    columns: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> int:
        """The index of column ``name``; a TableError listing the columns present if missing."""
        try:
            return self.columns.index(name)
        except ValueError:
            present = ", ".join(c for c in self.columns if c) or "none"
            raise TableError(
                f"{self.path}: no column {name!r} (columns present: {present})"
            ) from None


@dataclass
class Messages:
    """The messages of a file: labelled ones, and those with an empty or no label."""

    labelled: list[Example] = field(default_factory=list)
    unlabelled: list[tuple[str, str]] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return sorted({example.label for example in self.labelled})


def read_table(path: Path) -> Table:
    """The header and rows of a CSV or XLSX file (cells as stripped strings)."""
    suffix = path.suffix.lower()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    if suffix in _XLSX or (suffix not in _CSV and data.startswith(b"PK\x03\x04")):
        grid = _read_xlsx(path, data)
    elif suffix in _CSV:
        grid = _read_csv(path, data, delimiter="\t" if suffix == ".tsv" else ",")
    else:
        raise TableError(f"{path}: unknown file format {suffix or '(none)'}; use .csv or .xlsx")
    grid = [row for row in grid if any(cell for cell in row)]
    if not grid:
        raise TableError(f"{path}: the file is empty")
    columns = grid[0]
    width = len(columns)
    rows = [(row + [""] * width)[:width] for row in grid[1:]]
    if not rows:
        raise TableError(f"{path}: the file has a header but no rows")
    return Table(path=path, columns=columns, rows=rows)


def read_messages(
    path: Path,
    *,
    text_column: str,
    title_column: str | None = None,
    label_column: str | None = None,
) -> Messages:
    """The messages of a file; rows without a label (or files without the label column, when
    ``label_column`` is None) are unlabelled; rows with neither title nor text are skipped."""
    table = read_table(path)
    text_at = table.column(text_column)
    title_at = table.column(title_column) if title_column else None
    label_at = table.column(label_column) if label_column else None
    messages = Messages()
    for row in table.rows:
        text = row[text_at]
        title = row[title_at] if title_at is not None else ""
        if not text and not title:
            continue
        label = row[label_at] if label_at is not None else ""
        if label:
            messages.labelled.append(Example(title=title, text=text, label=label))
        else:
            messages.unlabelled.append((title, text))
    return messages


def read_unlabelled(
    path: Path, *, text_column: str, title_column: str | None, label_column: str | None
) -> list[tuple[str, str]]:
    """Every message of a file as unlabelled text (the label column, if the file has it, is
    ignored: its labelled rows are unlabelled text too)."""
    table = read_table(path)
    label = label_column if label_column in table.columns else None
    messages = read_messages(
        path, text_column=text_column, title_column=title_column, label_column=label
    )
    return messages.unlabelled + [(e.title, e.text) for e in messages.labelled]


def require_classes(messages: Messages, path: Path, label_column: str) -> None:
    """A TableError unless the file has at least two labels."""
    labels = messages.labels
    if not labels:
        raise TableError(f"{path}: column {label_column!r} has no labels")
    if len(labels) < 2:
        raise TableError(
            f"{path}: column {label_column!r} has only one class ({labels[0]}); need at least two"
        )


def read_tree(path: Path) -> list[tuple[str, ...]]:
    """Category paths, one per row from the top level down (the header row is skipped)."""
    table = read_table(path)
    paths = []
    for row in table.rows:
        names = tuple(cell for cell in row if cell)
        if names:
            paths.append(names)
    return paths


def _read_csv(path: Path, data: bytes, *, delimiter: str) -> list[list[str]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            decoded = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost any bytes
        raise TableError(f"{path}: not a text file in UTF-8 or GBK")
    if "\x00" in decoded:
        raise TableError(f"{path}: not a CSV text file (binary content)")
    try:
        return [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(decoded, newline=""), delimiter=delimiter)
        ]
    except csv.Error as exc:
        raise TableError(f"{path}: not a readable CSV file ({exc})") from None


def _read_xlsx(path: Path, data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise TableError(f"{path}: not a readable Excel (.xlsx) file ({exc})") from None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return []
        return [cells(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def cells(row: Sequence[object]) -> list[str]:
    """Cells as stripped strings (None as empty)."""
    return ["" if cell is None else str(cell).strip() for cell in row]
