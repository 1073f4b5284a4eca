"""Open311 error lists are said in the caller's language: Chinese when it asks for zh
(``?locale=zh`` or Accept-Language), English when it asks for en or for no language at all
(the clients the Open311 tests stand for send none and read English)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from cityops.cases.open311.mapping import errors_out
from cityops.core.auth import SYSTEM
from cityops.core.errors import FieldError, InvalidTransition, NotFound, ValidationFailed
from cityops.core.i18n import Catalogue
from cityops.core.runtime import Runtime
from cityops.org import service as org
from cityops.org.schemas import ApiKeyIn

ROOT = "/open311/v2"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def api_key(rt: Runtime) -> str:
    return org.create_api_key(rt, actor=SYSTEM, data=ApiKeyIn(name="app", username="citizen")).key


def _post(client: TestClient, form: dict[str, str], **kwargs: Any) -> Any:
    return client.post(f"{ROOT}/requests.json", data=form, **kwargs)


def _descriptions(response: Any) -> list[str]:
    return [e["description"] for e in response.json()]


def test_a_bad_post_is_said_in_chinese_when_the_caller_asks_for_it(
    client: TestClient, api_key: str
) -> None:
    form = {"api_key": api_key, "service_code": "Z-99", "lat": "28.12", "long": "112.95"}
    response = _post(client, form, headers=ZH)
    assert response.status_code == 400
    assert _descriptions(response) == ["service_code: 服务 'Z-99' 不存在"]
    assert response.headers["content-language"] == "zh-CN"
    assert _descriptions(_post(client, form, params={"locale": "zh"})) == [
        "service_code: 服务 'Z-99' 不存在"
    ]


def test_a_bad_post_is_said_in_english_with_locale_en_or_accept_language_en(
    client: TestClient, api_key: str
) -> None:
    form = {"api_key": api_key, "service_code": "Z-99", "lat": "28.12", "long": "112.95"}
    english = ["service_code: unknown service 'Z-99'"]
    assert _descriptions(_post(client, form, headers=EN)) == english
    # ?locale= wins over Accept-Language.
    response = _post(client, form, params={"locale": "en"}, headers=ZH)
    assert _descriptions(response) == english
    assert response.headers["content-language"] == "en"


def test_without_a_language_asked_for_errors_stay_english(client: TestClient, api_key: str) -> None:
    form = {"api_key": api_key, "lat": "28.12"}
    assert _descriptions(_post(client, form)) == [
        "service_code: is required",
    ]


def test_each_field_error_is_said_in_chinese(client: TestClient, api_key: str) -> None:
    form = {"api_key": api_key, "service_code": "E-01-02", "address_string": "解放西路 12 号"}
    response = _post(client, form, headers=ZH)
    assert response.status_code == 400
    assert _descriptions(response) == [
        "lat: 为必填项（所在区县由 lat 和 long 确定）",
        "long: 为必填项（所在区县由 lat 和 long 确定）",
    ]


def test_refusals_and_unknown_resources_in_chinese(client: TestClient) -> None:
    no_key = _post(client, {"service_code": "E-01-02"}, headers=ZH)
    assert no_key.status_code == 403
    assert _descriptions(no_key) == ["提交服务请求须提供 api_key"]
    missing = client.get(f"{ROOT}/requests/999999.xml", headers=ZH)
    assert missing.status_code == 404
    tree = ET.fromstring(missing.text)  # noqa: S314 - our own server's answer
    assert [e.findtext("description") for e in tree.findall("error")] == [
        "service_request_id 999999 不存在"
    ]
    token = client.get(f"{ROOT}/tokens/not-a-token.json", params={"locale": "zh"})
    assert _descriptions(token) == ["令牌 not-a-token 不存在"]
    wrong_format = client.get(f"{ROOT}/services.csv", headers=ZH)
    assert wrong_format.status_code == 404
    assert _descriptions(wrong_format) == ["不支持格式 'csv'（请使用 json 或 xml）"]
    unknown = client.get(f"{ROOT}/nothing.json", headers=ZH)
    assert unknown.status_code == 404
    assert _descriptions(unknown) == ["资源 /nothing.json 不存在"]
    assert _descriptions(client.get(f"{ROOT}/nothing.json")) == ["resource /nothing.json not found"]


def test_bad_filters_in_chinese(client: TestClient) -> None:
    response = client.get(f"{ROOT}/requests.json", params={"status": "pending"}, headers=ZH)
    assert response.status_code == 400
    assert _descriptions(response) == ["status: 只能是 open 或 closed（以逗号分隔）"]


def test_errors_out_says_templates_and_terms_through_the_catalogue() -> None:
    catalogue = Catalogue(
        "zh-CN",
        messages={
            "{what} {key} not found": "{what!t} {key} 不存在",
            "cannot {action!t} a case in state {state!r}": "{state!t}状态的案件不能{action!t}",
            "is required": "为必填项",
        },
        terms={"case": "案件", "closed": "已结案", "dispatch": "派单"},
    )
    assert errors_out(NotFound("case", "C-1"), catalogue)[1] == [
        {"code": 404, "description": "案件 C-1 不存在"}
    ]
    assert errors_out(InvalidTransition("dispatch", "closed"), catalogue)[1] == [
        {"code": 400, "description": "已结案状态的案件不能派单"}
    ]
    error = ValidationFailed(FieldError("category_code", "is required"))
    assert errors_out(error, catalogue)[1] == [
        {"code": 400, "description": "service_code: 为必填项"}
    ]
    # English by default, and English where a translation cannot be filled in.
    assert errors_out(error)[1] == [{"code": 400, "description": "service_code: is required"}]


def test_the_checks_of_the_case_schema_are_said_in_chinese_too(
    client: TestClient, api_key: str
) -> None:
    form = {"api_key": api_key, "service_code": "E-01-02", "lat": "128.1", "long": "112.95"}
    [chinese] = _descriptions(_post(client, form, headers=ZH))
    assert chinese.startswith("lat: ")
    assert "90" in chinese
    assert not any("a" <= c <= "z" for c in chinese.removeprefix("lat: "))
    [english] = _descriptions(_post(client, form))
    assert english == "lat: Input should be less than or equal to 90"
