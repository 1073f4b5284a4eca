"""Acceptance: the ``georeport`` client from PyPI reads services and requests from a running
server, in JSON and in XML. The client (0.3.1) has no POST method, so the request is posted
form-encoded with ``requests``, the way such a client would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from georeport import GeoReport  # type: ignore[import-untyped]

from cityops.app import create_app
from cityops.core.runtime import Runtime
from factories.server import serving

JURISDICTION = "990100"


@pytest.fixture
def live_root(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Open311 root of the app served by uvicorn on a free loopback port."""
    with serving(create_app(runtime=rt), monkeypatch) as url:
        yield f"{url}/open311/v2"


def _post(root: str, api_key: str, **fields: str) -> dict[str, Any]:
    form = {
        "api_key": api_key,
        "jurisdiction_id": JURISDICTION,
        "service_code": "B-01-01",
        "lat": "28.12",
        "long": "112.95",
        "description": "人行道上的上水井盖不见了",
        "attribute[damage]": "missing",
        **fields,
    }
    response = requests.post(f"{root}/requests.json", data=form, timeout=10)
    assert response.status_code == 201, response.text
    [receipt] = response.json()
    return receipt  # type: ignore[no-any-return]


@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_services_and_requests(
    live_root: str, api_key: str, output_format: str
) -> None:
    client = GeoReport(
        root_address=live_root, jurisdiction=JURISDICTION, output_format=output_format
    )
    services = client.get_service_list()
    assert len(services) > 50
    cover = next(s for s in services if s["service_code"] == "B-01-01")
    assert cover["service_name"] == "上水井盖"
    assert str(cover["metadata"]).lower() == "true"

    definition = client.get_service_definition("B-01-01")
    assert definition["service_code"] == "B-01-01"
    attributes = definition["attributes"]
    if output_format == "xml":  # xmltodict keeps the container element
        attributes = attributes["attribute"]
    assert [a["code"] for a in attributes] == ["address_detail", "damage"]

    receipt = _post(live_root, api_key)
    number = receipt["service_request_id"]
    found = client.get_service_request(number)
    assert found["service_request_id"] == number
    assert found["status"] == "open"
    assert found["service_code"] == "B-01-01"
    assert found["description"] == "人行道上的上水井盖不见了"
    assert found["requested_datetime"] == "2026-03-02T10:00:00+08:00"
    assert float(found["lat"]) == 28.12

    listed = client.get_service_requests(service_code="B-01-01", status="open")
    if isinstance(listed, dict):  # xmltodict gives a lone element as a dict
        listed = [listed]
    assert [r["service_request_id"] for r in listed] == [number]
    assert client.get_service_requests(service_request_id=number) == (
        listed[0] if output_format == "xml" else listed
    )


def test_the_client_sees_a_refusal_as_an_http_error(live_root: str) -> None:
    client = GeoReport(root_address=live_root, jurisdiction="sfgov.org")
    with pytest.raises(requests.HTTPError) as caught:
        client.get_service_list()
    assert caught.value.response.status_code == 404
    assert caught.value.response.json() == [
        {"code": 404, "description": "jurisdiction_id sfgov.org not found"}
    ]
    refused = requests.post(
        f"{live_root}/requests.xml", data={"service_code": "B-01-01"}, timeout=10
    )
    assert refused.status_code == 403
    assert b"<errors><error><code>403</code>" in refused.content
