"""Telemetry in: device tokens, integration keys, the HTTP endpoints and the ingester the MQTT
worker calls. Good readings land, bad ones are counted per device and reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from cityops.core.runtime import Runtime
from cityops.devices import service
from cityops.devices.events import DeviceCameOnline, ReadingsStored
from cityops.devices.models import LatestValue, Reading
from cityops.devices.payload import to_ms
from cityops.devices.points import points
from cityops.org import service as org
from cityops.org.schemas import ApiKeyIn
from factories.api import Api, error, fields
from factories.devices import make_device, payload, send
from factories.org import make_user

ActorFn = Callable[[str], Any]


def token_for(api: Api, device_id: str) -> str:
    response = api.client.post(f"/api/v1/devices/{device_id}/token", headers=api.headers("admin"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["token"].startswith("cod_")
    assert body["prefix"] == body["token"][:8]
    return str(body["token"])


def post(api: Api, device_id: str, body: Any, headers: dict[str, str]) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post(
        f"/api/v1/devices/{device_id}/telemetry",
        content=data,
        headers={"Content-Type": "application/json", **headers},
    )


def readings(rt: Runtime, device_id: str) -> list[tuple[str, int, float]]:
    values = points(rt.db.dialect, Reading.device_id == device_id)
    with rt.db.read() as session:
        rows = session.execute(
            select(values.c.metric, values.c.ts, values.c.value).order_by(
                values.c.metric, values.c.ts
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def integration_key(rt: Runtime, actor: ActorFn, role: str = "integration") -> dict[str, str]:
    make_user(rt, actor, f"gw-{role}", role)
    created = org.create_api_key(
        rt, actor=actor("admin"), data=ApiKeyIn(name="gateway", username=f"gw-{role}")
    )
    return {"X-API-Key": created.key}


def test_a_device_posts_with_its_token_and_the_reading_lands(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    token = token_for(api, "aq-000001")
    now = to_ms(rt.clock.now())
    response = post(
        api,
        "aq-000001",
        {"ts": now - 1000, "values": {"pm25": 35, "battery": 90}},
        {"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert response.json()["rejected"] == 0
    # The other header works too.
    assert (
        post(api, "aq-000001", {"values": {"pm25": 36}}, {"X-Device-Token": token}).json()[
            "accepted"
        ]
        == 1
    )
    assert readings(rt, "aq-000001") == [
        ("battery", now - 1000, 90.0),
        ("pm25", now - 1000, 35.0),
        ("pm25", now, 36.0),
    ]
    device = api.get("operator", "/api/v1/devices/aq-000001").json()
    assert device["health"]["state"] == "online"
    assert device["token_prefix"] == token[:8]


def test_device_tokens_are_checked(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002")
    token = token_for(api, "aq-000001")
    other = token_for(api, "aq-000002")
    body = {"values": {"pm25": 1}}
    wrong = post(api, "aq-000001", body, {"Authorization": f"Bearer {other}"})
    assert error(wrong, 403)["code"] == "wrong_device"
    bogus = post(api, "aq-000001", body, {"X-Device-Token": "cod_nope"})
    assert error(bogus, 401)["code"] == "not_authenticated"
    assert error(post(api, "aq-000001", body, {}), 401)["code"] == "not_authenticated"
    # A new token replaces the old one; a revoked token stops working.
    newer = token_for(api, "aq-000001")
    assert post(api, "aq-000001", body, {"X-Device-Token": token}).status_code == 401
    assert post(api, "aq-000001", body, {"X-Device-Token": newer}).status_code == 200
    revoked = api.client.delete("/api/v1/devices/aq-000001/token", headers=api.headers("admin"))
    assert revoked.json()["token_prefix"] is None
    assert post(api, "aq-000001", body, {"X-Device-Token": newer}).status_code == 401
    assert readings(rt, "aq-000001") == [("pm25", to_ms(rt.clock.now()), 1.0)]
    actions = [a["action"] for a in api.audit("aq-000001")]
    assert actions.count("devices:token:issued") == 2
    assert actions.count("devices:token:revoked") == 1


@pytest.mark.parametrize("who", ["operator", "leader", "handler-huanbao"])
def test_only_admins_issue_and_revoke_tokens(
    rt: Runtime, actor: ActorFn, api: Api, who: str
) -> None:
    make_device(rt, actor, "aq-000001")
    url = "/api/v1/devices/aq-000001/token"
    assert error(api.client.post(url, headers=api.headers(who)), 403)["code"] == "permission_denied"
    assert api.client.delete(url, headers=api.headers(who)).status_code == 403
    assert (
        api.client.post("/api/v1/devices/nope-001/token", headers=api.headers("admin")).status_code
        == 404
    )


def test_an_integration_key_may_post_for_any_device(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "aq-000001")
    key = integration_key(rt, actor)
    assert post(api, "aq-000001", {"values": {"pm25": 5}}, key).status_code == 200
    unknown = post(api, "zz-000404", {"values": {"pm25": 5}}, key)
    assert error(unknown, 404)["code"] == "not_found"
    citizen_key = integration_key(rt, actor, role="citizen")
    refused = post(api, "aq-000001", {"values": {"pm25": 5}}, citizen_key)
    assert error(refused, 403)["code"] == "permission_denied"
    # A staff login is not an integration either.
    assert (
        post(api, "aq-000001", {"values": {"pm25": 5}}, api.headers("operator")).status_code == 403
    )


def test_mixed_payload_keeps_the_good_and_counts_the_bad(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    token = {"X-Device-Token": token_for(api, "aq-000001")}
    now = to_ms(rt.clock.now())
    body = [
        {"ts": now - 2000, "values": {"pm25": 10, "no2": 20, "colour": 1}},
        {"ts": now + 3_600_000, "values": {"pm25": 11}},
        {"ts": now - 1000, "values": {"pm25": "high", "o3": 50}},
    ]
    response = post(api, "aq-000001", body, token)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["accepted"], answer["rejected"]) == (3, 3)
    assert [(p["reason"], p["index"], p["metric"]) for p in answer["problems"]] == [
        ("unknown_metric", 0, "colour"),
        ("future_timestamp", 1, None),
        ("not_numeric", 2, "pm25"),
    ]
    assert readings(rt, "aq-000001") == [
        ("no2", now - 2000, 20.0),
        ("o3", now - 1000, 50.0),
        ("pm25", now - 2000, 10.0),
    ]
    all_bad = post(api, "aq-000001", b"{oops", token)
    assert fields(all_bad) == {"body": "malformed_json"}
    assert error(all_bad, 422)["details"]["rejected"] == 1
    assert fields(post(api, "aq-000001", {"values": {"pm25": -1}}, token)) == {
        "values.pm25": "out_of_range"
    }
    health = api.get("admin", "/api/v1/devices/aq-000001/health").json()
    counts = {r["reason"]: r["count"] for r in health["rejections"]}
    assert counts == {
        "unknown_metric": 1,
        "future_timestamp": 1,
        "not_numeric": 1,
        "malformed_json": 1,
        "out_of_range": 1,
    }
    assert health["rejected_total"] == 5


def test_an_oversized_body_is_413(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "aq-000001")
    token = {"X-Device-Token": token_for(api, "aq-000001")}
    big = b'{"values": {"pm25": 1}, "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert error(post(api, "aq-000001", big, token), 413)["code"] == "payload_too_large"


def test_the_batch_endpoint_takes_many_devices(rt: Runtime, actor: ActorFn, api: Api) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "wl-000001", "water_level")
    key = integration_key(rt, actor)
    now = to_ms(rt.clock.now())
    body = [
        {"device_id": "aq-000001", "ts": now - 1000, "values": {"pm25": 12, "pm10": 30}},
        {"device_id": "wl-000001", "ts": now - 1000, "values": {"water_level": 3.2}},
        {"device_id": "zz-404", "values": {"pm25": 1}},
        {"values": {"pm25": 1}},
        {"device_id": "wl-000001", "ts": now, "values": {"water_level": 3.3, "pm25": 1}},
    ]
    response = api.client.post("/api/v1/telemetry", json=body, headers=key)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["messages"], answer["accepted"], answer["unknown_devices"]) == (4, 4, 1)
    problems = {(p["device_id"], p["reason"], p["index"]) for p in answer["problems"]}
    assert problems == {
        (None, "bad_shape", 3),
        ("zz-404", "unknown_device", None),
        ("wl-000001", "unknown_metric", 4),
    }
    assert readings(rt, "wl-000001") == [
        ("water_level", now - 1000, 3.2),
        ("water_level", now, 3.3),
    ]
    operator = api.client.post("/api/v1/telemetry", json=body, headers=api.headers("operator"))
    assert error(operator, 403)["code"] == "permission_denied"
    device_token = {"X-Device-Token": token_for(api, "aq-000001")}
    assert api.client.post("/api/v1/telemetry", json=body, headers=device_token).status_code == 401
    bad = api.client.post("/api/v1/telemetry", json={"device_id": "aq-000001"}, headers=key)
    assert fields(bad) == {"body": "bad_shape"}


def test_ingest_batch_for_the_mqtt_worker(rt: Runtime, actor: ActorFn, events: Any) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "mh-000001", "manhole_cover")
    make_device(rt, actor, "mh-000002", "manhole_cover", status="retired")
    now = rt.clock.now()
    ms = to_ms(now)
    good = payload({"pm25": 40}, ms - 5000)
    messages = [
        ("aq-000001", good, now),
        ("aq-000001", good, now),  # a QoS 1 redelivery: stored once
        ("aq-000001", b"\x00garbage", now),
        ("mh-000001", payload({"tilt": 12.5, "displacement": 3}), now),
        ("zz-unknown", good, now),
        ("mh-000002", payload({"tilt": 1}), now),
        ("x" * 300, good, now),
    ]
    result = service.ingest_batch(rt, messages)
    assert (result.messages, result.accepted, result.rejected) == (7, 4, 4)
    assert result.unknown_devices == 2
    assert dict(result.by_reason) == {
        "malformed_json": 1,
        "unknown_device": 2,
        "device_retired": 1,
    }
    assert readings(rt, "aq-000001") == [("pm25", ms - 5000, 40.0)]
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 2  # samples
        assert session.scalar(select(func.count()).select_from(points(rt.db.dialect))) == 3
    stored = [e for e in events.events if isinstance(e, ReadingsStored)]
    assert len(stored) == 1
    by_device = {d.device_id: d for d in stored[0].devices}
    assert set(by_device) == {"aq-000001", "mh-000001"}
    assert by_device["mh-000001"].type_code == "manhole_cover"
    (sample,) = by_device["mh-000001"].samples
    assert sample.values == {"tilt": 12.5, "displacement": 3.0}
    came_online = {e.device_id for e in events.events if isinstance(e, DeviceCameOnline)}
    assert came_online == {"aq-000001", "mh-000001"}


def test_latest_values_follow_the_newest_reading_not_the_last_message(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    ms = to_ms(rt.clock.now())
    send(rt, "aq-000001", {"ts": ms - 1000, "values": {"pm25": 20}})
    send(rt, "aq-000001", {"ts": ms - 60_000, "values": {"pm25": 99, "pm10": 50}})  # late
    send(
        rt,
        "aq-000001",
        [{"ts": ms - 500, "values": {"pm25": 21}}, {"ts": ms - 700, "values": {"pm25": 22}}],
    )
    page = api.get("operator", "/api/v1/telemetry/latest", device_id="aq-000001").json()
    values = page["items"][0]["values"]
    assert values["pm25"]["value"] == 21.0
    assert values["pm10"]["value"] == 50.0


def test_one_batch_with_a_time_twice_keeps_the_first_reading_and_the_last_as_latest(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    make_device(rt, actor, "aq-000002")
    ms = to_ms(rt.clock.now()) - 2000
    exact = 0.1 + 0.2  # 0.30000000000000004: every digit must arrive
    key = integration_key(rt, actor)
    body = [
        {"device_id": "aq-000001", "ts": ms, "values": {"pm25": 11, "no2": exact}},
        {"device_id": "aq-000002", "ts": ms, "values": {"pm25": 5}},
        {"device_id": "aq-000001", "ts": ms, "values": {"pm25": 12}},  # the same time again
        {"device_id": "aq-000001", "ts": ms - 10, "values": {"pm25": 13}},
    ]
    response = api.client.post("/api/v1/telemetry", json=body, headers=key)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 5
    assert readings(rt, "aq-000001") == [
        ("no2", ms, exact),
        ("pm25", ms - 10, 13.0),
        ("pm25", ms, 11.0),
    ]
    page = api.get("operator", "/api/v1/telemetry/latest", device_id="aq-000001").json()
    values = page["items"][0]["values"]
    assert (values["pm25"]["value"], values["no2"]["value"]) == (12.0, exact)


def test_silence_then_a_message_brings_a_device_back_online(
    rt: Runtime, actor: ActorFn, api: Api, clock: Any
) -> None:
    make_device(rt, actor, "aq-000001")
    send(rt, "aq-000001", {"values": {"pm25": 1}})
    clock.advance(minutes=16)  # 3 intervals of 5 minutes, and a minute
    assert api.get("admin", "/api/v1/devices/aq-000001").json()["health"]["state"] == "offline"
    send(rt, "aq-000001", {"values": {"pm25": 2}})
    health = api.get("admin", "/api/v1/devices/aq-000001").json()["health"]
    assert health["state"] == "online"
    assert health["last_seen_at"] == rt.clock.now().isoformat().replace("+00:00", "Z")
    assert health["offline_after"] == (rt.clock.now() + timedelta(minutes=15)).isoformat().replace(
        "+00:00", "Z"
    )


def test_a_message_for_a_stored_time_adds_only_the_metrics_it_lacked(
    rt: Runtime, actor: ActorFn
) -> None:
    make_device(rt, actor, "aq-000001")
    ms = to_ms(rt.clock.now()) - 3000
    send(rt, "aq-000001", {"ts": ms, "values": {"pm25": 30}})
    send(rt, "aq-000001", {"ts": ms, "values": {"pm25": 31, "pm10": 40}})  # pm25 is kept
    send(rt, "aq-000001", {"ts": ms, "values": {"pm25": 32}})  # a redelivery changes nothing
    assert readings(rt, "aq-000001") == [("pm10", ms, 40.0), ("pm25", ms, 30.0)]
    with rt.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == 1  # one sample


def test_latest_values_of_different_times_in_one_batch_merge_metric_by_metric(
    rt: Runtime, actor: ActorFn, api: Api
) -> None:
    make_device(rt, actor, "aq-000001")
    ms = to_ms(rt.clock.now()) - 10_000
    send(rt, "aq-000001", {"ts": ms + 3, "values": {"pm25": 30}})
    # The batch's newest pm25 (ms) is older than the stored one, its newest pm10 (ms + 5) newer
    # than anything stored: only pm10 may change.
    send(
        rt,
        "aq-000001",
        [{"ts": ms, "values": {"pm25": 1, "pm10": 2}}, {"ts": ms + 5, "values": {"pm10": 3}}],
    )
    page = api.get("operator", "/api/v1/telemetry/latest", device_id="aq-000001").json()
    values = page["items"][0]["values"]
    assert (values["pm25"]["value"], values["pm10"]["value"]) == (30.0, 3.0)
    with rt.db.read() as session:
        row = session.get(LatestValue, "aq-000001")
        assert row is not None
        assert (row.ts, row.data) == (ms + 5, {"pm25": [ms + 3, 30.0], "pm10": [ms + 5, 3.0]})
    # A later sample of one time is merged whole over what is stored.
    send(rt, "aq-000001", {"ts": ms + 9, "values": {"pm25": 31}})
    with rt.db.read() as session:
        row = session.get(LatestValue, "aq-000001")
        assert row is not None
        assert (row.ts, row.data) == (ms + 9, {"pm25": [ms + 9, 31.0], "pm10": [ms + 5, 3.0]})
