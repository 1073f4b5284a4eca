"""The front end's files under /assets/app: the build's .br and .gz sent when the browser accepts
them (and only then), the original's type and length either way, 304s per encoding, a year's
cache for content-hashed names and none for the page and the service worker."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cityops.web.assets import IMMUTABLE, SHORT, accepted_encodings
from cityops.web.pages import install_pages

SCRIPT = "assets/index-Ab3_x-9Z.js"
SCRIPT_URL = f"/assets/app/{SCRIPT}"
SCRIPT_BODY = b"export const greeting = 'hello';\n" * 200
WORKER = "assets/maplibre-gl-worker-CZtFQQIV.mjs"
STYLE = "assets/index-Q1w2E3r4.css"
MANIFEST = "grid/manifest.webmanifest"


def _write(root: Path, relative: str, content: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A small build as vite.config.ts writes it: a gzip'd script, a script with no compressed
    siblings, a stylesheet, the page, the service worker, the grid manifest and an icon."""
    root = tmp_path / "app"
    _write(root, SCRIPT, SCRIPT_BODY)
    _write(root, SCRIPT + ".gz", gzip.compress(SCRIPT_BODY, compresslevel=9))
    _write(root, WORKER, b"self.onmessage = () => {};\n")
    _write(root, STYLE, b"body { margin: 0 }\n" * 100)
    _write(root, STYLE + ".gz", gzip.compress(b"body { margin: 0 }\n" * 100))
    _write(root, "index.html", b'<!doctype html><div id="app"></div>')
    _write(root, "sw.js", b"const VERSION = '0';\n")
    _write(root, MANIFEST, b'{"name": "cityops"}')
    _write(root, "grid/icon-192.png", b"\x89PNG\r\n\x1a\n")
    _write(tmp_path, "secret.txt", b"not for the web")
    return root


@pytest.fixture
def client(build: Path) -> Iterator[TestClient]:
    app = FastAPI()
    install_pages(app, build_dir=build)
    with TestClient(app) as client:
        yield client


def test_gzip_is_sent_when_accepted_and_decompresses_to_the_file(client: TestClient) -> None:
    response = client.get(SCRIPT_URL, headers={"Accept-Encoding": "gzip, deflate"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"].startswith("text/javascript")
    # httpx decodes the body; the length on the wire is the compressed file's.
    assert response.content == SCRIPT_BODY
    assert int(response.headers["content-length"]) < len(SCRIPT_BODY)


def test_the_raw_answer_is_the_gzip_file(client: TestClient, build: Path) -> None:
    with client.stream("GET", SCRIPT_URL, headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert raw == (build / (SCRIPT + ".gz")).read_bytes()
    assert int(response.headers["content-length"]) == len(raw)
    assert zlib.decompress(raw, wbits=31) == SCRIPT_BODY


def test_the_plain_file_without_accept_encoding(client: TestClient) -> None:
    response = client.get(SCRIPT_URL, headers={"Accept-Encoding": ""})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["vary"] == "Accept-Encoding"
    assert response.headers["content-type"].startswith("text/javascript")
    assert int(response.headers["content-length"]) == len(SCRIPT_BODY)
    assert response.content == SCRIPT_BODY


@pytest.mark.parametrize("header", ["gzip;q=0", "gzip; q=0.0, identity", "*;q=0", "br, deflate"])
def test_gzip_refused_by_the_browser_is_not_sent(client: TestClient, header: str) -> None:
    response = client.get(SCRIPT_URL, headers={"Accept-Encoding": header})
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(SCRIPT_BODY)


def test_a_file_without_a_compressed_sibling_is_sent_plain(client: TestClient) -> None:
    response = client.get(f"/assets/app/{WORKER}", headers={"Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.content == b"self.onmessage = () => {};\n"


def test_brotli_is_preferred_when_both_exist_and_both_are_accepted(
    client: TestClient, build: Path
) -> None:
    brotli_bytes = b"not really brotli, but the file the build wrote"
    _write(build, SCRIPT + ".br", brotli_bytes)
    with client.stream("GET", SCRIPT_URL, headers={"Accept-Encoding": "gzip, br"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "br"
    assert raw == brotli_bytes
    with client.stream(
        "GET", SCRIPT_URL, headers={"Accept-Encoding": "gzip, br;q=0.5"}
    ) as response:
        response.read()
    assert response.headers["content-encoding"] == "gzip"


def test_head_answers_the_headers_of_get_without_a_body(client: TestClient) -> None:
    for encoding in ("gzip", ""):
        get = client.get(SCRIPT_URL, headers={"Accept-Encoding": encoding})
        head = client.head(SCRIPT_URL, headers={"Accept-Encoding": encoding})
        assert head.status_code == 200
        assert head.content == b""
        for name in ("content-length", "content-type", "etag", "cache-control", "vary"):
            assert head.headers[name] == get.headers[name], name
        assert head.headers.get("content-encoding") == get.headers.get("content-encoding")


def test_if_none_match_answers_304_for_the_same_encoding_only(client: TestClient) -> None:
    gzipped = client.get(SCRIPT_URL, headers={"Accept-Encoding": "gzip"})
    plain = client.get(SCRIPT_URL, headers={"Accept-Encoding": ""})
    assert gzipped.headers["etag"] != plain.headers["etag"]
    again = client.get(
        SCRIPT_URL,
        headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped.headers["etag"]},
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == gzipped.headers["etag"]
    assert again.headers["cache-control"] == IMMUTABLE
    assert again.headers["vary"] == "Accept-Encoding"
    other = client.get(
        SCRIPT_URL, headers={"Accept-Encoding": "", "If-None-Match": gzipped.headers["etag"]}
    )
    assert other.status_code == 200
    assert other.content == SCRIPT_BODY


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (SCRIPT, IMMUTABLE),
        (WORKER, IMMUTABLE),
        (STYLE, IMMUTABLE),
        ("index.html", "no-cache"),
        ("sw.js", "no-cache"),
        (MANIFEST, SHORT),
        ("grid/icon-192.png", SHORT),
    ],
)
def test_cache_headers(client: TestClient, path: str, expected: str) -> None:
    response = client.get(f"/assets/app/{path}", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == expected


def test_the_manifest_keeps_its_type(client: TestClient) -> None:
    response = client.get(f"/assets/app/{MANIFEST}")
    assert response.headers["content-type"].startswith("application/manifest+json")
    assert response.json() == {"name": "cityops"}


@pytest.mark.parametrize("path", [f"/assets/app/{SCRIPT}.gz", f"/assets/app/{STYLE}.gz"])
def test_the_compressed_copies_are_not_served_by_their_own_names(
    client: TestClient, path: str
) -> None:
    assert client.get(path).status_code == 404
    assert client.head(path).status_code == 404


@pytest.mark.parametrize(
    "path", ["/assets/app/assets/index-missing0.js", "/assets/app/nothing.css", "/assets/app/"]
)
def test_an_unknown_file_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/assets/app/..%2Fsecret.txt",
        "/assets/app/assets/..%2F..%2Fsecret.txt",
        "/assets/app/%2E%2E/secret.txt",
    ],
)
def test_a_path_out_of_the_build_is_refused(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert b"not for the web" not in response.content


def test_only_get_and_head_are_answered(client: TestClient) -> None:
    response = client.post(SCRIPT_URL)
    assert response.status_code == 405


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", []),
        ("gzip", ["gzip"]),
        ("gzip, deflate, br, zstd", ["br", "gzip"]),
        ("br;q=0.2, gzip;q=0.8", ["gzip", "br"]),
        ("GZIP;Q=1", ["gzip"]),
        ("gzip;q=0, br;q=0", []),
        ("*", ["br", "gzip"]),
        ("*;q=0.5, br;q=0", ["gzip"]),
        ("gzip;q=nonsense", []),
        ("identity", []),
    ],
)
def test_accepted_encodings(header: str, expected: list[str]) -> None:
    assert accepted_encodings(header) == expected
