"""The MQTT pieces without a broker: topics, device ids, broker URLs and the MQTT settings."""

from __future__ import annotations

import pytest

from cityops.core.config import ConfigError, load_settings
from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.topics import TopicParser, shared_filter, telemetry_topic, valid_device_id
from cityops.core.mqtt.worker import WorkerOptions


def test_the_parser_reads_the_device_id_of_a_telemetry_topic_only() -> None:
    parser = TopicParser("city/cityops")
    assert parser.device_id(telemetry_topic("city/cityops", "wl-0042")) == "wl-0042"
    for topic in (
        "city/cityops/devices/wl-0042/status",
        "city/cityops/devices//telemetry",
        "city/cityops/devices/a/b/telemetry",
        "cityops/devices/wl-0042/telemetry",
        "city/cityops/devices/bad id/telemetry",
        "",
    ):
        assert parser.device_id(topic) is None, topic


@pytest.mark.parametrize("device_id", ["a", "WL-0042", "gas_1.b", "9" * 64])
def test_valid_device_ids(device_id: str) -> None:
    assert valid_device_id(device_id)


@pytest.mark.parametrize("device_id", ["", "-a", ".a", "a/b", "a+", "a#", "a b", "é", "9" * 65])
def test_invalid_device_ids(device_id: str) -> None:
    assert not valid_device_id(device_id)


def test_the_shared_subscription_filter() -> None:
    assert shared_filter("ingest", "cityops") == "$share/ingest/cityops/devices/+/telemetry"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("mqtt://127.0.0.1:51883", BrokerAddress("127.0.0.1", 51883)),
        ("mqtt://broker.city", BrokerAddress("broker.city", 1883)),
        ("mqtts://broker.city", BrokerAddress("broker.city", 8883, tls=True)),
        ("mqtts://broker.city:9883/", BrokerAddress("broker.city", 9883, tls=True)),
    ],
)
def test_broker_urls(url: str, address: BrokerAddress) -> None:
    assert BrokerAddress.parse(url) == address
    assert BrokerAddress.parse(str(address)) == address


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("http://broker:1883", "mqtt:// or mqtts://"),
        ("mqtt://", "names no host"),
        ("mqtt://user:pw@broker", "must not carry credentials"),
        ("mqtt://broker:99999", "bad port"),
        ("mqtt://broker/path", "host:port only"),
    ],
)
def test_bad_broker_urls_are_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("CITYOPS_MQTT_URL", value)
    with pytest.raises(ConfigError, match=f"CITYOPS_MQTT_URL: .*{message}"):
        load_settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CITYOPS_MQTT_TOPIC_PREFIX", "city/+"),
        ("CITYOPS_MQTT_TOPIC_PREFIX", "/cityops"),
        ("CITYOPS_MQTT_TOPIC_PREFIX", "$SYS"),
        ("CITYOPS_MQTT_SHARE_GROUP", "a/b"),
        ("CITYOPS_MQTT_RECEIVE_MAXIMUM", "0"),
        ("CITYOPS_MQTT_BATCH_SIZE", "0"),
        ("CITYOPS_MQTT_BATCH_SECONDS", "0"),
        ("CITYOPS_MQTT_SESSION_EXPIRY_SECONDS", "0"),
    ],
)
def test_bad_mqtt_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_production_needs_broker_passwords_when_a_broker_is_set() -> None:
    production = {"profile": "production", "secret_key": "s" * 40}
    with pytest.raises(ConfigError, match="CITYOPS_MQTT_ADMIN_PASSWORD"):
        load_settings(**production, mqtt_url="mqtt://broker", mqtt_admin_password="a")
    assert load_settings(**production).mqtt_url == ""
    load_settings(
        **production, mqtt_url="mqtt://broker", mqtt_admin_password="a", mqtt_ingest_password="i"
    )


def test_worker_options_use_the_ingest_account_else_the_admin() -> None:
    settings = load_settings(mqtt_url="mqtt://broker:2883", mqtt_admin_password="adm")
    options = WorkerOptions.from_settings(settings, client_id="ingest-7")
    assert (options.username, options.password) == ("cityops-admin", "adm")
    assert (options.address, options.client_id) == (BrokerAddress("broker", 2883), "ingest-7")
    own = load_settings(mqtt_url="mqtt://broker", mqtt_ingest_password="ing")
    assert WorkerOptions.from_settings(own).username == "cityops-ingest"
    with pytest.raises(ValueError, match="CITYOPS_MQTT_URL is not set"):
        WorkerOptions.from_settings(load_settings())
