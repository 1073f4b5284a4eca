"""Content-addressed file storage for photos: checked for size and real image type."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from cityops.core.errors import PayloadTooLarge, invalid
from cityops.core.i18n import text

IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    content_type: str
    size: int
    width: int
    height: int


class FileStore(Protocol):
    """Where photo bytes live; the database keeps only their metadata."""

    def put(self, data: bytes, sha256: str) -> None: ...

    def open(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...


class LocalFileStore:
    """Files under ``root/ab/cd/<sha256>``, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes, sha256: str) -> None:
        path = self._path(sha256)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    def open(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()


def inspect_image(data: bytes, *, max_bytes: int, field: str = "file") -> StoredFile:
    """Check size and that the bytes really are a supported image; never trust the filename."""
    if len(data) > max_bytes:
        raise PayloadTooLarge(
            text(
                "{field}: {size} bytes exceeds the limit of {limit} bytes",
                field=field,
                size=len(data),
                limit=max_bytes,
            )
        )
    if not data:
        raise invalid(field, "file is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind, (width, height) = image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise invalid(
            field, "not an image (JPEG, PNG, WebP or GIF expected)", "not_image"
        ) from None
    if kind not in IMAGE_TYPES:
        raise invalid(field, text("image type {kind} is not accepted", kind=kind), "not_image")
    digest = hashlib.sha256(data).hexdigest()
    return StoredFile(digest, IMAGE_TYPES[kind], len(data), width, height)
