"""The pure parts of the Open311 adapter: locale, status, date window, attributes, XML."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.cases.open311.attributes import check_attributes
from cityops.cases.open311.mapping import errors_out, pick_locale, public_status, w3c
from cityops.cases.open311.query import parse_request_query, window
from cityops.cases.open311.render import to_xml
from cityops.cases.workflow import State
from cityops.core.errors import (
    Conflict,
    DomainError,
    FieldError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(
    ("param", "header", "expected"),
    [
        (None, None, "zh"),
        ("en", "zh-CN", "en"),
        ("zh-CN", "en", "zh"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR,en;q=0.8,zh;q=0.5", "en"),
        (None, "zh;q=0.4,en;q=0.6", "en"),
        (None, "en;q=0.2,zh-TW", "zh"),
        (None, "fr, de", "zh"),
        (None, "en;q=bogus,zh", "zh"),
    ],
)
def test_pick_locale(param: str | None, header: str | None, expected: str) -> None:
    assert pick_locale(param, header) == expected


def test_status_is_closed_once_the_loop_ends() -> None:
    closed = {s for s in State if public_status(s) == "closed"}
    assert closed == {"closed", "evaluated", "rejected", "merged", "cancelled"}


def test_w3c_uses_the_city_offset() -> None:
    assert w3c(NOW, SHANGHAI) == "2026-03-02T10:00:00+08:00"
    assert w3c(None, SHANGHAI) is None


def test_window_defaults_and_limits() -> None:
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    assert window(None, None, NOW) == (NOW - timedelta(days=90), NOW)
    assert window(start, None, NOW) == (start, start + timedelta(days=90))
    assert window(None, end, NOW) == (end - timedelta(days=90), end)
    assert window(start, end, NOW) == (start, end)
    with pytest.raises(ValidationFailed, match="90 days"):
        window(start, start + timedelta(days=91), NOW)
    with pytest.raises(ValidationFailed, match="before start_date"):
        window(end, start, NOW)


def test_query_names_every_bad_parameter_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_request_query(
            service_request_id=None,
            service_code=None,
            start_date="soon",
            end_date="later",
            status="done",
            now=NOW,
            zone=SHANGHAI,
        )
    assert [f.field for f in caught.value.fields] == ["start_date", "end_date", "status"]


def test_ids_override_every_other_filter() -> None:
    query = parse_request_query(
        service_request_id=" 7, 9 ,",
        service_code="E-01-02",
        start_date="nonsense",
        end_date=None,
        status="weird",
        now=NOW,
        zone=SHANGHAI,
    )
    assert query.numbers == (7, 9)
    assert (query.service_codes, query.start, query.statuses) == ((), None, frozenset())


def test_attributes_are_checked_against_the_definition() -> None:
    assert check_attributes("component", {"damage": ["broken"], "address_detail": [" 3 号 "]}) == {
        "damage": "broken",
        "address_detail": "3 号",
    }
    assert check_attributes("event", {"address_detail": ["  "]}) == {}
    with pytest.raises(ValidationFailed) as caught:
        check_attributes("component", {"damage": ["broken", "missing"], "x": ["1"]})
    assert [(f.field, f.code) for f in caught.value.fields] == [
        ("attribute[x]", "unknown_attribute"),
        ("attribute[damage]", "too_many"),
    ]
    with pytest.raises(ValidationFailed, match="at most 300"):
        check_attributes("event", {"address_detail": ["x" * 301]})


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound("service_code", "X"), 404),
        (NotAuthenticated(), 403),
        (PermissionDenied("no"), 403),
        (Conflict("busy"), 400),
        (ValidationFailed(FieldError("category_code", "unknown")), 400),
    ],
)
def test_errors_map_to_open311_statuses(error: DomainError, status: int) -> None:
    code, body = errors_out(error)
    assert code == status
    assert [e["code"] for e in body] == [status]


def test_field_errors_name_the_open311_parameters() -> None:
    error = ValidationFailed(
        FieldError("category_code", "unknown"),
        FieldError("location", "outside"),
        FieldError("photos.0", "unknown upload"),
        FieldError("reporter.phone", "bad"),
    )
    assert [e["description"] for e in errors_out(error)[1]] == [
        "service_code: unknown",
        "lat/long: outside",
        "media: unknown upload",
        "phone: bad",
    ]


def test_xml_follows_the_spark_convention() -> None:
    xml = to_xml(
        "services",
        [{"service_code": "A", "metadata": True, "group": None, "n": 1.5, "tags": ["x"]}],
    )
    assert xml == (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b"<services><service><service_code>A</service_code><metadata>true</metadata>"
        b"<group /><n>1.5</n><tags><item>x</item></tags></service></services>"
    )
