"""GET requests filters: the default 90-day window, dates, status, service codes, ids, order,
and a query count that does not grow with the number of requests."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import ROOT, Submit
from sqlalchemy import event

from cityops.cases.schemas import CaseOut
from cityops.core.clock import FrozenClock
from cityops.core.runtime import Runtime


def _ids(client: TestClient, **params: str) -> list[str]:
    response = client.get(f"{ROOT}/requests.json", params=params)
    assert response.status_code == 200, response.text
    return [r["service_request_id"] for r in response.json()]


def _number(response: Any) -> str:
    assert response.status_code == 201, response.text
    return str(response.json()[0]["service_request_id"])


def test_newest_first(submit: Submit, client: TestClient, clock: FrozenClock) -> None:
    first = _number(submit())
    clock.advance(hours=1)
    second = _number(submit(service_code="B-01-01"))
    assert _ids(client) == [second, first]


def test_default_window_is_the_last_90_days(
    submit: Submit, client: TestClient, clock: FrozenClock
) -> None:
    old = _number(submit())
    clock.advance(days=89)
    assert _ids(client) == [old]
    clock.advance(days=2)
    recent = _number(submit())
    assert _ids(client) == [recent]
    # An explicit window reaches back, and service_request_id overrides any window.
    assert _ids(client, start_date="2026-03-01T00:00:00+08:00") == [old]
    assert _ids(client, service_request_id=f"{old},{recent}") == [recent, old]


def test_start_and_end_dates_select_by_requested_datetime(
    submit: Submit, client: TestClient, clock: FrozenClock
) -> None:
    march_2 = _number(submit())  # 2026-03-02T10:00+08:00
    clock.advance(days=3)
    march_5 = _number(submit())
    assert _ids(client, start_date="2026-03-03T00:00:00Z") == [march_5]
    assert _ids(client, end_date="2026-03-03T00:00:00Z") == [march_2]
    assert _ids(client, start_date="2026-03-02T02:00:00Z", end_date="2026-03-05T02:00:00Z") == [
        march_5,
        march_2,
    ]
    # A time without an offset is the city's time; an unescaped "+" arrives as a space.
    assert _ids(client, start_date="2026-03-02T10:00:01") == [march_5]
    assert _ids(client, end_date="2026-03-02T10:00:00 08:00") == [march_2]


def test_status_and_service_code_filters(
    submit: Submit, client: TestClient, loop: Callable[..., CaseOut]
) -> None:
    garbage = submit()
    cover = _number(submit(service_code="B-01-01"))
    rejected = _number(garbage)
    loop(uuid.UUID(garbage.json()[0]["token"]), "reject")
    assert _ids(client, status="open") == [cover]
    assert _ids(client, status="closed") == [rejected]
    assert sorted(_ids(client, status="open,closed")) == sorted([cover, rejected])
    assert _ids(client, service_code="B-01-01") == [cover]
    assert sorted(_ids(client, service_code="B-01-01,E-01-02")) == sorted([cover, rejected])
    assert _ids(client, service_code="E-01-02", status="open") == []


def test_service_request_id_takes_a_comma_list(submit: Submit, client: TestClient) -> None:
    numbers = [_number(submit()) for _ in range(3)]
    assert _ids(client, service_request_id=f"{numbers[0]},{numbers[2]}") == [
        numbers[2],
        numbers[0],
    ]
    assert _ids(client, service_request_id="999999") == []


@pytest.fixture
def count_queries(rt: Runtime) -> Iterator[Callable[[], int]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(rt.db.engine, "before_cursor_execute", record)

    def taken() -> int:
        found = len([s for s in seen if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))])
        seen.clear()
        return found

    yield taken
    event.remove(rt.db.engine, "before_cursor_execute", record)


def test_listing_takes_the_same_queries_for_one_or_many(
    submit: Submit, client: TestClient, count_queries: Callable[[], int]
) -> None:
    submit(files=None)
    assert len(_ids(client)) == 1  # warms the reference caches
    count_queries()
    assert len(_ids(client)) == 1
    for_one = count_queries()
    for _ in range(4):
        submit(service_code="B-01-01")
    count_queries()
    assert len(_ids(client)) == 5
    assert count_queries() == for_one
