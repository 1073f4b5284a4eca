"""Open311 discovery, service list and service definitions, in JSON and XML."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from open311_support import ROOT, xml_items

from cityops.cases import service as cases
from cityops.cases.schemas import CategoryUpdate
from cityops.core.auth import SYSTEM
from cityops.core.runtime import Runtime


def test_discovery_names_this_endpoint_and_its_formats(client: TestClient) -> None:
    body = client.get(f"{ROOT}/discovery.json").json()
    assert body["changeset"].endswith("+08:00")
    assert body["contact"].startswith("城市运行管理中心")
    assert "API" in body["key_service"]
    [endpoint] = body["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://testserver/open311/v2",
        "changeset": body["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }


def test_discovery_in_xml(client: TestClient) -> None:
    response = client.get(f"{ROOT}/discovery.xml")
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    tree = ET.fromstring(response.text)  # noqa: S314 - our own answer
    assert tree.tag == "discovery"
    endpoint = tree.find("endpoints/endpoint")
    assert endpoint is not None
    assert endpoint.findtext("url") == "http://testserver/open311/v2"
    assert endpoint.findtext("type") == "production"
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_services_list_every_active_leaf_with_its_group(client: TestClient, rt: Runtime) -> None:
    response = client.get(f"{ROOT}/services.json", params={"jurisdiction_id": "990100"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    services = {s["service_code"]: s for s in response.json()}
    leaves = [c for c in cases.list_categories(rt) if c.parent_code is not None]
    assert set(services) == {c.code for c in leaves}
    garbage = services["E-01-02"]
    assert garbage["service_name"] == "暴露垃圾"
    assert garbage["group"] == "市容环境"
    assert garbage["type"] == "realtime"
    assert garbage["metadata"] is True
    assert "暴露垃圾" in garbage["keywords"].split(",")
    assert "暴露垃圾" in garbage["description"]


def test_an_inactive_category_is_not_offered(client: TestClient, rt: Runtime) -> None:
    cases.update_category(rt, actor=SYSTEM, code="E-01-02", data=CategoryUpdate(active=False))
    codes = {s["service_code"] for s in client.get(f"{ROOT}/services.json").json()}
    assert "E-01-02" not in codes
    assert "E-01-01" in codes


def test_services_in_english_by_parameter_or_accept_language(client: TestClient) -> None:
    by_param = client.get(f"{ROOT}/services.json", params={"locale": "en"}).json()
    by_header = client.get(
        f"{ROOT}/services.json", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"}
    ).json()
    chinese = client.get(
        f"{ROOT}/services.json", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
    ).json()
    garbage = next(s for s in by_param if s["service_code"] == "E-01-02")
    assert garbage["service_name"] == "Exposed rubbish"
    assert garbage["group"] == "City appearance and sanitation"
    assert by_header == by_param
    assert next(s for s in chinese if s["service_code"] == "E-01-02")["service_name"] == "暴露垃圾"


def test_services_in_xml_match_json(client: TestClient) -> None:
    as_json = client.get(f"{ROOT}/services.json").json()
    as_xml = xml_items(client.get(f"{ROOT}/services.xml").text, "services", "service")
    assert len(as_xml) == len(as_json)
    first = as_xml[0]
    assert first["service_code"] == as_json[0]["service_code"]
    assert first["service_name"] == as_json[0]["service_name"]
    assert first["metadata"] == "true"
    assert first["type"] == "realtime"
    assert first["group"] == as_json[0]["group"]


def test_definition_of_a_component_has_the_damage_list(client: TestClient) -> None:
    body = client.get(f"{ROOT}/services/B-01-01.json").json()
    assert body["service_code"] == "B-01-01"
    detail, damage = body["attributes"]
    assert detail["code"] == "address_detail"
    assert detail["datatype"] == "string"
    assert (detail["required"], detail["variable"], detail["order"]) == (False, True, 1)
    assert detail["description"] == "详细位置"
    assert damage["code"] == "damage"
    assert damage["datatype"] == "singlevaluelist"
    assert damage["order"] == 2
    assert damage["values"] == [
        {"key": "missing", "name": "缺失"},
        {"key": "broken", "name": "破损"},
        {"key": "displaced", "name": "移位"},
    ]


def test_definition_of_an_event_has_only_the_location_detail(client: TestClient) -> None:
    body = client.get(f"{ROOT}/services/E-01-02.json", params={"locale": "en"}).json()
    assert [a["code"] for a in body["attributes"]] == ["address_detail"]
    assert body["attributes"][0]["description"] == "Location detail"
    assert body["attributes"][0]["values"] == []


def test_definition_in_xml(client: TestClient) -> None:
    tree = ET.fromstring(client.get(f"{ROOT}/services/B-01-01.xml").text)  # noqa: S314
    assert tree.tag == "service_definition"
    assert tree.findtext("service_code") == "B-01-01"
    attributes = tree.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["address_detail", "damage"]
    assert attributes[1].findtext("datatype") == "singlevaluelist"
    assert attributes[1].findtext("required") == "false"
    values = [(v.findtext("key"), v.findtext("name")) for v in attributes[1].iter("value")]
    assert values == [("missing", "缺失"), ("broken", "破损"), ("displaced", "移位")]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_service_definition_is_an_open311_404(client: TestClient, fmt: str) -> None:
    response = client.get(f"{ROOT}/services/NOPE-1.{fmt}")
    assert response.status_code == 404
    if fmt == "json":
        [error] = response.json()
        assert error["code"] == 404
        assert "service_code" in error["description"]
    else:
        [error] = xml_items(response.text, "errors", "error")
        assert error["code"] == "404"
        assert "service_code" in (error["description"] or "")


@pytest.mark.parametrize(
    "path",
    ["services.json", "services/E-01-02.json", "requests.json", "discovery.json"],
)
def test_unknown_format_and_paths_answer_open311_errors(client: TestClient, path: str) -> None:
    wrong_format = client.get(f"{ROOT}/{path.replace('.json', '.csv')}")
    assert wrong_format.status_code == 404
    assert wrong_format.json()[0]["code"] == 404
    assert "json or xml" in wrong_format.json()[0]["description"]
    unknown = client.get(f"{ROOT}/nothing/{path.replace('.json', '.xml')}")
    assert unknown.status_code == 404
    assert xml_items(unknown.text, "errors", "error")[0]["code"] == "404"
