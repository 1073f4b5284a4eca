"""Registering devices from CSV and Excel files: every row error with row, column and reason;
all-or-nothing by default, valid rows kept on request; thousands in one call."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from cityops.core.runtime import Runtime
from cityops.devices.models import Device
from factories.api import Api, error, fields
from factories.devices import IN_GRID, OTHER_DISTRICT, make_device

ActorFn = Callable[[str], Any]
HEADER = ["id", "type", "name", "lon", "lat", "department", "installed_on", "address"]


def to_csv(rows: list[list[Any]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def to_xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(
    api: Api, data: bytes, name: str = "devices.csv", who: str = "admin", **params: Any
) -> Any:
    return api.client.post(
        "/api/v1/devices/import",
        files={"file": (name, data, "application/octet-stream")},
        params=params,
        headers=api.headers(who),
    )


def count(rt: Runtime) -> int:
    with rt.db.read() as session:
        return session.scalar(select(func.count()).select_from(Device)) or 0


GOOD = [
    ["aq-100001", "air_quality", "一号站", IN_GRID[0], IN_GRID[1], "", "2025-05-01", "五一大道"],
    ["mh-100001", "manhole_cover", "井盖 1", OTHER_DISTRICT[0], OTHER_DISTRICT[1], "", "", ""],
    ["wl-100001", "water_level", "水位 1", IN_GRID[0], IN_GRID[1], "shuiwu", "", ""],
]
BAD = [
    ["x", "air_quality", "短编号", IN_GRID[0], IN_GRID[1], "", "", ""],
    ["aq-100002", "teapot", "未知类型", IN_GRID[0], IN_GRID[1], "", "", ""],
    ["aq-100003", "air_quality", "城外", 100.0, 20.0, "", "", ""],
    ["aq-100004", "air_quality", "坏经度", "east", IN_GRID[1], "", "", ""],
    ["aq-100001", "air_quality", "重复", IN_GRID[0], IN_GRID[1], "", "", ""],
    ["aq-100005", "air_quality", "坏部门", IN_GRID[0], IN_GRID[1], "nope", "", ""],
    ["aq-100006", "air_quality", "坏日期", IN_GRID[0], IN_GRID[1], "", "someday", ""],
    ["aq-100007", "air_quality", "", IN_GRID[0], IN_GRID[1], "", "", ""],
]
EXPECTED_ERRORS = [
    (5, "id", "string_pattern_mismatch"),
    (6, "type", "unknown_type"),
    (7, "lon,lat", "outside_city"),
    (8, "lon", "float_parsing"),
    (9, "id", "duplicate"),
    (10, "department", "unknown_department"),
    (11, "installed_on", "date_from_datetime_parsing"),
    (12, "name", "missing"),
]


def test_a_clean_csv_registers_every_row(rt: Runtime, api: Api, events: Any) -> None:
    response = upload(api, to_csv(GOOD))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["mode"], report["rows"], report["created"], report["errors"]) == (
        "all_or_nothing",
        3,
        3,
        [],
    )
    device = api.get("operator", "/api/v1/devices/mh-100001").json()
    assert device["department"]["code"] == "shizheng-990102"
    assert api.get("operator", "/api/v1/devices/aq-100001").json()["installed_on"] == "2025-05-01"
    assert events.tags().count("devices:device:registered") == 3
    audit = api.get("admin", "/api/v1/audit", action="devices:device:imported").json()["items"]
    assert audit[0]["after"]["created"] == 3


def test_all_or_nothing_reports_every_row_error_and_stores_nothing(rt: Runtime, api: Api) -> None:
    response = upload(api, to_csv(GOOD + BAD))
    body = error(response, 422)
    rows = [(e["row"], e["column"], e["code"]) for e in body["details"]["errors"]]
    assert rows == EXPECTED_ERRORS
    assert body["details"]["created"] == 0
    assert fields(response)["rows.6.type"] == "unknown_type"
    assert count(rt) == 0


def test_valid_rows_mode_keeps_the_good_rows(rt: Runtime, api: Api) -> None:
    response = upload(api, to_csv(GOOD + BAD), mode="valid_rows")
    assert response.status_code == 200
    report = response.json()
    assert report["created"] == 3
    assert report["created_ids"] == ["aq-100001", "mh-100001", "wl-100001"]
    assert [(e["row"], e["column"], e["code"]) for e in report["errors"]] == EXPECTED_ERRORS
    assert count(rt) == 3


def test_excel_and_chinese_headers_and_gb18030(rt: Runtime, actor: ActorFn, api: Api) -> None:
    chinese = ["设备编号", "设备类型", "设备名称", "经度", "纬度", "权属部门", "安装日期", "地址"]
    assert upload(api, to_xlsx(GOOD[:1], chinese), "devices.xlsx").json()["created"] == 1
    rows = [["nm-100001", "noise_meter", "噪声 1", IN_GRID[0], IN_GRID[1], "", "", "长沙"]]
    assert upload(api, to_csv(rows, chinese, encoding="gb18030")).json()["created"] == 1
    assert api.get("admin", "/api/v1/devices/nm-100001").json()["name"] == "噪声 1"
    make_device(rt, actor, "wl-100001", "water_level")
    taken = upload(api, to_xlsx(GOOD[2:]), "d.xlsx")
    assert [(e["row"], e["code"]) for e in error(taken, 422)["details"]["errors"]] == [
        (2, "duplicate")
    ]


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        (b"", "file", "empty"),
        (b"PK\x03\x04broken", "file", "unreadable"),
        (to_csv([], header=["id", "type", "name"]), "file.lon", "missing_column"),
    ],
)
def test_unreadable_files_are_refused(api: Api, data: bytes, field: str, code: str) -> None:
    assert fields(upload(api, data))[field] == code


def test_bad_mode_and_permissions(api: Api) -> None:
    assert "mode" in fields(upload(api, to_csv(GOOD), mode="some"))
    assert error(upload(api, to_csv(GOOD), who="operator"), 403)["code"] == "permission_denied"
    response = api.client.post(
        "/api/v1/devices/import", files={"file": ("d.csv", to_csv(GOOD), "text/csv")}
    )
    assert response.status_code == 401


def test_ten_thousand_rows_in_one_call(rt: Runtime, api: Api) -> None:
    rows = [
        [
            f"tc-{i:06d}",
            "traffic_counter",
            f"卡口 {i}",
            IN_GRID[0] + (i % 50) * 0.0004,
            IN_GRID[1] + (i // 50 % 50) * 0.0004,
            "",
            "",
            "",
        ]
        for i in range(10_000)
    ]
    response = upload(api, to_csv(rows))
    assert response.status_code == 200, response.text[:500]
    assert response.json()["created"] == 10_000
    assert count(rt) == 10_000
