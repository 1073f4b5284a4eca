"""The demo's sensors at any size (cityops.demo.sensors): the fleet's mix of types kept, the
devices registered through the inventory import into the seeded test city's grids, their
first readings through the ingester, and the command screen's device endpoints on them."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from shapely.geometry import Point, shape
from sqlalchemy import func, select

from cityops.core.errors import ValidationFailed
from cityops.core.runtime import Runtime
from cityops.demo.city import build_demo_city
from cityops.demo.geography import synthetic_city
from cityops.demo.places import CityMap
from cityops.demo.sensors import FLEET, MAX_DEVICES, fleet, install_sensors
from cityops.devices.models import Device, LatestValue
from cityops.org.models import Area
from factories.api import Api
from factories.demo import blank_runtime, cheap_hashing

TYPE_OF_PREFIX = {prefix: code for code, (_, prefix) in FLEET.items()}


def test_the_fleet_keeps_its_mix_at_any_size() -> None:
    base = {code: count for code, (count, _) in FLEET.items()}
    assert fleet() == base
    assert fleet(sum(base.values())) == base
    size = sum(base.values())
    for total in (0, 1, 7, 8, 1_000, 10_000, 12_345):
        counts = fleet(total)
        assert sum(counts.values()) == total
        for code, count in counts.items():
            assert abs(count - base[code] * total / size) < 1  # within one of its share
    assert min(fleet(1_000).values()) > 0
    with pytest.raises(ValueError, match="zero or more"):
        fleet(-1)


def test_a_large_fleet_goes_in_through_the_import_and_the_ingester(rt: Runtime, api: Api) -> None:
    total = 720
    stats = install_sensors(
        rt, CityMap(synthetic_city()), seed=11, now=rt.clock.now(), devices_total=total
    )
    assert stats.devices == total
    with rt.db.read() as session:
        rows = session.execute(
            select(Device.id, Device.type_code, Device.lon, Device.lat, Device.status)
        ).all()
        grids = [
            shape(g) for g in session.scalars(select(Area.geometry).where(Area.level == "grid"))
        ]
        with_values = session.scalar(select(func.count(func.distinct(LatestValue.device_id))))
    assert len(rows) == total
    assert Counter(type_code for _, type_code, *_ in rows) == Counter(fleet(total))
    assert all(TYPE_OF_PREFIX[device_id.split("-")[0]] == t for device_id, t, *_ in rows)
    assert all(any(g.covers(Point(lon, lat)) for g in grids) for _, _, lon, lat, _ in rows)
    maintenance = sum(status == "maintenance" for *_, status in rows)
    assert stats.reporting + stats.silent + maintenance == total
    assert stats.reporting > 0.8 * total  # most heard from a moment ago
    assert 0 < stats.silent < 0.2 * total  # some silent since yesterday
    assert with_values == stats.reporting + stats.silent  # each one sent its latest values

    # The command screen's tiles and layer count them the same way.
    counts = api.get("operator", "/api/v1/overview/device-counts").json()
    assert counts["total"] == total
    assert counts["online"] == stats.reporting
    assert counts["offline"] == stats.silent
    assert counts["maintenance"] == maintenance
    layer = api.get("operator", "/api/v1/overview/devices").json()
    assert len(layer["devices"]) == total
    assert layer["truncated"] is False
    statuses = Counter(row[layer["columns"].index("status")] for row in layer["devices"])
    assert statuses == {"online": stats.reporting, "offline": stats.silent} | (
        {"maintenance": maintenance} if maintenance else {}
    )


@pytest.mark.parametrize("devices", [-1, MAX_DEVICES + 1])
def test_the_demo_city_refuses_a_fleet_out_of_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, devices: int
) -> None:
    cheap_hashing(monkeypatch)
    with blank_runtime(tmp_path, demo_password="demo-pass-123") as runtime:
        with pytest.raises(ValidationFailed) as refused:
            build_demo_city(runtime, days=1, cases=10, devices=devices)
        assert [f.field for f in refused.value.fields] == ["devices"]
