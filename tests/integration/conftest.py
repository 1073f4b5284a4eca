"""Fixtures of the acceptance tests: ``api``, a client that acts as any user.

Starting an app and its first request costs far more than the requests after it, so ``api``
keeps one app for the whole session and points it at each test's runtime (the app holds no
state of its own: everything lives in ``app.state.runtime``, the test's database transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.app import create_app
from cityops.core.runtime import Runtime
from factories.api import Api


@pytest.fixture(scope="session")
def _shared_client() -> Iterator[dict[str, Any]]:
    box: dict[str, Any] = {}
    yield box
    if "client" in box:
        box["client"].__exit__(None, None, None)


@pytest.fixture
def api(
    rt: Runtime, auth: Callable[[str], dict[str, str]], _shared_client: dict[str, Any]
) -> Iterator[Api]:
    client: TestClient | None = _shared_client.get("client")
    if client is None:
        client = TestClient(create_app(runtime=rt))
        client.__enter__()
        _shared_client["client"] = client
    client.app.state.runtime = rt  # type: ignore[attr-defined]
    yield Api(client, auth)
    client.app.state.runtime = None  # type: ignore[attr-defined]
