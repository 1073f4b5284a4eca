"""paho clients for the broker."""

from __future__ import annotations

import ssl
import time

from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from cityops.core.mqtt.address import BrokerAddress


def new_client(
    address: BrokerAddress,
    *,
    client_id: str,
    username: str,
    password: str | None,
    manual_ack: bool = False,
) -> Client:
    """An MQTT v5 paho client with credentials (and TLS for mqtts://), not yet connected."""
    client = Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        manual_ack=manual_ack,
    )
    client.username_pw_set(username, password)
    if address.tls:
        client.tls_set_context(ssl.create_default_context())
    return client


def shut_down(client: Client, timeout: float = 5.0) -> None:
    """Disconnect, stop the network thread and close every socket the client holds.

    paho keeps the wake-up socket pair that ``loop_start`` opens until the client object is
    finalised (and opens a new pair on the next ``loop_start``); close it now so that no socket
    outlives a connection.
    """
    client.disconnect()
    # Let the network thread send what is queued (acknowledgements, then DISCONNECT) first.
    deadline = time.monotonic() + timeout
    while client.socket() is not None and time.monotonic() < deadline:
        time.sleep(0.005)
    client.loop_stop()
    client._reset_sockets()
