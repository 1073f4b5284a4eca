"""The command screen's device layer: GET /api/v1/overview/devices and /overview/device-counts.

Devices are registered and report through the devices service; the alarm is raised through
the perception path (stored readings → the alarm rules), as the running application does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cityops.app import connect_perception
from cityops.core.runtime import Runtime
from cityops.demo.geography import synthetic_city
from cityops.demo.places import CityMap
from cityops.demo.sensors import install_sensors
from cityops.web.overview_api import _accepts_gzip
from factories.alarms import water_rule
from factories.api import Api, error, fields
from factories.devices import OTHER_DISTRICT, make_device, send
from factories.org import bearer, make_user

ActorFn = Callable[[str], Any]
LAYER = "/api/v1/overview/devices"
COUNTS = "/api/v1/overview/device-counts"


def _city(rt: Runtime, actor: ActorFn) -> None:
    """One device of each status, one in the other district and one retired."""
    connect_perception(rt)
    water_rule(rt, actor, metric="water_level")
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002")
    make_device(rt, actor, "mh-000003", "manhole_cover", status="maintenance")
    make_device(rt, actor, "wl-000004", "water_level")
    make_device(rt, actor, "aq-000005", at=OTHER_DISTRICT)
    make_device(rt, actor, "aq-000006", status="retired")
    send(rt, "aq-000001", {"values": {"pm25": 12}})
    send(rt, "aq-000005", {"values": {"pm25": 40}})
    send(rt, "wl-000004", {"values": {"water_level": 0.58}})  # over the critical line


def _status(body: dict[str, Any]) -> dict[str, tuple[str, str, str | None]]:
    """Device id → (type code, status, severity)."""
    assert body["columns"] == ["id", "lon", "lat", "type", "status", "severity"]
    assert set(body["statuses"]) == {"online", "offline", "maintenance", "alarm"}
    types = [t["code"] for t in body["types"]]
    return {row[0]: (types[row[3]], row[4], row[5]) for row in body["devices"]}


def test_devices_come_with_their_status_and_an_open_alarm_wins(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    _city(rt, actor)
    body = api.get("operator", LAYER).json()
    assert _status(body) == {
        "aq-000001": ("air_quality", "online", None),
        "aq-000002": ("air_quality", "offline", None),  # never heard
        "mh-000003": ("manhole_cover", "maintenance", None),
        "wl-000004": ("water_level", "alarm", "critical"),  # online, but in alarm
        "aq-000005": ("air_quality", "online", None),
    }
    assert body["truncated"] is False
    [row] = [r for r in body["devices"] if r[0] == "aq-000005"]
    assert row[1:3] == list(OTHER_DISTRICT)
    names = {t["code"]: t["name_zh"] for t in body["types"]}
    assert names["water_level"] not in ("", "water_level")
    counts = api.get("operator", COUNTS).json()
    assert counts == {
        "total": 5,
        "online": 3,
        "offline": 1,
        "maintenance": 1,
        "active_alarms": 1,
        "alarm_devices": 1,
    }


def test_a_cleared_alarm_gives_the_device_back_its_health(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    _city(rt, actor)
    rt.clock.advance(minutes=1)  # type: ignore[attr-defined]
    send(rt, "wl-000004", {"values": {"water_level": 0.05}})  # the water has gone down
    assert _status(api.get("admin", LAYER).json())["wl-000004"] == ("water_level", "online", None)
    counts = api.get("admin", COUNTS).json()
    assert (counts["active_alarms"], counts["alarm_devices"]) == (0, 0)


def test_filters_and_the_limit(rt: Runtime, actor: ActorFn, api: Api) -> None:
    _city(rt, actor)
    assert set(_status(api.get("operator", LAYER, type="air_quality").json())) == {
        "aq-000001",
        "aq-000002",
        "aq-000005",
    }
    assert set(_status(api.get("operator", LAYER, district="990102").json())) == {"aq-000005"}
    assert set(_status(api.get("operator", LAYER, department="shuiwu").json())) == {"wl-000004"}
    body = api.get("operator", LAYER, limit=2).json()
    assert set(_status(body)) == {"aq-000001", "aq-000002"}
    assert body["truncated"] is True


def test_the_layer_and_counts_are_scoped_like_the_device_list(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    _city(rt, actor)
    make_user(rt, actor, "district-op", "operator", area="990102")
    api.logins["district-op"] = bearer(rt, "district-op")
    assert set(_status(api.get("district-op", LAYER).json())) == {"aq-000005"}
    counts = api.get("district-op", COUNTS).json()
    assert (counts["total"], counts["online"], counts["active_alarms"]) == (1, 1, 0)
    # A department's handler sees its own devices (the water bureau owns the gauges).
    assert _status(api.get("handler-shuiwu", LAYER).json()) == {
        "wl-000004": ("water_level", "alarm", "critical")
    }
    counts = api.get("handler-shuiwu", COUNTS).json()
    assert (counts["total"], counts["active_alarms"], counts["alarm_devices"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "teapot"}, "type"),
        ({"type": "x" * 33}, "type"),
        ({"district": "000000"}, "district"),
        ({"department": "nobody"}, "department"),
        ({"limit": 0}, "limit"),
        ({"limit": 50_001}, "limit"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_bad_parameters_name_the_field(api: Api, params: dict[str, Any], field: str) -> None:
    assert field in fields(api.get("operator", LAYER, **params))


@pytest.mark.parametrize("url", [LAYER, COUNTS])
@pytest.mark.parametrize("who", ["gridworker", "citizen", "integration"])
def test_roles_without_devices_read_are_refused(api: Api, url: str, who: str) -> None:
    assert error(api.get(who, url), 403)["code"] == "permission_denied"


@pytest.mark.parametrize("url", [LAYER, COUNTS])
def test_anonymous_is_refused(api: Api, url: str) -> None:
    assert error(api.get(None, url), 401)["code"] == "not_authenticated"


def _fleet(rt: Runtime, total: int) -> None:
    """``total`` devices of the demo's types over the test city, most reporting."""
    install_sensors(rt, CityMap(synthetic_city()), seed=5, now=rt.clock.now(), devices_total=total)


def test_a_large_layer_is_gzipped_for_clients_that_accept_it(rt: Runtime, api: Api) -> None:
    _fleet(rt, 300)
    headers = api.headers("operator")
    plain = api.client.get(LAYER, headers={**headers, "Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert "content-encoding" not in plain.headers
    assert plain.headers["content-type"] == "application/json"
    packed = api.client.get(LAYER, headers={**headers, "Accept-Encoding": "br, gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) < len(plain.content) / 3
    assert packed.json() == plain.json()  # the same layer, decoded by the client
    body = plain.json()
    assert len(body["devices"]) == 300
    assert all(len(row) == len(body["columns"]) for row in body["devices"])
    refused = api.client.get(LAYER, headers={**headers, "Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    assert refused.json() == body


def test_a_small_layer_goes_uncompressed(rt: Runtime, actor: ActorFn, api: Api) -> None:
    _city(rt, actor)
    answer = api.client.get(LAYER, headers={**api.headers("operator"), "Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert "content-encoding" not in answer.headers  # under GZIP_MIN_BYTES
    assert len(_status(answer.json())) == 5


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("gzip; q=0.0", False),
        ("gzip;q=nonsense", False),
        ("identity", False),
        ("", False),
        (None, False),
    ],
)
def test_which_accept_encodings_get_gzip(header: str | None, gzip: bool) -> None:
    assert _accepts_gzip(header) is gzip
