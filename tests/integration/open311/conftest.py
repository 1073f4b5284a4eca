"""Fixtures of the Open311 tests: an API key, a form poster, case counting, transitions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from open311_support import IN_CITY, ROOT, Submit

from cityops.cases import service as cases
from cityops.cases.schemas import CaseFilter, CaseOut
from cityops.core.auth import SYSTEM, Actor
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import ApiKeyIn


@pytest.fixture
def api_key(rt: Runtime) -> str:
    """A key acting as the seeded citizen, as an app would hold."""
    return org.create_api_key(rt, actor=SYSTEM, data=ApiKeyIn(name="app", username="citizen")).key


@pytest.fixture
def submit(client: TestClient, api_key: str) -> Submit:
    """``submit(fmt="json", files=None, **fields)``: POST requests.{fmt} with a valid form;
    a field set to ``None`` is left out."""

    def post(fmt: str = "json", files: dict[str, Any] | None = None, **fields: Any) -> Any:
        form = {
            "api_key": api_key,
            "service_code": "E-01-02",
            "description": "路边有一堆暴露垃圾，无人清理",
            **IN_CITY,
            **fields,
        }
        data = {k: v for k, v in form.items() if v is not None}
        return client.post(f"{ROOT}/requests.{fmt}", data=data, files=files)

    return post


@pytest.fixture
def case_count(rt: Runtime) -> Callable[[], int]:
    """How many cases the platform holds (read through the case service)."""

    def count() -> int:
        page = cases.list_cases(rt, actor=SYSTEM, filters=CaseFilter(), params=PageParams())
        return page.total

    return count


@pytest.fixture
def loop(rt: Runtime, actor: Callable[[str], Actor]) -> Callable[..., CaseOut]:
    """``loop(case_id, "close")`` walks a reported case on, as the roles that do each step."""

    def walk(case_id: uuid.UUID, until: str, reason: str = "不属于城市管理受理范围") -> CaseOut:
        if until == "reject":
            return cases.reject_case(rt, actor=actor("operator"), case_id=case_id, reason=reason)
        cases.register_case(rt, actor=actor("operator"), case_id=case_id)
        out = cases.dispatch_case(rt, actor=actor("dispatcher"), case_id=case_id)
        assert out.department is not None
        handler = actor(f"handler-{out.department.code}")
        cases.accept_case(rt, actor=handler, case_id=case_id)
        out = cases.handle_case(rt, actor=handler, case_id=case_id, note="垃圾已清运完毕")
        if until == "handle":
            return out
        cases.verify_case(rt, actor=actor("gridworker"), case_id=case_id, passed=True)
        return cases.close_case(rt, actor=actor("operator"), case_id=case_id)

    return walk
