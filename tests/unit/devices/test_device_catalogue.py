"""The shipped device-type catalogue validates, and a broken one is refused with its entry named."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from cityops.devices.catalogue import load_default_types, validate_types
from cityops.devices.health import fault_rate, health_state, offline_after

REQUIRED_TYPES = {
    "traffic_counter",
    "air_quality",
    "noise_meter",
    "water_level",
    "manhole_cover",
    "gas_pressure",
    "bridge_displacement",
    "smoke_detector",
}


def _raw() -> dict[str, Any]:
    text = resources.files("cityops.devices").joinpath("data", "device_types.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def test_the_catalogue_has_every_required_type_with_metrics_and_names() -> None:
    catalogue = load_default_types()
    by_code = {t.code: t for t in catalogue.types}
    assert set(by_code) >= REQUIRED_TYPES
    assert {"pm25", "pm10", "no2", "o3"} <= {m.code for m in by_code["air_quality"].metrics}
    assert {"tilt", "displacement"} <= {m.code for m in by_code["manhole_cover"].metrics}
    assert {m.code for m in catalogue.common_metrics} == {"battery", "rssi"}
    for seed in catalogue.types:
        assert seed.name_zh
        assert seed.name_en
        assert seed.interval_seconds > 0
        for metric in seed.metrics:
            assert metric.name_zh
            assert metric.name_en
            assert metric.minimum < metric.maximum


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["types"][0].update(code="Bad Code"), "code must match"),
        (lambda d: d["types"][0].update(interval_seconds=0), "interval_seconds"),
        (lambda d: d["types"][0]["metrics"][0].update(min=5, max=5), "min < max"),
        (lambda d: d["types"][0].update(colour="red"), "unknown field"),
        (lambda d: d["types"].append(copy.deepcopy(d["types"][0])), "duplicate type codes"),
        (lambda d: d["types"][0]["metrics"].append(d["common_metrics"][0]), "common metric"),
        (lambda d: d["types"][0].update(metrics=[]), "non-empty list"),
    ],
)
def test_a_broken_catalogue_is_refused(change: Any, message: str) -> None:
    raw = _raw()
    change(raw)
    with pytest.raises(ValueError, match=message):
        validate_types(raw)


def test_health_derivations() -> None:
    from datetime import UTC, datetime, timedelta

    seen = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    limit = offline_after(seen, 300, 3)
    assert limit == seen + timedelta(minutes=15)
    assert health_state(None, None, seen) == "never_seen"
    assert health_state(seen, limit, limit - timedelta(seconds=1)) == "online"
    assert health_state(seen, limit, limit) == "offline"
    assert fault_rate(0, 0, 0) is None
    assert fault_rate(8, 1, 1) == 0.25
