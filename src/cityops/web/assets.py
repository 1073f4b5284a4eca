"""The built front end's files under ``/assets/app``: precompressed when the browser accepts it,
cached for a year when the name carries the build's content hash.

The build (``frontend/vite.config.ts``) writes a ``.br`` and a ``.gz`` next to each text file
over about 1 KB. A request whose ``Accept-Encoding`` allows one of them gets that file with
``Content-Encoding``; every other request gets the plain file. Either way the answer has the
original's ``Content-Type`` and ``Vary: Accept-Encoding``, and its own ``ETag`` (the two
encodings are different bytes), so ``If-None-Match`` answers 304 per encoding.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

# Preferred first when the browser weighs both the same: brotli files are the smaller.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
COMPRESSED_SUFFIXES = tuple(suffix for _, suffix in ENCODINGS)
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".svg", ".json", ".webmanifest"})
# Vite names what it emits under assets/ "<name>-<8 characters of content hash>.<ext>".
HASHED = re.compile(r"^assets/[^/]+-[A-Za-z0-9_-]{8}\.[A-Za-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
# The page and the service worker must be asked for again each time: they name the others.
NO_CACHE_FILES = frozenset({"index.html", "sw.js"})
SHORT = "public, max-age=300"


def accepted_encodings(header: str) -> list[str]:
    """The encodings of ``ENCODINGS`` an ``Accept-Encoding`` value allows, best first."""
    weights: dict[str, float] = {}
    for part in header.split(","):
        name, _, params = part.partition(";")
        name = name.strip().lower()
        if name:
            weights[name] = _quality(params)
    anything = weights.get("*", 0.0)
    ranked = sorted(
        ((weights.get(name, anything), name) for name, _ in ENCODINGS),
        key=lambda pair: -pair[0],
    )
    return [name for weight, name in ranked if weight > 0]


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def cache_control(path: str) -> str:
    """How long a browser may keep the file at ``path`` (relative to the build)."""
    if path in NO_CACHE_FILES:
        return "no-cache"
    if HASHED.match(path):
        return IMMUTABLE
    return SHORT


class BuiltAssets(StaticFiles):
    """``StaticFiles`` that picks a precompressed sibling and sets the cache headers."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        # The copies are another encoding of a file, not files of their own: asked for by name
        # they would go out with the original's type and no Content-Encoding.
        if path.endswith(COMPRESSED_SUFFIXES):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        path = self.get_path(scope).replace(os.sep, "/")
        request_headers = Headers(scope=scope)
        headers = {"Cache-Control": cache_control(path)}
        media_type = mimetypes.guess_type(os.fspath(full_path), strict=False)[0]
        if os.path.splitext(path)[1] in COMPRESSIBLE:
            headers["Vary"] = "Accept-Encoding"
            wanted = accepted_encodings(request_headers.get("accept-encoding", ""))
            full_path, stat_result = self._compressed(full_path, stat_result, wanted, headers)
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=media_type,
            headers=headers,
        )
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response

    @staticmethod
    def _compressed(
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        wanted: list[str],
        headers: dict[str, str],
    ) -> tuple[str | os.PathLike[str], os.stat_result]:
        # A stat of a file beside one just found in the build: cheap enough to make in the
        # event loop, and it keeps the choice next to the answer it shapes.
        suffixes = dict(ENCODINGS)
        for encoding in wanted:
            candidate = os.fspath(full_path) + suffixes[encoding]
            try:
                candidate_stat = os.stat(candidate)
            except OSError:
                continue
            if stat.S_ISREG(candidate_stat.st_mode):
                headers["Content-Encoding"] = encoding
                return candidate, candidate_stat
        return full_path, stat_result
