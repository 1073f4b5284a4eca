from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import Workbook

from cityops.brain import tabular
from cityops.brain.tabular import TableError

ROWS = [
    ("title", "text", "label"),
    ("路灯不亮", "五一大道路灯不亮", "路灯"),
    ("", "小区门口垃圾成堆", "暴露垃圾"),
    ("噪音", "酒吧太吵", ""),
    ("", "", "路灯"),
]


def _csv(path: Path, rows: list[tuple[str, ...]], encoding: str) -> Path:
    path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding=encoding)
    return path


def _xlsx(path: Path, rows: list[tuple[str | None, ...]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_each_encoding(tmp_path: Path, encoding: str) -> None:
    path = _csv(tmp_path / "m.csv", ROWS, encoding)
    messages = tabular.read_messages(
        path, text_column="text", title_column="title", label_column="label"
    )
    assert [(e.title, e.text, e.label) for e in messages.labelled] == [
        ("路灯不亮", "五一大道路灯不亮", "路灯"),
        ("", "小区门口垃圾成堆", "暴露垃圾"),
    ]
    assert messages.unlabelled == [("噪音", "酒吧太吵")]  # the empty row is skipped
    assert messages.labels == ["暴露垃圾", "路灯"]


def test_xlsx_with_empty_cells(tmp_path: Path) -> None:
    rows: list[tuple[str | None, ...]] = [
        ("留言主题", "留言详情", "类别"),
        ("井盖", "井盖缺失", None),
    ]
    path = _xlsx(tmp_path / "m.xlsx", [*rows, (None, "路灯坏了", "路灯")])
    messages = tabular.read_messages(path, text_column="留言详情", label_column="类别")
    assert messages.unlabelled == [("", "井盖缺失")]
    assert [e.label for e in messages.labelled] == ["路灯"]
    unlabelled = tabular.read_unlabelled(
        path, text_column="留言详情", title_column="留言主题", label_column="类别"
    )
    assert unlabelled == [("井盖", "井盖缺失"), ("", "路灯坏了")]


def test_tree_rows_are_paths(tmp_path: Path) -> None:
    path = _xlsx(
        tmp_path / "tree.xlsx",
        [
            ("一级分类", "二级分类", "三级分类"),
            ("城乡建设", "市政", "路灯"),
            ("教育", "学前教育", None),
        ],
    )
    assert tabular.read_tree(path) == [("城乡建设", "市政", "路灯"), ("教育", "学前教育")]


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path / "m.csv", ROWS, "utf-8")
    with pytest.raises(
        TableError, match=r"m\.csv: no column 'body' \(columns present: title, text, label\)"
    ):
        tabular.read_messages(path, text_column="body", label_column="label")


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(TableError, match=r"empty\.csv: the file is empty"):
        tabular.read_table(empty)
    header = _csv(tmp_path / "header.csv", [ROWS[0]], "utf-8")
    with pytest.raises(TableError, match=r"header\.csv: the file has a header but no rows"):
        tabular.read_table(header)


def test_unreadable_and_unknown_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(TableError, match=r"broken\.xlsx: not a readable Excel"):
        tabular.read_table(broken)
    unknown = tmp_path / "m.json"
    unknown.write_text("{}")
    with pytest.raises(TableError, match=r"m\.json: unknown file format \.json"):
        tabular.read_table(unknown)
    with pytest.raises(TableError, match=r"missing\.csv: cannot read the file"):
        tabular.read_table(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"a,b\x00\x01\n")
    with pytest.raises(TableError, match=r"binary\.csv: not a CSV text file"):
        tabular.read_table(binary)


def test_one_class_or_no_labels_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path / "one.csv", [ROWS[0], ROWS[1], ("", "路灯坏了", "路灯")], "utf-8")
    messages = tabular.read_messages(path, text_column="text", label_column="label")
    with pytest.raises(TableError, match=r"one.csv: column 'label' has only one class \(路灯\)"):
        tabular.require_classes(messages, path, "label")
    none = _csv(tmp_path / "none.csv", [ROWS[0], ROWS[3]], "utf-8")
    messages = tabular.read_messages(none, text_column="text", label_column="label")
    with pytest.raises(TableError, match=r"none\.csv: column 'label' has no labels"):
        tabular.require_classes(messages, none, "label")
