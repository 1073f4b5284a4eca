"""The device-type catalogue that ships with the product (``data/device_types.json``).

Pure loader, like the case categories': it reads and validates the file and returns immutable
seeds; loading them into the database is ``service.import_default_types``. Each type has its
metrics (code, names, unit, plausible range), the department kind that usually owns such
devices and the interval at which a device of the type is expected to report. The common
metrics (``battery``, ``rssi``) may be reported by every type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PACKAGE = "cityops.devices"
_RESOURCE = ("data", "device_types.json")
_METRIC_KEYS = frozenset({"code", "name_zh", "name_en", "unit", "min", "max"})
_TYPE_KEYS = frozenset({"code", "name_zh", "name_en", "department", "interval_seconds", "metrics"})


@dataclass(frozen=True)
class MetricSpec:
    """One quantity a device reports; values outside [minimum, maximum] are sensor faults."""

    code: str
    name_zh: str
    name_en: str
    unit: str
    minimum: float
    maximum: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "unit": self.unit,
            "min": self.minimum,
            "max": self.maximum,
        }


@dataclass(frozen=True)
class DeviceTypeSeed:
    code: str
    name_zh: str
    name_en: str
    department_kind: str
    interval_seconds: int
    metrics: tuple[MetricSpec, ...]


@dataclass(frozen=True)
class DeviceCatalogue:
    types: tuple[DeviceTypeSeed, ...]
    common_metrics: tuple[MetricSpec, ...]


def load_default_types() -> DeviceCatalogue:
    """Read, validate and return the catalogue shipped inside the package."""
    text = resources.files(_PACKAGE).joinpath(*_RESOURCE).read_text(encoding="utf-8")
    return validate_types(json.loads(text))


def validate_types(raw: Any) -> DeviceCatalogue:
    """Build the catalogue from decoded JSON; raise ``ValueError`` naming the bad entry."""
    if not isinstance(raw, dict) or not isinstance(raw.get("types"), list) or not raw["types"]:
        raise ValueError("device types: 'types' must be a non-empty list")
    common = tuple(
        parse_metric(m, f"common_metrics[{i}]") for i, m in enumerate(raw.get("common_metrics", []))
    )
    types = tuple(_parse_type(t, f"types[{i}]") for i, t in enumerate(raw["types"]))
    codes = [t.code for t in types]
    if len(set(codes)) != len(codes):
        raise ValueError("device types: duplicate type codes")
    common_codes = {m.code for m in common}
    for seed in types:
        clash = common_codes & {m.code for m in seed.metrics}
        if clash:
            raise ValueError(f"device type {seed.code}: redefines common metric(s) {sorted(clash)}")
    return DeviceCatalogue(types=types, common_metrics=common)


def _parse_type(raw: Any, label: str) -> DeviceTypeSeed:
    entry = _mapping(raw, label, _TYPE_KEYS)
    code = _code(entry, label)
    label = f"device type {code}"
    interval = entry.get("interval_seconds")
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 86_400:
        raise ValueError(f"{label}: interval_seconds must be an integer from 1 to 86400")
    metrics_raw = entry.get("metrics")
    if not isinstance(metrics_raw, list) or not metrics_raw:
        raise ValueError(f"{label}: 'metrics' must be a non-empty list")
    metrics = tuple(parse_metric(m, f"{label} metrics[{i}]") for i, m in enumerate(metrics_raw))
    if len({m.code for m in metrics}) != len(metrics):
        raise ValueError(f"{label}: duplicate metric codes")
    return DeviceTypeSeed(
        code=code,
        name_zh=_text(entry, "name_zh", label),
        name_en=_text(entry, "name_en", label),
        department_kind=_text(entry, "department", label),
        interval_seconds=interval,
        metrics=metrics,
    )


def parse_metric(raw: Any, label: str) -> MetricSpec:
    """One metric entry (also used for the metrics stored on a type row)."""
    entry = _mapping(raw, label, _METRIC_KEYS)
    code = _code(entry, label)
    low, high = _finite(entry.get("min")), _finite(entry.get("max"))
    if low is None or high is None or low >= high:
        raise ValueError(f"{label}: min and max must be finite numbers with min < max")
    unit = entry.get("unit", "")
    if not isinstance(unit, str):
        raise ValueError(f"{label}: unit must be a string")
    return MetricSpec(
        code=code,
        name_zh=_text(entry, "name_zh", label),
        name_en=_text(entry, "name_en", label),
        unit=unit,
        minimum=low,
        maximum=high,
    )


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _mapping(raw: Any, label: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise ValueError(f"{label}: expected an object")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ValueError(f"{label}: unknown field(s) {', '.join(unknown)}")
    return raw


def _code(entry: Mapping[str, Any], label: str) -> str:
    code = entry.get("code")
    if not isinstance(code, str) or not CODE.match(code):
        raise ValueError(f"{label}: code must match {CODE.pattern}")
    return code


def _text(entry: Mapping[str, Any], key: str, label: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{label}: '{key}' must be a non-blank string")
    return value
