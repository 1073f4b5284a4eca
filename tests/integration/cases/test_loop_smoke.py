"""The whole loop through the HTTP API, once, as each role in turn."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from cityops.demo.seed import Organisation

Auth = Callable[[str], dict[str, str]]


def test_case_walks_the_whole_loop(client: TestClient, auth: Auth, city: Organisation) -> None:
    body = {
        "description": "路边有一堆暴露垃圾，无人清理",
        "category_code": "E-01-02",
        "location": {"lon": 112.95, "lat": 28.12},
        "address": "第1区第1网格",
    }
    created = client.post("/api/v1/cases", json=body, headers=auth("citizen"))
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["state"] == "reported"
    assert case["location"]["grid"]["code"] == city.first_grid().code
    cid = case["id"]

    def act(who: str, action: str, payload: dict[str, object]) -> dict[str, object]:
        response = client.post(f"/api/v1/cases/{cid}/{action}", json=payload, headers=auth(who))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    assert act("operator", "register", {})["state"] == "registered"
    dispatched = act("dispatcher", "dispatch", {})
    assert dispatched["state"] == "dispatched"
    department = dispatched["department"]["code"]  # type: ignore[index]
    assert department == "chengguan-990101"
    handler = f"handler-{department}"
    assert act(handler, "accept", {})["state"] == "accepted"
    assert act(handler, "handle", {"note": "已清理"})["state"] == "handled"
    assert act("gridworker", "verify", {"passed": True})["state"] == "verified"
    assert act("operator", "close", {})["state"] == "closed"
    done = act("citizen", "evaluate", {"rating": 5, "comment": "很快"})
    assert done["state"] == "evaluated"
    assert done["rating"] == 5
    steps = client.get(f"/api/v1/cases/{cid}/timeline", headers=auth("operator")).json()
    assert [s["action"] for s in steps] == [
        "report",
        "register",
        "dispatch",
        "accept",
        "handle",
        "verify",
        "close",
        "evaluate",
    ]
