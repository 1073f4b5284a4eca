"""One MQTT v5 connection, spoken directly on its socket (OASIS MQTT 5.0).

The ingest worker reads thousands of messages a second and needs only a small part of the
protocol: CONNECT, SUBSCRIBE, PUBLISH in at QoS 0/1, PUBACK, UNSUBSCRIBE, PINGREQ and
DISCONNECT. A general client (paho) reads every packet with several system calls and a
network thread, and writes every acknowledgement on its own; this session reads whatever the
socket holds in one call and parses every whole packet in it, and writes a batch's
acknowledgements in one call. No thread of its own: the caller reads, handles and
acknowledges in turn, so nothing needs a lock. It can also publish at QoS 1 in bulk (the
ingest benchmark's load generators).
"""

from __future__ import annotations

import socket
import ssl
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from cityops.core.mqtt.address import BrokerAddress

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 0x82, 0x90, 0xA2, 0xB0
PINGREQ, PINGRESP, DISCONNECT = 0xC0, 0xD0, 0xE0
# CONNECT / CONNACK properties used here (spec 3.1.2.11, 3.2.2.3).
SESSION_EXPIRY, RECEIVE_MAXIMUM, SERVER_KEEP_ALIVE = 0x11, 0x21, 0x13
# Property identifier -> size class, to step over properties one reads nothing from:
# 1/2/4 fixed bytes, "v" a variable byte integer, "s" a length-prefixed string or binary,
# "p" a string pair.
_PROPERTY_SIZES = {
    0x01: 1, 0x02: 4, 0x03: "s", 0x08: "s", 0x09: "s", 0x0B: "v", 0x11: 4, 0x12: "s",
    0x13: 2, 0x15: "s", 0x16: "s", 0x17: 1, 0x18: 4, 0x19: 1, 0x1A: "s", 0x1C: "s",
    0x1F: "s", 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1, 0x25: 1, 0x26: "p", 0x27: 4,
    0x28: 1, 0x29: 1, 0x2A: 1,
}  # fmt: skip
READ_SIZE = 256 * 1024


class MqttError(Exception):
    """The broker refused something, broke the protocol, or the connection ended."""

    def __init__(self, message: str, reason: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Publish:
    """An incoming PUBLISH: ``mid`` 0 at QoS 0; ``topic`` empty when not valid UTF-8."""

    topic: str
    payload: bytes
    qos: int
    mid: int
    dup: bool


def encode_length(value: int) -> bytes:
    """A variable byte integer (spec 1.5.5), as packet lengths are written."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | 0x80 if value else byte)
        if not value:
            return bytes(out)


def _string(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return struct.pack("!H", len(data)) + data


def _packet(header: int, body: bytes) -> bytes:
    return bytes([header]) + encode_length(len(body)) + body


def _read_length(buf: bytes | bytearray, pos: int, end: int) -> tuple[int, int] | None:
    """(value, next position), or None if the buffer ends first."""
    value, shift = 0, 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise MqttError("malformed variable byte integer")
    return None


def _properties(buf: bytes | bytearray, pos: int) -> tuple[dict[int, int], int]:
    """The numeric properties of a property block at ``pos``, and the position after it."""
    found = _read_length(buf, pos, len(buf))
    if found is None:
        raise MqttError("truncated properties")
    length, pos = found
    end, values = pos + length, {}
    while pos < end:
        ident = buf[pos]
        pos += 1
        size = _PROPERTY_SIZES.get(ident)
        if size is None:
            raise MqttError(f"unknown property 0x{ident:02x}")
        if isinstance(size, int):
            values[ident] = int.from_bytes(buf[pos : pos + size], "big")
            pos += size
        elif size == "v":
            number = _read_length(buf, pos, end)
            if number is None:
                raise MqttError("truncated property")
            values[ident], pos = number
        else:
            for _ in range(2 if size == "p" else 1):
                pos += 2 + int.from_bytes(buf[pos : pos + 2], "big")
    if pos != end:
        raise MqttError("malformed properties")
    return values, end


class MqttSession:
    """A connected MQTT v5 session: ``open`` it, ``subscribe``, then ``read`` and ``ack`` in
    turn from one thread (or ``publish`` and collect ``take_acks``); ``close`` (gracefully or
    not) when done."""

    def __init__(self, sock: socket.socket, keepalive: int) -> None:
        self._sock = sock
        self._buf = bytearray()
        self._keepalive = keepalive
        self._last_sent = time.monotonic()
        self._ping_sent: float | None = None
        self._next_id = 0
        # Packet id -> body of its SUBACK/UNSUBACK; PUBLISHes read while waiting for one.
        self._acks: dict[int, bytes] = {}
        self._pending: list[Publish] = []
        self._connack: bytes | None = None
        self._pubacks: list[tuple[int, int]] = []  # (packet id, reason) of our publishes
        self.session_present = False
        self.server_receive_maximum = 65535  # QoS 1 publishes the broker takes unacknowledged

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        address: BrokerAddress,
        *,
        client_id: str,
        username: str,
        password: str | None,
        keepalive: int,
        session_expiry: int,
        receive_maximum: int,
        clean_start: bool = False,
        timeout: float = 10.0,
    ) -> MqttSession:
        """Connect, by default without a clean start (the broker keeps the session and what
        was not acknowledged in it); raises OSError or MqttError (``reason`` = the CONNACK
        code)."""
        sock = socket.create_connection((address.host, address.port), timeout=timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if address.tls:
                context = ssl.create_default_context()
                sock = context.wrap_socket(sock, server_hostname=address.host)
            session = cls(sock, keepalive)
            session._connect(
                client_id,
                username,
                password,
                (keepalive, session_expiry, receive_maximum, clean_start),
                timeout,
            )
        except BaseException:
            sock.close()
            raise
        return session

    def _connect(
        self,
        client_id: str,
        username: str,
        password: str | None,
        limits: tuple[int, int, int, bool],
        timeout: float,
    ) -> None:
        keepalive, session_expiry, receive_maximum, clean_start = limits
        # A username (and a password), a clean start if asked.
        flags = 0x80 | (0x40 if password is not None else 0) | (0x02 if clean_start else 0)
        props = struct.pack(
            "!BIBH", SESSION_EXPIRY, session_expiry, RECEIVE_MAXIMUM, receive_maximum
        )
        body = (
            _string("MQTT")
            + bytes([5, flags])
            + struct.pack("!H", keepalive)
            + encode_length(len(props))
            + props
            + _string(client_id)
            + _string(username)
            + (_string(password.encode()) if password is not None else b"")
        )
        self._send(_packet(CONNECT, body))
        self._wait_for(lambda: self._connack is not None, timeout)
        packet = self._connack or b""
        if len(packet) < 2:
            raise MqttError("malformed CONNACK")
        self.session_present = bool(packet[0] & 0x01)
        if packet[1] >= 0x80:
            raise MqttError(f"connection refused (reason 0x{packet[1]:02x})", packet[1])
        if len(packet) > 2:
            values, _ = _properties(packet, 2)
            self._keepalive = values.get(SERVER_KEEP_ALIVE, self._keepalive)
            self.server_receive_maximum = values.get(RECEIVE_MAXIMUM, 65535)

    def _wait_for(self, answered: Callable[[], bool], timeout: float) -> None:
        """Read until ``answered()`` (an answer to our request came); PUBLISH packets that
        arrive meanwhile are kept for ``read``."""
        deadline = time.monotonic() + timeout
        while not answered():
            left = deadline - time.monotonic()
            if left <= 0:
                raise MqttError("the broker did not answer in time")
            self._fill(left)
            self._pending.extend(self._parse())

    # -- requests with an answer -----------------------------------------------------------

    def subscribe(self, topic_filter: str, qos: int = 1, timeout: float = 10.0) -> None:
        """SUBSCRIBE and wait for its SUBACK (PUBLISH packets arriving meanwhile are kept
        for ``read``); raises MqttError when the broker refuses."""
        codes = self._request(SUBSCRIBE, _string(topic_filter) + bytes([qos]), timeout)
        refused = [c for c in codes if c >= 0x80]
        if refused:
            raise MqttError(f"subscription refused (reason 0x{refused[0]:02x})", refused[0])

    def unsubscribe(self, topic_filter: str, timeout: float = 2.0) -> None:
        """UNSUBSCRIBE and wait for the UNSUBACK. The broker answers it only after the
        packets sent before it, so it also tells that every acknowledgement was read."""
        self._request(UNSUBSCRIBE, _string(topic_filter), timeout)

    def _request(self, header: int, payload: bytes, timeout: float) -> bytes:
        self._next_id = self._next_id % 0xFFFF + 1
        ident = self._next_id
        self._send(_packet(header, struct.pack("!H", ident) + b"\x00" + payload))
        self._wait_for(lambda: ident in self._acks, timeout)
        body = self._acks.pop(ident)
        _, pos = _properties(body, 2)
        return body[pos:]

    # -- the stream ------------------------------------------------------------------------

    def read(self, timeout: float) -> list[Publish]:
        """The PUBLISH packets that arrive within ``timeout`` (at most one socket read that
        waits; whole packets only). Raises MqttError when the connection has ended."""
        if self._pending:
            pending, self._pending = self._pending, []
            return pending
        self._keep_alive()
        self._fill(timeout)
        return self._parse()

    def ack(self, mids: list[int]) -> None:
        """PUBACK (success, no properties) for each packet id, in one write."""
        if mids:
            self._send(b"".join(b"\x40\x02" + mid.to_bytes(2, "big") for mid in mids))

    def publish(self, messages: list[tuple[str, bytes]]) -> list[int]:
        """PUBLISH each (topic, payload) at QoS 1, all in one write; their packet ids. Their
        PUBACKs come with later reads (``take_acks``); the caller keeps the number waiting
        within ``server_receive_maximum``."""
        packets, mids = [], []
        for topic, payload in messages:
            self._next_id = self._next_id % 0xFFFF + 1
            mid = self._next_id.to_bytes(2, "big")
            # QoS 1: the topic, the packet id, no properties, the payload.
            packets.append(_packet(PUBLISH | 0x02, _string(topic) + mid + b"\x00" + payload))
            mids.append(self._next_id)
        if packets:
            self._send(b"".join(packets))
        return mids

    def take_acks(self) -> list[tuple[int, int]]:
        """(packet id, reason code) of every PUBACK read since the last call; a reason of
        0x80 or more is a refusal (e.g. 0x87, not authorised)."""
        acks, self._pubacks = self._pubacks, []
        return acks

    def close(self, *, graceful: bool) -> None:
        """DISCONNECT (normal: the will, if any, is not published) and close the socket."""
        try:
            if graceful:
                self._send(b"\xe0\x00")
        except OSError:
            pass
        finally:
            self._sock.close()

    # -- the wire --------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        self._sock.settimeout(10.0)
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise MqttError(f"connection lost while sending: {exc}") from exc
        self._last_sent = time.monotonic()

    def _fill(self, timeout: float) -> None:
        """Add what the socket holds to the buffer, waiting up to ``timeout`` for it."""
        self._sock.settimeout(max(timeout, 0.0001))
        try:
            data = self._sock.recv(READ_SIZE)
        except (TimeoutError, ssl.SSLWantReadError):
            return
        except OSError as exc:
            raise MqttError(f"connection lost: {exc}") from exc
        if not data:
            raise MqttError("the broker closed the connection")
        self._buf += data
        self._ping_sent = None  # any packet from the broker shows the connection lives

    def _keep_alive(self) -> None:
        if not self._keepalive:
            return
        now = time.monotonic()
        if self._ping_sent is not None and now - self._ping_sent > self._keepalive:
            raise MqttError("the broker stopped answering (no PINGRESP)")
        if self._ping_sent is None and now - self._last_sent >= self._keepalive / 2:
            self._send(b"\xc0\x00")
            self._ping_sent = now

    def _parse(self) -> list[Publish]:
        """Every whole packet in the buffer: PUBLISH returned, the rest handled here."""
        buf, end, pos = self._buf, len(self._buf), 0
        out: list[Publish] = []
        while pos + 2 <= end:
            found = _read_length(buf, pos + 1, end)
            if found is None:
                break
            length, start = found
            stop = start + length
            if stop > end:
                break
            header = buf[pos]
            kind = header & 0xF0
            if kind == PUBLISH:
                out.append(self._publish(buf, header, start, stop))
            elif kind == PUBACK:
                ident = int.from_bytes(buf[start : start + 2], "big")
                self._pubacks.append((ident, buf[start + 2] if length > 2 else 0))
            elif kind == CONNACK:
                self._connack = bytes(buf[start:stop])
            elif kind in (SUBACK, UNSUBACK):
                ident = int.from_bytes(buf[start : start + 2], "big")
                self._acks[ident] = bytes(buf[start:stop])
            elif kind == DISCONNECT:
                reason = buf[start] if length else 0
                raise MqttError(f"the broker disconnected (reason 0x{reason:02x})", reason)
            elif kind != PINGRESP:
                raise MqttError(f"unexpected packet type 0x{header:02x}")
            pos = stop
        if pos:
            del buf[:pos]
        return out

    @staticmethod
    def _publish(buf: bytearray, header: int, start: int, stop: int) -> Publish:
        qos = (header >> 1) & 0x03
        topic_end = start + 2 + int.from_bytes(buf[start : start + 2], "big")
        try:
            topic = buf[start + 2 : topic_end].decode()
        except UnicodeDecodeError:
            topic = ""
        pos, mid = topic_end, 0
        if qos:
            mid = int.from_bytes(buf[pos : pos + 2], "big")
            pos += 2
        found = _read_length(buf, pos, stop)
        if found is None:
            raise MqttError("truncated PUBLISH")
        props_length, pos = found
        return Publish(topic, bytes(buf[pos + props_length : stop]), qos, mid, bool(header & 0x08))
