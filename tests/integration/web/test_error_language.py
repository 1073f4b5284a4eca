"""Errors are worded in the caller's language (``Accept-Language``: Chinese or English, English
when neither is asked for); the machine-readable parts (status, code, fields) do not change."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest

from cityops.core.i18n import CHINESE
from cityops.core.runtime import Runtime
from factories.api import Api, error
from factories.cases import make_case
from factories.i18n import ZH

ActorFn = Callable[[str], Any]
HAN = re.compile(r"[\u4e00-\u9fff]")
GOOD = {
    "description": "路边有一堆暴露垃圾，无人清理",
    "category_code": "E-01-02",
    "location": {"lon": 112.95, "lat": 28.12},
}


def _in(language: str | None, response: Callable[[dict[str, str]], httpx.Response]) -> Any:
    return response({} if language is None else {"Accept-Language": language})


def _report(api: Api, body: dict[str, Any]) -> Callable[[dict[str, str]], httpx.Response]:
    return lambda extra: api.client.post(
        "/api/v1/cases", json=body, headers={**api.headers("citizen"), **extra}
    )


def _shape(answer: dict[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    return answer["code"], [(f["field"], f["code"]) for f in answer["fields"]]


def test_a_malformed_report_is_refused_in_chinese_or_english(api: Api) -> None:
    body = {**GOOD, "location": {"lon": "east", "lat": 28.12}}
    del body["description"]
    ask = _report(api, body)
    english = _in(None, ask)
    chinese = _in("zh-CN,zh;q=0.9,en;q=0.8", ask)
    assert english.headers["Content-Language"] == "en"
    assert chinese.headers["Content-Language"] == CHINESE
    said_en, said_zh = error(english, 422), error(chinese, 422)
    assert _shape(said_en) == _shape(said_zh)
    by_field = {f["field"]: f["message"] for f in said_zh["fields"]}
    assert by_field == {"description": "必填", "location.lon": "应为数字"}
    assert {f["message"] for f in said_en["fields"]} == {
        "Field required",
        "Input should be a valid number, unable to parse string as a number",
    }
    assert said_zh["message"] == "description: 必填; location.lon: 应为数字"


def test_a_validator_s_own_reason_is_translated(api: Api) -> None:
    ask = _report(api, {**GOOD, "description": "   "})
    english, chinese = error(_in("en", ask), 422), error(_in("zh", ask), 422)
    assert english["fields"][0]["message"] == "Value error, must not be blank"
    assert chinese["fields"][0]["message"] == ZH.say("must not be blank")
    assert HAN.search(chinese["fields"][0]["message"])


def test_a_point_outside_the_city_is_refused_in_chinese(api: Api) -> None:
    ask = _report(api, {**GOOD, "location": {"lon": 100.0, "lat": 20.0}})
    english, chinese = error(_in(None, ask), 422), error(_in("zh-CN", ask), 422)
    assert (
        _shape(english) == _shape(chinese) == ("validation_error", [("location", "outside_city")])
    )
    assert chinese["fields"][0]["message"] == ZH.say(english["fields"][0]["message"])
    assert HAN.search(chinese["message"])
    assert not HAN.search(english["message"])


def test_a_missing_case_and_a_missing_route_are_said_in_chinese(api: Api) -> None:
    missing = uuid.uuid4()
    chinese = error(
        api.client.get(
            f"/api/v1/cases/{missing}", headers={**api.headers("admin"), "Accept-Language": "zh"}
        ),
        404,
    )
    assert chinese["message"] == f"{ZH.term('case')} {missing} 不存在"
    assert ZH.term("case") != "case"
    route = error(api.client.get("/api/v1/no-such-thing", headers={"Accept-Language": "zh"}), 404)
    assert route["message"] == "未找到"


def test_an_action_the_state_does_not_allow_names_the_state_in_chinese(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    case = make_case(rt, actor, "closed")
    headers = {**api.headers("dispatcher"), "Accept-Language": "zh-CN"}
    answer = error(
        api.client.post(f"/api/v1/cases/{case.id}/dispatch", json={}, headers=headers), 409
    )
    assert answer["code"] == "invalid_transition"
    assert answer["details"] == {"action": "dispatch", "state": "closed"}
    assert ZH.term("closed") in answer["message"]
    assert ZH.term("dispatch") in answer["message"]
    assert ZH.term("closed") != "closed"


def test_a_refused_permission_is_said_in_chinese(rt: Runtime, actor: ActorFn, api: Api) -> None:
    case = make_case(rt, actor, "registered")
    ask = lambda extra: api.client.post(  # noqa: E731
        f"/api/v1/cases/{case.id}/dispatch", json={}, headers={**api.headers("citizen"), **extra}
    )
    english, chinese = error(_in(None, ask), 403), error(_in("zh-CN", ask), 403)
    assert english["code"] == chinese["code"]
    assert HAN.search(chinese["message"])
    assert not HAN.search(english["message"])


@pytest.mark.parametrize("language", ["fr-FR", "de, ja;q=0.5", "zh;q=0"])
def test_other_languages_get_english(api: Api, language: str) -> None:
    body = {k: v for k, v in GOOD.items() if k != "description"}
    answer = _in(language, _report(api, body))
    assert answer.headers["Content-Language"] == "en"
    assert error(answer, 422)["fields"][0]["message"] == "Field required"


def test_a_wrong_password_is_said_in_chinese(api: Api) -> None:
    form = {"username": "operator", "password": "not-the-password"}
    english = error(api.client.post("/api/v1/auth/token", data=form), 401)
    chinese = error(
        api.client.post("/api/v1/auth/token", data=form, headers={"Accept-Language": "zh-CN"}),
        401,
    )
    assert english["code"] == chinese["code"]
    assert chinese["message"] == ZH.say(english["message"])
    assert HAN.search(chinese["message"])
