"""The simulator's HTTP sink against a real loopback server: batches by size or age, and
samples held (not lost) while the server is not up yet."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from cityops.demo.simulate import HttpSink


class _Recorder(BaseHTTPRequestHandler):
    batches: list[list[dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.batches.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return _free_port()


def _serve(port: int) -> tuple[HTTPServer, threading.Thread]:
    server = HTTPServer(("127.0.0.1", port), _Recorder)
    server.batches = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def server(port: int) -> Iterator[HTTPServer]:
    running, thread = _serve(port)
    yield running
    running.shutdown()
    running.server_close()
    thread.join()


def _sample(n: int) -> dict[str, Any]:
    return {"ts": 1_700_000_000_000 + n, "values": {"level": float(n)}}


def test_a_full_batch_is_posted_with_the_api_key(server: HTTPServer, port: int) -> None:
    sink = HttpSink(f"http://127.0.0.1:{port}", "cok_key", batch=3, max_delay=3600)
    for n in range(7):
        sink.send("wl-1", _sample(n))
    batches = server.batches  # type: ignore[attr-defined]
    assert [len(b) for b in batches] == [3, 3]
    sink.close()
    assert [len(b) for b in batches] == [3, 3, 1]
    assert batches[0][0] == {"device_id": "wl-1", **_sample(0)}
    assert (sink.counts.sent, sink.counts.acked, sink.counts.refused) == (7, 7, 0)


def test_samples_older_than_the_delay_go_without_a_full_batch(
    server: HTTPServer, port: int
) -> None:
    sink = HttpSink(f"http://127.0.0.1:{port}", "cok_key", batch=500, max_delay=0)
    sink.send("wl-1", _sample(1))
    assert [len(b) for b in server.batches] == [1]  # type: ignore[attr-defined]


def test_samples_wait_for_a_server_that_is_not_up_yet(port: int) -> None:
    sink = HttpSink(f"http://127.0.0.1:{port}", "cok_key", batch=2, max_delay=3600)
    for n in range(5):
        sink.send("wl-1", _sample(n))
    assert (sink.counts.acked, sink.counts.refused) == (0, 0)
    running, thread = _serve(port)
    try:
        sink.close()
        received = [s["ts"] for b in running.batches for s in b]  # type: ignore[attr-defined]
        assert received == [_sample(n)["ts"] for n in range(5)]
        assert (sink.counts.acked, sink.counts.refused) == (5, 0)
    finally:
        running.shutdown()
        running.server_close()
        thread.join()
