"""A thin client for the acceptance tests: act on a case as a user and read back what the
platform recorded (the case, its timeline, the audit trail)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

REQUEST_ID = "X-Request-ID"


@dataclass
class Api:
    client: TestClient
    auth: Callable[[str], dict[str, str]]
    # Headers of users made during the test (seeded users come from ``auth``).
    logins: dict[str, dict[str, str]] = field(default_factory=dict)

    def headers(self, who: str | None, request_id: str | None = None) -> dict[str, str]:
        headers = {} if who is None else dict(self.logins.get(who) or self.auth(who))
        if request_id:
            headers[REQUEST_ID] = request_id
        return headers

    def act(
        self,
        who: str | None,
        case_id: uuid.UUID | str,
        action: str,
        body: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> httpx.Response:
        """POST /api/v1/cases/{id}/{action} as ``who`` with a fresh request id."""
        request_id = request_id or f"test-{action}-{uuid.uuid4().hex[:12]}"
        return self.client.post(
            f"/api/v1/cases/{case_id}/{action}",
            json=body if body is not None else {},
            headers=self.headers(who, request_id),
        )

    def report(self, who: str | None, body: dict[str, Any]) -> httpx.Response:
        return self.client.post("/api/v1/cases", json=body, headers=self.headers(who))

    def get(self, who: str | None, url: str, **params: Any) -> httpx.Response:
        return self.client.get(url, params=params, headers=self.headers(who))

    def case(self, case_id: uuid.UUID | str, who: str = "admin") -> dict[str, Any]:
        return self._ok(self.get(who, f"/api/v1/cases/{case_id}"))

    def timeline(self, case_id: uuid.UUID | str, who: str = "admin") -> list[dict[str, Any]]:
        return self._ok(self.get(who, f"/api/v1/cases/{case_id}/timeline"))  # type: ignore[return-value]

    def audit(self, case_id: uuid.UUID | str, action: str | None = None) -> list[dict[str, Any]]:
        """Audit records of one case, newest first, optionally one tag (prefix match)."""
        params: dict[str, Any] = {"subject_id": str(case_id), "page_size": 500}
        if action:
            params["action"] = action
        page = self._ok(self.get("admin", "/api/v1/audit", **params))
        return page["items"]  # type: ignore[no-any-return]

    def cases(self, who: str = "admin", **params: Any) -> dict[str, Any]:
        """One page of GET /api/v1/cases."""
        return self._ok(self.get(who, "/api/v1/cases", **params))

    def count_cases(self) -> int:
        return int(self.cases(page_size=1)["total"])

    @staticmethod
    def _ok(response: httpx.Response) -> Any:
        assert response.status_code == 200, response.text
        return response.json()


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The ``error`` object of a failed answer, after checking its status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert "error" in body, body
    return body["error"]  # type: ignore[no-any-return]


def fields(response: httpx.Response, status: int = 422) -> dict[str, str]:
    """Field path → error code of a validation answer."""
    return {f["field"]: f["code"] for f in error(response, status)["fields"]}
