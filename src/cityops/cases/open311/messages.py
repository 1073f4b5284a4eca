"""User-visible Open311 text in Chinese and English: a small message catalogue."""

from __future__ import annotations

from typing import Literal

Locale = Literal["zh", "en"]

MESSAGES: dict[str, dict[Locale, str]] = {
    "contact": {
        "zh": "城市运行管理中心（12345 政务服务便民热线）",
        "en": "City operations centre (12345 government service hotline)",
    },
    "key_service": {
        "zh": "API 密钥由 cityops 管理员签发（组织管理 → API 密钥）",
        "en": "API keys are issued by a cityops administrator (Organisation → API keys)",
    },
    "service_description": {
        "zh": "{group} › {name}：由{department}处置，处置时限 {hours} 个工作小时",
        "en": "{group} › {name}: handled by {department} within {hours} working hours",
    },
    "notice.register": {"zh": "预计 {at} 前完成立案", "en": "To be registered by {at}"},
    "notice.dispatch": {
        "zh": "预计 {at} 前派遣到责任部门",
        "en": "To be dispatched to the responsible department by {at}",
    },
    "notice.handle": {"zh": "预计 {at} 前处置完毕", "en": "To be handled by {at}"},
    "received": {"zh": "已受理，案件编号 {number}。", "en": "Received as case {number}. "},
}


def text(key: str, locale: Locale, **values: object) -> str:
    """The message ``key`` in ``locale`` with ``values`` filled in."""
    return MESSAGES[key][locale].format(**values)
