"""Reading telemetry back: raw series, per-step aggregates, latest values of many devices."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from statistics import mean
from typing import Any

import pytest

from cityops.core.runtime import Runtime
from cityops.devices.payload import from_ms, to_ms
from factories.api import Api, error, fields
from factories.devices import OTHER_DISTRICT, make_device, send

ActorFn = Callable[[str], Any]
MINUTE = 60_000


def iso(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")


def _history(rt: Runtime, actor: ActorFn) -> tuple[int, list[tuple[int, float]]]:
    """Two hours of pm25 every 37 seconds (random values), and a few no2 values."""
    make_device(rt, actor, "aq-000001")
    end = to_ms(rt.clock.now())
    rng = random.Random(7)
    points = [(end - 7_200_000 + i * 37_000, round(rng.uniform(5, 300), 2)) for i in range(190)]
    samples = [{"ts": ts, "values": {"pm25": v}} for ts, v in points]
    samples += [{"ts": end - 10 * MINUTE, "values": {"no2": 40}}]
    for start in range(0, len(samples), 50):
        result = send(rt, "aq-000001", samples[start : start + 50])
        assert result.rejected == 0
    return end, points


def test_raw_series_in_range_oldest_first(rt: Runtime, actor: ActorFn, api: Api) -> None:
    end, points = _history(rt, actor)
    since, until = end - 30 * MINUTE, end - 10 * MINUTE
    response = api.get(
        "operator",
        "/api/v1/devices/aq-000001/telemetry",
        metric="pm25",
        since=iso(since),
        until=iso(until),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    series = body["series"]
    assert [s["metric"] for s in series] == ["pm25"]
    assert series[0]["unit"] == "µg/m³"
    expected = [(iso(ts), v) for ts, v in points if since <= ts < until]
    assert [(p["ts"], p["value"]) for p in series[0]["points"]] == expected
    assert series[0]["truncated"] is False
    assert body["step_seconds"] is None


def test_aggregates_per_step_match_the_readings(rt: Runtime, actor: ActorFn, api: Api) -> None:
    end, points = _history(rt, actor)
    since, until = end - 2 * 3_600_000, end
    body = api.get(
        "operator",
        "/api/v1/devices/aq-000001/telemetry",
        metric=["pm25", "no2"],
        since=iso(since),
        until=iso(until),
        step="15m",
    ).json()
    assert body["step_seconds"] == 900
    step = 15 * MINUTE
    groups: dict[int, list[float]] = {}
    for ts, value in points:
        if since <= ts < until:
            groups.setdefault(ts // step * step, []).append(value)
    pm25 = body["series"][0]
    assert pm25["metric"] == "pm25"
    got = [(b["ts"], b["count"], b["min"], b["max"], b["avg"]) for b in pm25["buckets"]]
    want = [(iso(k), len(v), min(v), max(v), mean(v)) for k, v in sorted(groups.items())]
    assert [g[:4] for g in got] == [w[:4] for w in want]
    for g, w in zip(got, want, strict=True):
        assert g[4] == pytest.approx(w[4])
    no2 = body["series"][1]
    assert [(b["count"], b["avg"]) for b in no2["buckets"]] == [(1, 40.0)]


def test_defaults_are_the_last_day_and_the_types_own_metrics(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    _history(rt, actor)
    body = api.get("operator", "/api/v1/devices/aq-000001/telemetry").json()
    metrics = [s["metric"] for s in body["series"]]
    assert metrics[:4] == ["pm25", "pm10", "no2", "o3"]
    assert "battery" not in metrics
    assert len(body["series"][0]["points"]) == 190
    assert body["until"] == rt.clock.now().isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("params", "field", "code"),
    [
        ({"metric": "tilt"}, "metric", "unknown_metric"),
        ({"step": "5 minutes"}, "step", "invalid"),
        ({"step": "1s"}, "step", "out_of_range"),
        ({"step": "40d"}, "step", "out_of_range"),
        ({"since": "2026-03-02T10:00:00"}, "since", "timezone_aware"),
        (
            {"since": "2026-03-02T02:00:00Z", "until": "2026-03-01T02:00:00Z"},
            "since",
            "out_of_range",
        ),
        (
            {"since": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
            "until",
            "out_of_range",
        ),
        (
            {"since": "2025-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z", "step": "1d"},
            "until",
            "out_of_range",
        ),
        (
            {"since": "2026-01-01T00:00:00Z", "until": "2026-03-01T00:00:00Z", "step": "10s"},
            "step",
            "too_many_buckets",
        ),
    ],
)
def test_bad_queries_name_the_field(
    rt: Runtime, actor: ActorFn, api: Api, params: dict[str, Any], field: str, code: str
) -> None:
    make_device(rt, actor, "aq-000001")
    response = api.get("operator", "/api/v1/devices/aq-000001/telemetry", **params)
    assert fields(response) == {field: code}


def test_reading_telemetry_needs_the_device_in_reach(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "mh-000001", "manhole_cover")
    url = "/api/v1/devices/mh-000001/telemetry"
    assert api.get("handler-shizheng-990101", url).status_code == 200
    assert error(api.get("handler-shizheng-990102", url), 403)["code"] == "out_of_jurisdiction"
    assert error(api.get("citizen", url), 403)["code"] == "permission_denied"
    assert api.get(None, url).status_code == 401
    assert api.get("operator", "/api/v1/devices/zz-000404/telemetry").status_code == 404


def test_latest_for_many_devices_by_id_or_filter(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002", at=OTHER_DISTRICT)
    make_device(rt, actor, "wl-000001", "water_level")
    ms = to_ms(rt.clock.now())
    send(rt, "aq-000001", {"ts": ms - 1000, "values": {"pm25": 30, "battery": 80}})
    send(rt, "wl-000001", {"ts": ms - 2000, "values": {"water_level": 2.5}})
    page = api.get(
        "operator",
        "/api/v1/telemetry/latest",
        device_id=["wl-000001", "aq-000001", "aq-000002", "zz-000404"],
    ).json()
    by_id = {item["device_id"]: item for item in page["items"]}
    assert list(by_id) == ["aq-000001", "aq-000002", "wl-000001"]
    assert by_id["aq-000001"]["values"] == {
        "pm25": {"value": 30.0, "ts": iso(ms - 1000)},
        "battery": {"value": 80.0, "ts": iso(ms - 1000)},
    }
    assert by_id["aq-000002"]["values"] == {}
    assert by_id["aq-000002"]["health"]["state"] == "never_seen"
    assert by_id["wl-000001"]["health"]["state"] == "online"
    filtered = api.get("operator", "/api/v1/telemetry/latest", type="air_quality", online=True)
    assert [i["device_id"] for i in filtered.json()["items"]] == ["aq-000001"]
    district = api.get("operator", "/api/v1/telemetry/latest", district="990102").json()
    assert [i["device_id"] for i in district["items"]] == ["aq-000002"]
    # A handler gets only their department's devices, whatever ids they ask for.
    mine = api.get(
        "handler-shuiwu", "/api/v1/telemetry/latest", device_id=["aq-000001", "wl-000001"]
    )
    assert [i["device_id"] for i in mine.json()["items"]] == ["wl-000001"]
    too_many = api.get(
        "operator", "/api/v1/telemetry/latest", device_id=[f"d-{i:05d}" for i in range(501)]
    )
    assert fields(too_many) == {"device_id": "too_many"}
    assert api.get("citizen", "/api/v1/telemetry/latest").status_code == 403


def test_the_offline_limit_uses_the_types_interval(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "sd-000001", "smoke_detector")  # hourly heartbeat
    send(rt, "sd-000001", {"values": {"alarm": 0}})
    body = api.get("operator", "/api/v1/devices/sd-000001").json()
    limit = rt.clock.now() + timedelta(hours=3)
    assert body["health"]["offline_after"] == limit.isoformat().replace("+00:00", "Z")
