"""Per-device broker credentials: a device publishes only to its own telemetry topic, wrong or
revoked credentials cannot connect, and provisioning is idempotent."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.provision import BrokerAdmin, BrokerError, DeviceCredentials
from cityops.core.mqtt.worker import WorkerOptions
from factories.mqtt import Broker, Inbox, Publisher, Running, unique

NewDevice = Callable[[], DeviceCredentials]
Connect = Callable[[DeviceCredentials], Publisher]
ConnectAs = Callable[[str, str], Publisher]


def test_a_device_publishes_on_its_topic_and_the_worker_receives_it(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    inbox = Inbox()
    workers.start(options, inbox)
    creds = device()
    assert creds.telemetry_topic == f"{options.topic_prefix}/devices/{creds.username}/telemetry"
    sender = publisher(creds)
    assert sender.send(creds.telemetry_topic, b'{"values": {"level": 1.5}}') == ReasonCode(
        4, identifier=0
    )
    (message,) = inbox.wait_for(1)
    assert (message.device_id, message.payload, message.qos) == (
        creds.username,
        b'{"values": {"level": 1.5}}',
        1,
    )
    assert message.received_at.tzinfo is not None


def test_a_device_cannot_publish_on_another_devices_topic(
    device: NewDevice, publisher: Connect, workers: Running, options: WorkerOptions
) -> None:
    inbox = Inbox()
    worker = workers.start(options, inbox)
    mine, theirs = device(), device()
    sender = publisher(mine)
    refused = sender.send(theirs.telemetry_topic, b'{"values": {"level": 9}}')
    assert refused.getName() == "Not authorized"
    assert sender.send(f"{options.topic_prefix}/devices/{mine.username}/other", b"x").is_failure
    # Its own topic still works, and is the only message that arrives.
    assert not sender.send(mine.telemetry_topic, b"own").is_failure
    assert [m.payload for m in inbox.wait_for(1)] == [b"own"]
    assert worker.metrics.snapshot()["received"] == 1


def test_a_device_may_subscribe_only_to_its_own_command_topic(
    device: NewDevice, publisher: Connect
) -> None:
    mine, theirs = device(), device()
    sender = publisher(mine)
    granted: list[list[ReasonCode]] = []
    done = threading.Event()

    def on_subscribe(*args: Any) -> None:
        granted.append(args[3])
        done.set()

    sender.client.on_subscribe = on_subscribe
    sender.client.subscribe([(mine.command_topic, 1), (theirs.command_topic, 1), ("#", 1)])
    assert done.wait(5)
    assert [code.is_failure for code in granted[0]] == [False, True, True]


def test_wrong_unknown_and_revoked_credentials_cannot_connect(
    admin: BrokerAdmin, device: NewDevice, connect_as: ConnectAs
) -> None:
    creds = device()
    wrong = connect_as(creds.username, "not-the-password")
    assert not wrong.connected
    assert wrong.connack is not None
    assert wrong.connack.getName() in (
        "Bad user name or password",
        "Not authorized",
    )
    assert not connect_as(unique("nobody-"), "whatever").connected
    admin.set_device_enabled(creds.username, False)
    assert not connect_as(creds.username, creds.password).connected
    admin.set_device_enabled(creds.username, True)
    enabled = connect_as(creds.username, creds.password)
    assert enabled.connected
    enabled.close()
    assert admin.delete_device(creds.username) is True
    assert admin.delete_device(creds.username) is False
    assert not admin.device_exists(creds.username)
    assert not connect_as(creds.username, creds.password).connected


def test_provisioning_again_rotates_the_password_and_keeps_the_acl(
    admin: BrokerAdmin, publisher: Connect, connect_as: ConnectAs
) -> None:
    device_id = unique("dev-")
    try:
        first = admin.provision_device(device_id)
        second = admin.provision_device(device_id)
        assert first.password != second.password
        assert admin.device_exists(device_id)
        assert not connect_as(device_id, first.password).connected
        sender = publisher(second)
        assert not sender.send(second.telemetry_topic, b"{}").is_failure
        assert admin.provision_device(device_id, password="chosen-by-the-maker").password == (
            "chosen-by-the-maker"
        )
    finally:
        admin.delete_device(device_id)


def test_bulk_provisioning_creates_new_devices_and_resets_existing_ones(
    admin: BrokerAdmin, publisher: Connect
) -> None:
    existing = unique("dev-")
    fresh = [unique("dev-") for _ in range(25)]
    try:
        old = admin.provision_device(existing)
        made = admin.provision_devices([existing, *fresh], chunk=10)
        assert [c.username for c in made] == [existing, *fresh]
        assert made[0].password != old.password
        for creds in (made[0], made[7], made[-1]):
            sender = publisher(creds)
            assert not sender.send(creds.telemetry_topic, b"{}").is_failure
    finally:
        for device_id in [existing, *fresh]:
            admin.delete_device(device_id)


@pytest.mark.parametrize("device_id", ["", "a/b", "a+b", "#", "has space", "x" * 65, "-lead"])
def test_device_ids_that_cannot_be_a_username_and_a_topic_level_are_refused(
    admin: BrokerAdmin, device_id: str
) -> None:
    with pytest.raises(BrokerError, match="cannot be a broker username"):
        admin.provision_device(device_id)
    with pytest.raises(BrokerError, match="cannot be a broker username"):
        admin.provision_devices(["fine-id", device_id])


def test_broker_errors_are_named(broker: Broker, admin: BrokerAdmin) -> None:
    with pytest.raises(BrokerError, match="refused the admin"):
        BrokerAdmin(broker.address, username=broker.admin_username, password="wrong").connect()
    closed = BrokerAddress(host="127.0.0.1", port=1)
    with pytest.raises(
        BrokerError, match=r"cannot reach the MQTT broker at mqtt://127\.0\.0\.1:1\b"
    ):
        BrokerAdmin(closed, username="a", password="b").connect()
    with pytest.raises(BrokerError, match=r"refused addRoleACL: \w+") as refused:
        admin.check([{"command": "addRoleACL", "rolename": unique("none-"), "acltype": "x"}])
    assert refused.value.command == "addRoleACL"
