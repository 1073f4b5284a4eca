"""Every Open311 error path answers the spec's error list with the matching HTTP status, and
a refused POST stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import OUTSIDE, ROOT, Submit, png, xml_items
from sqlalchemy import func, select

from cityops.cases.models import Upload
from cityops.core.auth import SYSTEM
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import ApiKeyIn


def _errors(response: Any, fmt: str) -> list[dict[str, Any]]:
    if fmt == "xml":
        assert response.headers["content-type"] == "text/xml; charset=utf-8"
        return [
            {"code": int(e["code"] or 0), "description": e["description"]}
            for e in xml_items(response.text, "errors", "error")
        ]
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert isinstance(body, list)
    assert all(set(e) == {"code", "description"} for e in body)
    return body


# (form fields to change, HTTP status, words each error description holds)
REFUSED: dict[str, tuple[dict[str, Any], int, list[list[str]]]] = {
    "no api_key": ({"api_key": None}, 403, [["api_key", "required"]]),
    "bad api_key": ({"api_key": "cok_not-a-key"}, 403, [["invalid api_key"]]),
    "unknown service_code": ({"service_code": "Z-99"}, 400, [["service_code", "Z-99"]]),
    "missing service_code": ({"service_code": None}, 400, [["service_code", "required"]]),
    "a group as service_code": ({"service_code": "E-01"}, 400, [["service_code"]]),
    "missing lat/long": (
        {"lat": None, "long": None, "address_string": "解放西路 12 号"},
        400,
        [["lat", "required"], ["long", "required"]],
    ),
    "missing long": ({"long": None}, 400, [["long", "required"]]),
    "lat not a number": ({"lat": "north"}, 400, [["lat/long", "decimal"]]),
    "lat out of range": ({"lat": "128.1"}, 400, [["lat:"]]),
    "outside the city": (OUTSIDE, 400, [["lat/long", "outside the city"]]),
    "value outside the list": (
        {"service_code": "B-01-01", "attribute[damage]": "stolen"},
        400,
        [["attribute[damage]", "'stolen'", "missing, broken, displaced"]],
    ),
    "unknown attribute": (
        {"attribute[colour]": "red"},
        400,
        [["attribute[colour]", "unknown attribute"]],
    ),
    "damage on an event": ({"attribute[damage]": "broken"}, 400, [["attribute[damage]"]]),
    "bad phone": ({"phone": "call me"}, 400, [["phone"]]),
    "unknown jurisdiction": ({"jurisdiction_id": "110000"}, 404, [["jurisdiction_id", "110000"]]),
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_a_refused_post_answers_an_open311_error_and_stores_nothing(
    submit: Submit, case_count: Callable[[], int], case: str, fmt: str
) -> None:
    fields, status, words = REFUSED[case]
    before = case_count()
    response = submit(fmt=fmt, **fields)
    assert response.status_code == status, response.text
    errors = _errors(response, fmt)
    assert [e["code"] for e in errors] == [status] * len(words)
    for error, expected in zip(errors, words, strict=True):
        for word in expected:
            assert word in error["description"]
    assert case_count() == before


def test_a_refused_post_with_media_keeps_no_photo(
    submit: Submit, case_count: Callable[[], int], rt: Runtime
) -> None:
    def uploads() -> int:
        with rt.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Upload)) or 0)

    before = (case_count(), uploads())
    response = submit(files={"media": ("photo.png", png(), "image/png")}, **OUTSIDE)
    assert response.status_code == 400
    assert (case_count(), uploads()) == before


def test_media_that_is_no_image_is_refused(submit: Submit, case_count: Callable[[], int]) -> None:
    before = case_count()
    response = submit(files={"media": ("notes.txt", b"not an image at all", "text/plain")})
    assert response.status_code == 400
    assert response.json() == [
        {"code": 400, "description": "media: not an image (JPEG, PNG, WebP or GIF expected)"}
    ]
    assert case_count() == before


def test_media_over_the_size_limit_is_refused(
    submit: Submit, case_count: Callable[[], int], rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "max_photo_bytes", 1024)
    before = case_count()
    response = submit(files={"media": ("big.png", png(64), "image/png")})
    assert response.status_code == 400
    [error] = response.json()
    assert error["code"] == 400
    assert error["description"].startswith("media: larger than the limit of 1024 bytes")
    assert case_count() == before


def test_a_body_that_is_no_form_is_an_open311_400(
    client: TestClient, case_count: Callable[[], int]
) -> None:
    before = case_count()
    response = client.post(
        f"{ROOT}/requests.xml",
        content=b"api_key=x",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
    )
    assert response.status_code == 400
    [error] = _errors(response, "xml")
    assert error["code"] == 400
    assert "body" in error["description"]
    assert case_count() == before


def test_a_key_whose_role_may_not_report_is_refused(
    client: TestClient, rt: Runtime, case_count: Callable[[], int]
) -> None:
    before = case_count()
    key = org.create_api_key(rt, actor=SYSTEM, data=ApiKeyIn(name="kpi", username="leader")).key
    response = client.post(
        f"{ROOT}/requests.json",
        data={"api_key": key, "service_code": "E-01-02", "lat": "28.12", "long": "112.95"},
    )
    assert response.status_code == 403
    assert response.json()[0]["code"] == 403
    assert case_count() == before


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("requests/999999", ["service_request_id", "999999"]),
        ("requests/abc", ["service_request_id", "abc"]),
        ("tokens/0190a1b2-0000-7000-8000-000000000000", ["token"]),
        ("tokens/not-a-token", ["token"]),
        ("services/NOPE", ["service_code", "NOPE"]),
    ],
)
def test_unknown_resources_are_open311_404s(
    client: TestClient, path: str, words: list[str], fmt: str
) -> None:
    response = client.get(f"{ROOT}/{path}.{fmt}")
    assert response.status_code == 404
    [error] = _errors(response, fmt)
    assert error["code"] == 404
    assert all(word in error["description"] for word in words)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    "path", ["services", "services/E-01-02", "requests", "requests/1", "tokens/x"]
)
def test_an_unknown_jurisdiction_is_an_open311_404(client: TestClient, path: str, fmt: str) -> None:
    response = client.get(f"{ROOT}/{path}.{fmt}", params={"jurisdiction_id": "sfgov.org"})
    assert response.status_code == 404
    [error] = _errors(response, fmt)
    assert error == {"code": 404, "description": "jurisdiction_id sfgov.org not found"}


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"start_date": "yesterday"}, ["start_date", "W3C"]),
        ({"end_date": "2026-13-01T00:00:00Z"}, ["end_date", "W3C"]),
        ({"status": "pending"}, ["status", "open or closed"]),
        ({"service_request_id": "1,x"}, ["service_request_id"]),
        (
            {"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"},
            ["end_date", "before start_date"],
        ),
        (
            {"start_date": "2025-01-01T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"},
            ["90 days"],
        ),
    ],
)
def test_bad_filters_are_open311_400s(
    client: TestClient, params: dict[str, str], words: list[str]
) -> None:
    response = client.get(f"{ROOT}/requests.json", params=params)
    assert response.status_code == 400
    [error] = response.json()
    assert error["code"] == 400
    assert all(word in error["description"] for word in words)


def test_other_paths_keep_the_platform_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/cases/not-a-uuid")
    assert response.status_code in (401, 422)
    assert "error" in response.json()
