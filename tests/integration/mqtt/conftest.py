"""Fixtures of the MQTT tests: the real broker that ``scripts/mqtt.sh start`` runs (a missing
broker fails these tests, it does not skip them), its admin, and a private topic prefix per test
so that tests, and runs from several checkouts on one broker, never see each other's messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from cityops.core.mqtt.provision import BrokerAdmin, DeviceCredentials
from cityops.core.mqtt.worker import WorkerOptions
from factories.mqtt import Broker, Publisher, Running, running_broker, unique

INGEST_PASSWORD = "ingest-password-for-tests"


@pytest.fixture(scope="session")
def broker() -> Broker:
    try:
        return running_broker()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def prefix() -> str:
    return f"{unique('t')}/cityops"


@pytest.fixture
def admin(broker: Broker, prefix: str) -> Iterator[BrokerAdmin]:
    with BrokerAdmin(
        broker.address,
        username=broker.admin_username,
        password=broker.admin_password,
        topic_prefix=prefix,
    ) as connection:
        yield connection


@pytest.fixture
def device(admin: BrokerAdmin) -> Iterator[Callable[[], DeviceCredentials]]:
    """``device()`` provisions a new device; all are removed from the broker afterwards."""
    made: list[str] = []

    def make() -> DeviceCredentials:
        made.append(unique("dev-"))
        return admin.provision_device(made[-1])

    yield make
    for device_id in made:
        admin.delete_device(device_id)


@pytest.fixture
def ingest_account(admin: BrokerAdmin, prefix: str) -> Iterator[tuple[str, str, str]]:
    """(username, password, share group) of an ingest client for this test's prefix."""
    username, group, role = unique("ingest-"), unique("group-"), unique("role-")
    admin.ensure_ingest_client(username, INGEST_PASSWORD, share_group=group, role=role)
    yield username, INGEST_PASSWORD, group
    admin.remove_ingest_client(username, role=role)


@pytest.fixture
def options(broker: Broker, prefix: str, ingest_account: tuple[str, str, str]) -> WorkerOptions:
    username, password, group = ingest_account
    return WorkerOptions(
        address=broker.address,
        username=username,
        password=password,
        client_id=unique("worker-"),
        topic_prefix=prefix,
        share_group=group,
        receive_maximum=100,
        batch_size=50,
        batch_seconds=0.02,
        retry_min_seconds=0.1,
        session_expiry_seconds=60,
    )


@pytest.fixture
def workers(ingest_account: tuple[str, str, str]) -> Iterator[Running]:
    """Started workers, stopped before their account is removed."""
    running = Running()
    yield running
    for worker, _ in running.workers:
        running.stop(worker)


@pytest.fixture
def connect_as(broker: Broker) -> Iterator[Callable[[str, str], Publisher]]:
    """``connect_as(username, password)``: a client, connected or refused; closed afterwards."""
    made: list[Publisher] = []

    def connect(username: str, password: str) -> Publisher:
        made.append(Publisher(broker, username, password))
        return made[-1]

    yield connect
    for client in made:
        client.close()


@pytest.fixture
def publisher(
    connect_as: Callable[[str, str], Publisher],
) -> Callable[[DeviceCredentials], Publisher]:
    """``publisher(credentials)``: a device's connected client."""

    def connect(creds: DeviceCredentials) -> Publisher:
        client = connect_as(creds.username, creds.password)
        assert client.connected, client.connack
        return client

    return connect
