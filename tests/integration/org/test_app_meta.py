"""The service's own endpoints: health with the version, and the OpenAPI description."""

from __future__ import annotations

import gc

from fastapi.testclient import TestClient

from cityops import __version__
from cityops.app import create_app
from cityops.core.runtime import Runtime


def test_health_answers_with_the_version(rt: Runtime, client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "health-check-1"})

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "version": __version__,
        "database": rt.db.dialect,
        "database_ok": True,
    }
    assert response.headers["X-Request-ID"] == "health-check-1"


def test_every_answer_carries_a_request_id(client: TestClient) -> None:
    generated = client.get("/health").headers["X-Request-ID"]
    too_long = client.get("/health", headers={"X-Request-ID": "x" * 65}).headers["X-Request-ID"]

    assert len(generated) == 32
    assert too_long != "x" * 65


def test_openapi_lists_the_token_endpoint_and_the_case_loop(client: TestClient) -> None:
    response = client.get("/openapi.json")

    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["version"] == __version__
    assert "post" in spec["paths"]["/api/v1/auth/token"]
    for path in ("/api/v1/cases", "/api/v1/cases/{case_id}/dispatch", "/api/v1/me", "/health"):
        assert path in spec["paths"], path
    schemes = spec["components"]["securitySchemes"]
    assert any(
        s.get("flows", {}).get("password", {}).get("tokenUrl") == "/api/v1/auth/token"
        for s in schemes.values()
    )


def test_unknown_paths_are_404_in_the_error_shape(client: TestClient) -> None:
    response = client.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_api_pages_load_their_assets_locally(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assert "cdn" not in html.text.lower()
        assert "/assets/api-docs/" in html.text
    bundle = client.get("/assets/api-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert len(bundle.content) > 100_000


def test_what_start_up_loaded_is_out_of_the_collectors_sight_while_the_app_runs(
    rt: Runtime,
) -> None:
    """The app freezes the objects alive at start-up (full collections then scan only what
    requests make), collects its youngest objects every 20,000 allocations instead of 700,
    and gives both back when it stops."""
    gc.unfreeze()
    before = gc.get_threshold()
    with TestClient(create_app(runtime=rt)) as running:
        assert running.get("/health").status_code == 200
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (20_000, *before[1:])
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
