"""Open311 service requests: POST (form and multipart), reading back in JSON and XML, status
through the loop, tokens, and what the public list does not show."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from open311_support import ROOT, Submit, png, xml_items

from cityops.cases import service as cases
from cityops.cases.schemas import CaseOut
from cityops.core.auth import SYSTEM
from cityops.core.runtime import Runtime

SHANGHAI = ZoneInfo("Asia/Shanghai")
STANDARD_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    [receipt] = response.json()
    return receipt  # type: ignore[no-any-return]


def _case(rt: Runtime, receipt: dict[str, Any]) -> CaseOut:
    return cases.get_case(rt, actor=SYSTEM, case_id=uuid.UUID(receipt["token"]))


def test_post_form_creates_a_case_through_the_loop(submit: Submit, rt: Runtime) -> None:
    receipt = _created(
        submit(
            address_string="解放西路 12 号",
            first_name="张",
            last_name="三",
            phone="13812345678",
            email="zhang@example.com",
            device_id="dev-1",
            account_id="acc-9",
            media_url="https://img.example.com/1.jpg",
            **{"attribute[address_detail]": "公交站旁"},
        )
    )
    assert set(receipt) == {"service_request_id", "token", "service_notice", "account_id"}
    assert receipt["account_id"] == "acc-9"
    case = _case(rt, receipt)
    assert case.due.register_by is not None
    register_by = case.due.register_by.astimezone(SHANGHAI)
    assert receipt["service_notice"] == (
        f"已受理，案件编号 {case.number}。预计 {register_by:%Y-%m-%d %H:%M} 前完成立案"
    )
    assert receipt["service_request_id"] == str(case.number)
    assert (case.state, case.source) == ("reported", "open311")
    assert case.category is not None
    assert case.category.code == "E-01-02"
    assert (case.location.lon, case.location.lat) == (112.95, 28.12)
    assert case.location.address == "解放西路 12 号"
    assert (case.reporter_name, case.reporter_phone) == ("张 三", "13812345678")
    assert case.reporter is not None
    assert case.reporter.username == "citizen"
    assert case.attributes == {
        "address_detail": "公交站旁",
        "media_url": "https://img.example.com/1.jpg",
        "open311": {"email": "zhang@example.com", "device_id": "dev-1", "account_id": "acc-9"},
    }


def test_a_new_request_reads_back_in_json(submit: Submit, client: TestClient, rt: Runtime) -> None:
    receipt = _created(submit(address_string="解放西路 12 号"))
    number = receipt["service_request_id"]
    register_by = _case(rt, receipt).due.register_by
    assert register_by is not None
    [request] = client.get(f"{ROOT}/requests/{number}.json").json()
    assert list(request)[: len(STANDARD_FIELDS)] == STANDARD_FIELDS
    assert request["service_request_id"] == number
    assert request["status"] == "open"
    assert request["status_notes"] is None
    assert request["service_code"] == "E-01-02"
    assert request["service_name"] == "暴露垃圾"
    assert request["description"] == "路边有一堆暴露垃圾，无人清理"
    assert request["agency_responsible"] is None
    assert request["requested_datetime"] == "2026-03-02T10:00:00+08:00"
    assert request["updated_datetime"] == "2026-03-02T10:00:00+08:00"
    assert request["expected_datetime"] == register_by.astimezone(SHANGHAI).isoformat()
    assert request["expected_datetime"] == "2026-03-02T12:00:00+08:00"  # 2 working hours
    assert request["address"] == "解放西路 12 号"
    assert (request["lat"], request["long"]) == (28.12, 112.95)
    assert request["media_url"] is None
    assert request["extended_attributes"] == {
        "cityops_state": "reported",
        "cityops_sla_status": "ok",
    }
    assert client.get(f"{ROOT}/requests.json").json() == [request]


def test_a_new_request_reads_back_in_xml(submit: Submit, client: TestClient) -> None:
    receipt = ET.fromstring(submit(fmt="xml").text)  # noqa: S314 - our own answer
    assert receipt.tag == "service_requests"
    number = receipt.findtext("request/service_request_id")
    assert number is not None
    assert number.isdigit()
    response = client.get(f"{ROOT}/requests/{number}.xml")
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    [request] = xml_items(response.text, "service_requests", "request")
    assert list(request)[: len(STANDARD_FIELDS)] == STANDARD_FIELDS
    assert request["service_request_id"] == number
    assert request["status"] == "open"
    assert request["service_name"] == "暴露垃圾"
    assert request["requested_datetime"] == "2026-03-02T10:00:00+08:00"
    assert (request["lat"], request["long"]) == ("28.12", "112.95")
    assert request["media_url"] is None
    extended = ET.fromstring(response.text).find("request/extended_attributes")  # noqa: S314
    assert extended is not None
    assert extended.findtext("cityops_state") == "reported"
    assert extended.findtext("cityops_sla_status") == "ok"


def test_multipart_media_becomes_the_first_photo(
    submit: Submit, client: TestClient, rt: Runtime
) -> None:
    receipt = _created(submit(files={"media": ("photo.png", png(), "image/png")}))
    case = _case(rt, receipt)
    assert len(case.photos) == 1
    [request] = client.get(f"{ROOT}/requests/{receipt['service_request_id']}.json").json()
    assert request["media_url"] == f"http://testserver/api/v1/uploads/{case.photos[0]}"


def test_a_component_request_keeps_its_damage(submit: Submit, rt: Runtime) -> None:
    receipt = _created(submit(service_code="B-01-01", **{"attribute[damage]": "missing"}))
    assert _case(rt, receipt).attributes == {"damage": "missing"}


def test_without_description_the_service_name_describes_it(submit: Submit, rt: Runtime) -> None:
    receipt = _created(submit(description=None))
    assert _case(rt, receipt).description == "暴露垃圾"


def test_rejected_request_is_closed_with_the_reason(
    submit: Submit, client: TestClient, loop: Callable[..., CaseOut]
) -> None:
    receipt = _created(submit())
    loop(uuid.UUID(receipt["token"]), "reject", reason="不属于城市管理受理范围")
    [request] = client.get(f"{ROOT}/requests/{receipt['service_request_id']}.json").json()
    assert request["status"] == "closed"
    assert request["status_notes"] == "不属于城市管理受理范围"
    assert request["service_notice"] is None
    assert request["extended_attributes"]["cityops_state"] == "rejected"


def test_handled_request_is_open_with_the_result_and_department(
    submit: Submit, client: TestClient, loop: Callable[..., CaseOut], clock: Any
) -> None:
    receipt = _created(submit())
    clock.advance(minutes=30)
    case = loop(uuid.UUID(receipt["token"]), "handle")
    [request] = client.get(
        f"{ROOT}/requests/{receipt['service_request_id']}.json", params={"locale": "en"}
    ).json()
    assert request["status"] == "open"
    assert request["status_notes"] == "垃圾已清运完毕"
    assert case.department is not None
    assert request["agency_responsible"] == case.department.name_en
    assert request["service_name"] == "Exposed rubbish"
    assert request["updated_datetime"] == "2026-03-02T10:30:00+08:00"
    assert case.due.handle_by is not None
    handle_by = case.due.handle_by.astimezone(SHANGHAI)
    assert request["expected_datetime"] == handle_by.isoformat(timespec="seconds")
    assert request["extended_attributes"]["cityops_state"] == "handled"


def test_closed_request_keeps_the_handling_result(
    submit: Submit, client: TestClient, loop: Callable[..., CaseOut], clock: Any
) -> None:
    receipt = _created(submit())
    clock.advance(hours=2)
    loop(uuid.UUID(receipt["token"]), "close")
    response = client.get(f"{ROOT}/requests/{receipt['service_request_id']}.xml")
    [request] = xml_items(response.text, "service_requests", "request")
    assert request["status"] == "closed"
    assert request["status_notes"] == "垃圾已清运完毕"
    assert request["updated_datetime"] == "2026-03-02T12:00:00+08:00"
    closed = client.get(f"{ROOT}/requests.json", params={"status": "closed"}).json()
    assert [r["service_request_id"] for r in closed] == [receipt["service_request_id"]]
    assert client.get(f"{ROOT}/requests.json", params={"status": "open"}).json() == []


def test_token_gives_the_request_id(submit: Submit, client: TestClient) -> None:
    receipt = _created(submit())
    [found] = client.get(f"{ROOT}/tokens/{receipt['token']}.json").json()
    assert found == {
        "service_request_id": receipt["service_request_id"],
        "token": receipt["token"],
    }
    [as_xml] = xml_items(
        client.get(f"{ROOT}/tokens/{receipt['token']}.xml").text, "service_requests", "request"
    )
    assert as_xml == found


def test_public_reads_never_show_the_reporter(submit: Submit, client: TestClient) -> None:
    _created(submit(first_name="李", last_name="四", phone="13912345678", email="li@example.com"))
    for fmt in ("json", "xml"):
        text = client.get(f"{ROOT}/requests.{fmt}").text
        assert "13912345678" not in text
        assert "139****5678" not in text
        assert "李" not in text
        assert "li@example.com" not in text
        assert "reporter" not in text


def test_a_raw_utf8_form_body_is_read_as_utf8(
    client: TestClient, api_key: str, rt: Runtime
) -> None:
    """``curl -d 'description=…'`` sends UTF-8 bytes without %-escapes."""
    body = (
        f"api_key={api_key}&service_code=E-01-02&lat=28.12&long=112.95"
        "&description=五一广场东侧堆放生活垃圾&attribute[address_detail]=东侧"
    ).encode()
    response = client.post(
        f"{ROOT}/requests.json",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    case = _case(rt, _created(response))
    assert case.description == "五一广场东侧堆放生活垃圾"
    assert "东侧" in str(case.attributes)
