"""Request threads: each process runs CITYOPS_WEB_THREADS requests at once, and exports,
imports and training run in a lane of their own (src/cityops/web/lanes.py)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from anyio import to_thread
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.cases import kpi_api
from cityops.core.runtime import Runtime


@pytest.fixture
def narrow(rt: Runtime) -> Iterator[TestClient]:
    """An app whose process runs one request at a time, with two threads for slow work."""
    settings = rt.settings.model_copy(update={"web_threads": 1, "web_slow_threads": 2})
    with TestClient(create_app(runtime=dataclasses.replace(rt, settings=settings))) as client:
        yield client


async def _request_threads() -> float:
    return to_thread.current_default_thread_limiter().total_tokens


def test_the_process_runs_as_many_requests_at_once_as_configured(narrow: TestClient) -> None:
    assert narrow.portal is not None
    assert narrow.portal.call(_request_threads) == 1
    assert narrow.app.state.slow_lane.total_tokens == 2  # type: ignore[attr-defined]


def test_unset_the_process_runs_as_many_as_suit_its_database(
    client: TestClient, rt: Runtime
) -> None:
    assert rt.settings.web_threads is None
    expected = 40 if rt.db.dialect == "sqlite" else 6
    assert client.portal is not None
    assert client.portal.call(_request_threads) == expected


def test_an_export_leaves_the_request_threads_to_other_requests(
    narrow: TestClient, auth: Callable[[str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real = kpi_api.case_kpis

    def slow_kpis(*args: Any, **kwargs: Any) -> Any:
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(kpi_api, "case_kpis", slow_kpis)
    answers: dict[str, int] = {}

    def get(name: str, path: str, user: str) -> None:
        answers[name] = narrow.get(path, headers=auth(user)).status_code

    export = threading.Thread(target=get, args=("export", "/api/v1/kpi.csv", "leader"))
    export.start()
    try:
        assert started.wait(10), "the export never started"
        # The one request thread is free while the export works: a case list is answered.
        listing = threading.Thread(
            target=get, args=("list", "/api/v1/cases?page_size=1", "operator")
        )
        listing.start()
        listing.join(10)
        assert answers.get("list") == 200
        assert "export" not in answers  # still held back
    finally:
        release.set()
        export.join(30)
    assert answers["export"] == 200


def test_the_settings_refuse_a_process_without_request_threads(rt: Runtime) -> None:
    with pytest.raises(ValueError, match="web_threads"):
        rt.settings.model_validate({**rt.settings.model_dump(), "web_threads": 0})


def test_a_known_token_takes_no_trip_to_a_request_thread(
    client: TestClient, auth: Callable[[str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain dependency would be run on a request thread of its own, queueing behind the
    # other requests; the acting user comes from the credentials cache on the event loop.
    headers = auth("operator")
    trips: list[str] = []
    real = to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(getattr(func, "func", func), "__name__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(to_thread, "run_sync", counted)
    path = "/api/v1/cases?page_size=1"
    assert client.get(path, headers=headers).status_code == 200
    assert "actor_for_token" in trips  # checked in the database the first time

    trips.clear()
    assert client.get(path, headers=headers).status_code == 200
    assert trips  # the endpoint
    assert not {"actor_for_token", "current_actor"} & set(trips)  # the user known to the process
