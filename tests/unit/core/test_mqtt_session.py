"""The ingest worker's MQTT v5 session, byte by byte: packets split over reads or packed into
one, malformed input, the broker ending the session, keep-alive. The peer is a plain socket
that writes the bytes a broker would; the behaviour against the real broker is tested in
tests/integration/mqtt/."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.session import MqttError, MqttSession, Publish, encode_length


def publish(
    topic: bytes,
    payload: bytes,
    *,
    qos: int = 1,
    mid: int = 1,
    dup: bool = False,
    props: bytes = b"",
) -> bytes:
    body = struct.pack("!H", len(topic)) + topic
    if qos:
        body += struct.pack("!H", mid)
    body += encode_length(len(props)) + props + payload
    header = 0x30 | (qos << 1) | (0x08 if dup else 0)
    return bytes([header]) + encode_length(len(body)) + body


@pytest.fixture
def pair() -> Iterator[tuple[MqttSession, socket.socket]]:
    ours, broker = socket.socketpair()
    session = MqttSession(ours, keepalive=0)
    yield session, broker
    session.close(graceful=False)
    broker.close()


def read_all(session: MqttSession, tries: int = 20, wait: float = 0.01) -> list[Publish]:
    out: list[Publish] = []
    for _ in range(tries):
        out += session.read(wait)
    return out


def test_a_publish_split_over_reads_comes_out_once_whole(
    pair: tuple[MqttSession, socket.socket],
) -> None:
    session, broker = pair
    raw = publish(b"p/devices/d-1/telemetry", b'{"t": 21.5}', mid=513, dup=True, props=b"\x01\x01")
    for cut in (1, 2, 5, len(raw) - 1):
        broker.sendall(raw[:cut])
        assert session.read(0.01) == []
        broker.sendall(raw[cut:])
        assert session.read(0.5) == [
            Publish("p/devices/d-1/telemetry", b'{"t": 21.5}', qos=1, mid=513, dup=True)
        ]


def test_every_packet_of_one_read_comes_out_and_pings_are_answered_silently(
    pair: tuple[MqttSession, socket.socket],
) -> None:
    session, broker = pair
    big = b"x" * 300  # a two-byte remaining length
    broker.sendall(
        publish(b"a", b"1", mid=1)
        + b"\xd0\x00"  # PINGRESP
        + publish(b"b", b"2", qos=0)
        + publish(b"c", big, mid=2)
    )
    got = read_all(session)
    assert [(p.topic, p.payload, p.qos, p.mid) for p in got] == [
        ("a", b"1", 1, 1),
        ("b", b"2", 0, 0),
        ("c", big, 1, 2),
    ]


def test_a_topic_that_is_not_utf8_is_given_as_empty(
    pair: tuple[MqttSession, socket.socket],
) -> None:
    session, broker = pair
    broker.sendall(publish(b"p/devices/\xff/telemetry", b"x"))
    assert [p.topic for p in read_all(session)] == [""]


def test_acknowledgements_go_out_in_one_write(
    pair: tuple[MqttSession, socket.socket],
) -> None:
    session, broker = pair
    session.ack([1, 258, 65535])
    session.ack([])
    broker.settimeout(1)
    assert broker.recv(100) == b"\x40\x02\x00\x01\x40\x02\x01\x02\x40\x02\xff\xff"


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"\xe0\x01\x8e", "reason 0x8e"),  # DISCONNECT: session taken over
        (b"\x30\xff\xff\xff\xff\x01", "malformed"),  # a remaining length of five bytes
        (b"\x50\x02\x00\x01", "unexpected packet type 0x50"),  # PUBREC: never at QoS 1
    ],
)
def test_the_broker_ending_or_breaking_the_session_is_an_error(
    pair: tuple[MqttSession, socket.socket], wire: bytes, message: str
) -> None:
    session, broker = pair
    broker.sendall(wire)
    with pytest.raises(MqttError, match=message):
        read_all(session)


def test_a_closed_connection_is_an_error(pair: tuple[MqttSession, socket.socket]) -> None:
    session, broker = pair
    broker.close()
    with pytest.raises(MqttError, match="closed"):
        read_all(session)


def test_a_silent_broker_gets_a_ping_and_then_counts_as_gone() -> None:
    ours, broker = socket.socketpair()
    session = MqttSession(ours, keepalive=1)
    try:
        broker.settimeout(2)
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:
            session.read(0.05)
        assert broker.recv(10) == b"\xc0\x00"  # PINGREQ after half the interval
        with pytest.raises(MqttError, match="PINGRESP"):
            read_all(session, tries=40, wait=0.05)
    finally:
        session.close(graceful=False)
        broker.close()


def test_an_answered_ping_keeps_the_session() -> None:
    ours, broker = socket.socketpair()
    session = MqttSession(ours, keepalive=1)
    try:
        broker.settimeout(2)
        for _ in range(3):  # three intervals, each ping answered
            deadline = time.monotonic() + 0.6
            while time.monotonic() < deadline:
                session.read(0.05)
            assert broker.recv(10) == b"\xc0\x00"
            broker.sendall(b"\xd0\x00")
            session.read(0.2)
    finally:
        session.close(graceful=False)
        broker.close()


def test_publishes_go_out_in_one_write_and_their_acks_are_collected(
    pair: tuple[MqttSession, socket.socket],
) -> None:
    session, broker = pair
    mids = session.publish([("a/b", b"12"), ("c", b"")])
    assert mids == [1, 2]
    broker.settimeout(1)
    assert broker.recv(100) == (
        b"\x32\x0a\x00\x03a/b\x00\x01\x0012"  # QoS 1, topic, packet id, no properties
        + b"\x32\x06\x00\x01c\x00\x02\x00"
    )
    # A success without a reason byte, a refusal (not authorised) with one and properties.
    broker.sendall(b"\x40\x02\x00\x01" + b"\x40\x04\x00\x02\x87\x00")
    read_all(session)
    assert session.take_acks() == [(1, 0x00), (2, 0x87)]
    assert session.take_acks() == []


def _scripted_broker(connack: bytes) -> tuple[socket.socket, list[bytes]]:
    """A listening socket that answers one CONNECT with ``connack``; what it read is put in
    the list."""
    server = socket.create_server(("127.0.0.1", 0))
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            got.append(conn.recv(1000))
            conn.sendall(connack)
            conn.recv(10)  # until the client closes

    threading.Thread(target=serve, daemon=True).start()
    return server, got


def _open(server: socket.socket, **options: Any) -> MqttSession:
    port = server.getsockname()[1]
    return MqttSession.open(
        BrokerAddress("127.0.0.1", port),
        client_id="c1",
        username="u",
        password="p",
        keepalive=30,
        session_expiry=3600,
        receive_maximum=500,
        **options,
    )


def test_connect_asks_for_a_kept_session_and_reads_the_brokers_limits() -> None:
    # CONNACK: session present, success, properties: receive maximum 20, server keep alive 5.
    server, got = _scripted_broker(b"\x20\x09\x01\x00\x06\x21\x00\x14\x13\x00\x05")
    with server:
        session = _open(server)
        session.close(graceful=True)
    assert session.session_present
    assert session.server_receive_maximum == 20
    connect = got[0]
    assert connect[:2] == b"\x10" + bytes([len(connect) - 2])
    assert connect[2:9] == b"\x00\x04MQTT\x05"
    assert connect[9] == 0xC0  # username and password, no clean start
    assert connect[10:12] == b"\x00\x1e"  # keep alive 30 s
    assert connect[12:21] == b"\x08\x11\x00\x00\x0e\x10\x21\x01\xf4"  # expiry 3600, receive 500
    assert connect[21:] == b"\x00\x02c1\x00\x01u\x00\x01p"


def test_a_clean_start_is_asked_for_when_wanted() -> None:
    server, got = _scripted_broker(b"\x20\x03\x00\x00\x00")
    with server:
        session = _open(server, clean_start=True)
        session.close(graceful=False)
    assert got[0][9] == 0xC2
    assert session.server_receive_maximum == 65535  # not announced: the protocol's default


def test_a_refused_connection_names_the_reason() -> None:
    server, _ = _scripted_broker(b"\x20\x03\x00\x86\x00")  # bad user name or password
    with server, pytest.raises(MqttError, match="0x86") as refused:
        _open(server)
    assert refused.value.reason == 0x86
