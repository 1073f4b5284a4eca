"""Filters of the audit trail (``GET /api/v1/audit``): by actor name, action tag, subject and
date range, and who may read it."""

from __future__ import annotations

from typing import Any

import pytest

from cityops.core.clock import FrozenClock
from factories.api import Api, error, fields


def audit(api: Api, who: str | None = "admin", **params: Any) -> Any:
    return api.get(who, "/api/v1/audit", **params)


def mark(api: Api, day: str, who: str = "admin") -> None:
    response = api.client.put(
        f"/api/v1/calendar/{day}", params={"working": "false"}, headers=api.headers(who)
    )
    assert response.status_code == 204, response.text


def test_records_are_found_by_actor_name_and_subject(api: Api) -> None:
    mark(api, "2026-05-01")
    mark(api, "2026-05-02")

    response = audit(api, actor_name="admin", subject_type="calendar", subject_id="2026-05-02")

    assert response.status_code == 200, response.text
    [record] = response.json()["items"]
    assert record["action"] == "cases:calendar:set"
    assert record["actor_name"] == "admin"
    assert audit(api, actor_name="operator", subject_type="calendar").json()["total"] == 0


def test_records_are_found_by_date_range(api: Api, clock: FrozenClock) -> None:
    mark(api, "2026-05-01")
    clock.advance(hours=48)
    mark(api, "2026-05-02")

    later = audit(api, subject_type="calendar", since="2026-03-03T00:00:00+08:00").json()
    earlier = audit(api, subject_type="calendar", until="2026-03-03T00:00:00+08:00").json()

    assert [r["subject_id"] for r in later["items"]] == ["2026-05-02"]
    assert [r["subject_id"] for r in earlier["items"]] == ["2026-05-01"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-03-03T00:00:00+08:00", "until": "2026-03-01T00:00:00+08:00"}, "until"),
        ({"since": "2026-03-03T00:00:00"}, "since"),
        ({"actor_name": "x" * 151}, "actor_name"),
        ({"sort": "before"}, "sort"),
    ],
    ids=["reversed", "naive-time", "long-name", "bad-sort"],
)
def test_a_bad_filter_names_the_field(api: Api, params: dict[str, str], field: str) -> None:
    assert list(fields(audit(api, **params))) == [field]


def test_records_sort_by_actor_name(api: Api) -> None:
    items = audit(api, sort="actor_name,-at", page_size=500).json()["items"]
    names = [r["actor_name"] for r in items]
    assert names == sorted(names)


@pytest.mark.parametrize("who", ["operator", "leader", "citizen"])
def test_only_admins_and_data_officers_read_the_trail(api: Api, who: str) -> None:
    assert error(audit(api, who), 403)["code"] == "permission_denied"
    assert audit(api, "dataofficer").status_code == 200
    assert error(audit(api, None), 401)["code"] == "not_authenticated"
