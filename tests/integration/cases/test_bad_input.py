"""Bad input is refused with a 4xx whose ``error.fields`` name the problem, and nothing of it
is stored: no case, no upload, no file, no change to the case it was aimed at."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cityops.cases.models import Upload
from cityops.core.runtime import Runtime
from factories.api import Api, error, fields
from factories.cases import make_case, make_photo, png_bytes, snapshot

ActorFn = Callable[[str], Any]
GOOD = {
    "description": "路边有一堆暴露垃圾，无人清理",
    "category_code": "E-01-02",
    "location": {"lon": 112.95, "lat": 28.12},
}


def _uploads(rt: Runtime) -> int:
    # There is no listing of photos in the API; a read-only count of their rows.
    with rt.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Upload)) or 0)


def _files(rt: Runtime) -> list[Path]:
    root = rt.settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture
def nothing_stored(rt: Runtime, api: Api) -> Iterator[None]:
    """The test body must leave the number of cases, uploads and stored files unchanged."""
    before = (api.count_cases(), _uploads(rt), _files(rt))
    yield
    assert (api.count_cases(), _uploads(rt), _files(rt)) == before


def _with(**changes: Any) -> dict[str, Any]:
    body = {**GOOD, **changes}
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_with(description=None), {"description": "missing"}),
        (_with(description="   "), {"description": "value_error"}),
        (_with(location={"lon": "east", "lat": 28.12}), {"location.lon": "float_parsing"}),
        (_with(location={"lon": 112.95}), {"location.lat": "missing"}),
        (_with(location={"lon": 200, "lat": 28.12}), {"location.lon": "less_than_equal"}),
        (_with(location={"lon": 112.95, "lat": -91}), {"location.lat": "greater_than_equal"}),
        (_with(location={"lon": 100, "lat": 20}), {"location": "outside_city"}),
        (_with(category_code="Z-99-99"), {"category_code": "unknown_category"}),
        (_with(category_code="E-01"), {"category_code": "invalid"}),
        (_with(photos=["not-a-uuid"]), {"photos.0": "uuid_parsing"}),
        (_with(photos=[str(uuid.uuid4())]), {"photos.0": "unknown_upload"}),
        (_with(source="carrier-pigeon"), {"source": "literal_error"}),
        (_with(priority="urgent"), {"priority": "extra_forbidden"}),
        (_with(reporter={"phone": "call me"}), {"reporter.phone": "string_pattern_mismatch"}),
    ],
    ids=[
        "missing-description",
        "blank-description",
        "lon-as-string",
        "missing-lat",
        "lon-out-of-range",
        "lat-out-of-range",
        "outside-the-city",
        "unknown-category",
        "category-group",
        "photo-not-a-uuid",
        "unknown-photo",
        "unknown-source",
        "extra-field",
        "bad-phone",
    ],
)
def test_bad_reports_are_refused(api: Api, body: dict[str, Any], expected: dict[str, str]) -> None:
    assert fields(api.report("citizen", body)) == expected


@pytest.mark.usefixtures("nothing_stored")
def test_a_report_that_is_not_an_object_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/cases", content=b"[1, 2", headers=api.headers("citizen"))

    assert error(response, 422)["code"] == "validation_error"


def test_too_many_photos(rt: Runtime, actor: ActorFn, api: Api) -> None:
    photos = [str(make_photo(rt, actor, "citizen", seed).id) for seed in range(10)]
    before = (api.count_cases(), _uploads(rt))

    refused = api.report("citizen", _with(photos=photos))

    assert fields(refused) == {"photos": "too_many"}
    assert (api.count_cases(), _uploads(rt)) == before
    # The photos stay unattached and usable: nine is the limit.
    accepted = api.report("citizen", _with(photos=photos[:9]))
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["photos"] == photos[:9]


def test_a_photo_of_someone_else_is_refused(rt: Runtime, actor: ActorFn, api: Api) -> None:
    theirs = make_photo(rt, actor, "gridworker", seed=3)
    mine = make_photo(rt, actor, "citizen", seed=4)
    before = api.count_cases()

    response = api.report("citizen", _with(photos=[str(mine.id), str(theirs.id)]))

    assert fields(response) == {"photos.1": "unknown_upload"}
    assert api.count_cases() == before
    # Nothing was attached: the citizen's own photo can still go on a report.
    assert api.report("citizen", _with(photos=[str(mine.id)])).status_code == 201


def test_a_photo_already_on_a_case_cannot_be_reused(rt: Runtime, actor: ActorFn, api: Api) -> None:
    photo = str(make_photo(rt, actor, "citizen", seed=5).id)
    assert api.report("citizen", _with(photos=[photo])).status_code == 201
    before = api.count_cases()

    again = api.report("citizen", _with(photos=[photo]))
    twice = api.report("citizen", _with(photos=[str(make_photo(rt, actor).id)] * 2))

    assert fields(again) == {"photos.0": "invalid"}
    assert fields(twice) == {"photos": "invalid"}
    assert api.count_cases() == before


@pytest.mark.usefixtures("nothing_stored")
def test_an_oversized_photo_is_refused(rt: Runtime, api: Api) -> None:
    rt.settings.max_photo_bytes = 2048
    big = png_bytes(9, (64, 64), noise=True)
    assert len(big) > 2048

    response = api.client.post(
        "/api/v1/uploads",
        files={"file": ("big.png", big, "image/png")},
        headers=api.headers("citizen"),
    )

    assert error(response, 413)["code"] == "payload_too_large"
    assert fields(response, 413) == {"file": "too_large"}


@pytest.mark.usefixtures("nothing_stored")
@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("x.jpg", "这不是一张照片，只是一段文字".encode(), "not_image"),
        ("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not_image"),
        ("x.jpg", b"", "invalid"),
    ],
    ids=["text-named-jpg", "truncated-png", "empty"],
)
def test_a_file_that_is_not_an_image_is_refused(
    api: Api, name: str, data: bytes, code: str
) -> None:
    response = api.client.post(
        "/api/v1/uploads",
        files={"file": (name, data, "image/jpeg")},
        headers=api.headers("citizen"),
    )

    assert fields(response) == {"file": code}


@pytest.mark.usefixtures("nothing_stored")
def test_an_upload_without_a_file_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/uploads", headers=api.headers("citizen"))

    assert fields(response) == {"file": "missing"}


@pytest.mark.usefixtures("nothing_stored")
def test_a_hotline_case_needs_the_caller(api: Api) -> None:
    assert fields(api.report("operator", _with())) == {"reporter": "required"}
    assert fields(api.report("operator", _with(reporter={}))) == {"reporter": "required"}


def test_a_hotline_case_with_the_caller_is_taken(api: Api) -> None:
    response = api.report("operator", _with(reporter={"name": "李先生"}))

    assert response.status_code == 201, response.text
    assert response.json()["source"] == "hotline"


# --- bad bodies of actions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "who", "action", "body", "expected"),
    [
        ("reported", "operator", "reject", {}, {"reason": "missing"}),
        ("reported", "operator", "reject", {"reason": "   "}, {"reason": "required"}),
        ("reported", "operator", "reject", {"reason": None}, {"reason": "string_type"}),
        ("dispatched", "handler-chengguan-990101", "return", {}, {"reason": "missing"}),
        (
            "dispatched",
            "handler-chengguan-990101",
            "return",
            {"reason": ""},
            {"reason": "required"},
        ),
        ("reported", "citizen", "cancel", {}, {"reason": "missing"}),
        ("registered", "operator", "cancel", {"reason": "\t"}, {"reason": "required"}),
        ("closed", "operator", "reopen", {"reason": " "}, {"reason": "required"}),
        ("dispatched", "operator", "urge", {"note": ""}, {"note": "required"}),
        ("dispatched", "operator", "urge", {}, {"note": "missing"}),
        ("dispatched", "operator", "escalate", {}, {"reason": "missing"}),
        (
            "registered",
            "dispatcher",
            "dispatch",
            {"department_code": "nope"},
            {"department_code": "unknown_department"},
        ),
        (
            "registered",
            "dispatcher",
            "dispatch",
            {"department_code": "chengguan-990102"},
            {"department_code": "out_of_jurisdiction"},
        ),
        (
            "registered",
            "dispatcher",
            "dispatch",
            {"department": "chengguan-990101"},
            {"department": "extra_forbidden"},
        ),
        (
            "dispatched",
            "dispatcher",
            "reassign",
            {"department_code": "nope", "reason": "改派"},
            {"department_code": "unknown_department"},
        ),
        (
            "dispatched",
            "dispatcher",
            "reassign",
            {"department_code": "chengguan-990101", "reason": "改派"},
            {"department_code": "invalid"},
        ),
        (
            "dispatched",
            "dispatcher",
            "reassign",
            {"department_code": "zhujian-990101"},
            {"reason": "missing"},
        ),
        ("accepted", "handler-chengguan-990101", "handle", {}, {"note": "missing"}),
        ("accepted", "handler-chengguan-990101", "handle", {"note": "  "}, {"note": "required"}),
        (
            "accepted",
            "handler-chengguan-990101",
            "handle",
            {"note": "好", "photos": [str(uuid.uuid4())]},
            {"photos.0": "unknown_upload"},
        ),
        ("handled", "gridworker", "verify", {}, {"passed": "missing"}),
        ("handled", "gridworker", "verify", {"passed": "maybe"}, {"passed": "bool_parsing"}),
        ("handled", "gridworker", "verify", {"passed": False}, {"note": "required"}),
        ("closed", "citizen", "evaluate", {"rating": 6}, {"rating": "less_than_equal"}),
        ("closed", "citizen", "evaluate", {"rating": 0}, {"rating": "greater_than_equal"}),
        ("closed", "citizen", "evaluate", {"rating": "x"}, {"rating": "int_parsing"}),
        ("closed", "citizen", "evaluate", {"rating": 4.5}, {"rating": "int_from_float"}),
        ("closed", "citizen", "evaluate", {}, {"rating": "missing"}),
        ("closed", "citizen", "evaluate", {"rating": 5, "stars": 5}, {"stars": "extra_forbidden"}),
        (
            "reported",
            "operator",
            "register",
            {"category_code": "E-01"},
            {"category_code": "invalid"},
        ),
        (
            "reported",
            "operator",
            "register",
            {"category_code": "Z-1"},
            {"category_code": "unknown_category"},
        ),
        ("reported", "operator", "register", {"priority": "asap"}, {"priority": "literal_error"}),
        (
            "reported",
            "operator",
            "register",
            {"dispatch": True, "hurry": 1},
            {"hurry": "extra_forbidden"},
        ),
        ("reported", "operator", "merge", {}, {"into": "missing"}),
        ("reported", "operator", "merge", {"into": "nope"}, {"into": "uuid_parsing"}),
        (
            "reported",
            "operator",
            "merge",
            {"into": str(uuid.UUID(int=1))},
            {"into": "unknown_case"},
        ),
        (
            "dispatched",
            "handler-chengguan-990101",
            "assign",
            {"username": "nobody"},
            {"username": "invalid"},
        ),
    ],
)
def test_bad_action_bodies_are_refused_and_change_nothing(
    rt: Runtime,
    actor: ActorFn,
    api: Api,
    state: str,
    who: str,
    action: str,
    body: dict[str, Any],
    expected: dict[str, str],
) -> None:
    case = make_case(rt, actor, state)
    before = snapshot(rt, actor, case.id)

    response = api.act(who, case.id, action, body)

    assert fields(response) == expected
    assert snapshot(rt, actor, case.id) == before


def test_registering_a_report_without_a_category_needs_one(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "reported", category=None)
    before = snapshot(rt, actor, case.id)

    refused = api.act("operator", case.id, "register", {})

    assert fields(refused) == {"category_code": "required"}
    assert snapshot(rt, actor, case.id) == before
    registered = api.act("operator", case.id, "register", {"category_code": "E-01-02"})
    assert registered.json()["category"]["code"] == "E-01-02"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"sla_status": "late"}, "sla_status"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-03-02T10:00:00"}, "since"),  # no offset: ambiguous
        ({"until": "2026-03-02T10:00:00"}, "until"),
        ({"district": "123456"}, "district"),
        ({"department": "nope"}, "department"),
        ({"near_lon": 181, "near_lat": 28.1}, "near_lon"),
    ],
)
def test_bad_list_parameters_are_refused(api: Api, params: dict[str, Any], field: str) -> None:
    assert field in fields(api.get("admin", "/api/v1/cases", **params))
