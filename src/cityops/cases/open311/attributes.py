"""The Open311 service attributes every category supports, and checking submitted values.

Pure: no I/O. The set is small and fixed; a category of kind ``component`` (部件) adds the
kind of damage, the others only the location detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from cityops.cases.open311.messages import Locale
from cityops.core.errors import FieldError, ValidationFailed
from cityops.core.i18n import text

Datatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
MAX_STRING = 300


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def get(self, locale: Locale) -> str:
        return self.zh if locale == "zh" else self.en


@dataclass(frozen=True)
class Value:
    key: str
    name: Text


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: Datatype
    required: bool
    order: int
    description: Text
    datatype_description: Text | None = None
    values: tuple[Value, ...] = ()
    variable: bool = True

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(v.key for v in self.values)


ADDRESS_DETAIL = Attribute(
    code="address_detail",
    datatype="string",
    required=False,
    order=1,
    description=Text("详细位置", "Location detail"),
    datatype_description=Text(
        "门牌号、楼栋、路口等，帮助处置人员找到问题",
        "House number, building or crossing, to help the crew find the problem",
    ),
)
DAMAGE = Attribute(
    code="damage",
    datatype="singlevaluelist",
    required=False,
    order=2,
    description=Text("部件损坏情况", "What is wrong with the fixture"),
    values=(
        Value("missing", Text("缺失", "Missing")),
        Value("broken", Text("破损", "Broken")),
        Value("displaced", Text("移位", "Displaced")),
    ),
)


def attributes_for(kind: str) -> tuple[Attribute, ...]:
    """The attributes of a category of ``kind`` (component, event or appeal), in order."""
    return (ADDRESS_DETAIL, DAMAGE) if kind == "component" else (ADDRESS_DETAIL,)


def check_attributes(kind: str, given: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The submitted ``attribute[code]`` values, checked against the definition.

    Raises ValidationFailed naming ``attribute[code]`` for an unknown code, a value outside
    a list, a missing required value, or more than one value for one attribute.
    """
    known = {a.code: a for a in attributes_for(kind)}
    errors = [
        FieldError(_field(code), "unknown attribute for this service", "unknown_attribute")
        for code in sorted(given)
        if code not in known
    ]
    values: dict[str, str] = {}
    for attribute in known.values():
        raw = [v.strip() for v in given.get(attribute.code, ()) if v.strip()]
        error = _problem(attribute, raw)
        if error is not None:
            errors.append(error)
        elif raw:
            values[attribute.code] = raw[0]
    if errors:
        raise ValidationFailed(*errors)
    return values


def _problem(attribute: Attribute, raw: list[str]) -> FieldError | None:
    field = _field(attribute.code)
    if not raw:
        return FieldError(field, "is required", "required") if attribute.required else None
    if len(raw) > 1:
        return FieldError(field, "takes one value", "too_many")
    if attribute.values and raw[0] not in attribute.keys:
        allowed = ", ".join(v.key for v in attribute.values)
        return FieldError(
            field,
            text("{value!r} is not one of {allowed}", value=raw[0], allowed=allowed),
            "not_in_list",
        )
    if len(raw[0]) > MAX_STRING:
        return FieldError(field, text("at most {limit} characters", limit=MAX_STRING), "too_long")
    return None


def _field(code: str) -> str:
    return f"attribute[{code}]"
