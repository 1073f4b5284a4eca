"""The simulated sensors' daily patterns and incidents (pure: no broker, no database)."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cityops.demo.patterns import DeviceModel, Incident, parse_incident
from cityops.demo.simulate import SimDevice, Simulation

LOCAL = ZoneInfo("Asia/Shanghai")
DAY = datetime(2026, 3, 2, tzinfo=LOCAL)


def _mean(model: DeviceModel, metric: str, hour: int, incidents: list[Incident] = []) -> float:  # noqa: B006
    return statistics.mean(
        model.read(DAY + timedelta(hours=hour, minutes=m), 0, incidents)[metric]
        for m in range(0, 60, 2)
    )


def test_traffic_peaks_at_the_rush_hours() -> None:
    counter = DeviceModel("tc-1", "traffic_counter", ["vehicle_count", "avg_speed", "occupancy"])
    night, morning, noon, evening = (_mean(counter, "vehicle_count", h) for h in (3, 8, 13, 18))
    assert morning > noon > night
    assert evening > noon
    assert _mean(counter, "avg_speed", 8) < _mean(counter, "avg_speed", 3)


def test_pm25_is_higher_at_night_than_in_the_afternoon() -> None:
    station = DeviceModel("aq-1", "air_quality", ["pm25", "temperature"])
    assert _mean(station, "pm25", 2) > _mean(station, "pm25", 15)
    assert _mean(station, "temperature", 15) > _mean(station, "temperature", 4)


def test_readings_are_noisy_and_differ_between_devices() -> None:
    one = DeviceModel("nm-1", "noise_meter", ["laeq"])
    values = {one.read(DAY + timedelta(minutes=m), 0)["laeq"] for m in range(10)}
    assert len(values) > 5
    other = DeviceModel("nm-2", "noise_meter", ["laeq"])
    assert _mean(one, "laeq", 10) != _mean(other, "laeq", 10)


def test_flooding_raises_the_water_with_the_rain() -> None:
    flood = Incident("flooding", start=60, share=1.0)
    gauge = DeviceModel("wl-1", "water_level", ["water_level", "rainfall"])
    dry = gauge.read(DAY, 30, [flood])
    early = gauge.read(DAY, 61, [flood])
    late = gauge.read(DAY, 600, [flood])
    assert dry["water_level"] <= 4.5
    assert dry["rainfall"] < 10
    assert late["water_level"] > early["water_level"] > dry["water_level"]
    assert late["rainfall"] > 40


def test_a_gas_leak_drops_the_pressure_and_raises_the_concentration() -> None:
    leak = Incident("gas_leak", share=1.0)
    sensor = DeviceModel("gp-1", "gas_pressure", ["pressure", "gas_concentration"])
    before = DeviceModel("gp-1", "gas_pressure", ["pressure", "gas_concentration"]).read(DAY, 0)
    after = sensor.read(DAY, 300, [leak])
    assert after["pressure"] < before["pressure"] / 2
    assert after["gas_concentration"] > 20


def test_incidents_strike_only_their_device_type() -> None:
    leak = Incident("gas_leak", share=1.0)
    assert leak.strikes("gp-1", "gas_pressure")
    assert not leak.strikes("wl-1", "water_level")
    assert Incident("silent", share=1.0).strikes("wl-1", "water_level")


def test_an_incident_strikes_about_its_share_of_devices() -> None:
    incident = Incident("silent", share=0.2)
    struck = sum(incident.strikes(f"d-{n}", "noise_meter") for n in range(2000))
    assert 300 < struck < 500


def test_a_stuck_sensor_repeats_its_last_good_reading() -> None:
    stuck = Incident("stuck", start=100, share=1.0)
    meter = DeviceModel("nm-3", "noise_meter", ["laeq", "lmax"])
    last_good = meter.read(DAY, 90, [stuck])
    repeats = [meter.read(DAY + timedelta(minutes=m), 100 + m, [stuck]) for m in range(5)]
    assert all(r == last_good for r in repeats)


def test_silent_devices_skip_their_turns() -> None:
    fleet = [SimDevice(f"nm-{n}", "noise_meter", ("laeq",), 10.0) for n in range(200)]
    silence = Incident("silent", start=30, share=0.5)
    simulation = Simulation(fleet, [silence])
    start = datetime(2026, 3, 2, 2, tzinfo=UTC)
    first = simulation.step(10, start)
    assert len(first) == 200  # everyone once in the first interval
    assert len(simulation.step(20, start)) == 200
    simulation.step(30, start)
    later = simulation.step(40, start)
    assert 60 < len(later) < 140
    assert all(not silence.strikes(device_id, "noise_meter") for device_id, _ in later)
    assert all(set(document) == {"ts", "values"} for _, document in later)


def test_incident_syntax() -> None:
    assert parse_incident("flooding@60:0.2") == Incident("flooding", start=60, share=0.2)
    assert parse_incident("stuck") == Incident("stuck", start=0, share=0.1)
    for bad in ("meteor", "silent:0", "silent:1.5", "gas_leak@-3", "stuck@soon"):
        with pytest.raises(ValueError, match="bad incident"):
            parse_incident(bad)
