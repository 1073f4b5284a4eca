"""One file per trained model: a header a person (and an older release) can read, then the
payload, checked by its sha256 on load.

Layout: the magic line ``CITYOPS-MODEL\\n``, one line of JSON (the header), then the payload
(the pickled :class:`~cityops.brain.classifier.TextClassifier`). The header holds the format
version, the labels, the training size, the creation time, the library versions and the payload's
length and sha256. The same bytes are what the database stores.

The payload is a pickle: load only models this city trained (the checksum catches damage, not
a forged file).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from cityops.brain.classifier import TextClassifier
from cityops.core.i18n import text

MAGIC = b"CITYOPS-MODEL\n"
FORMAT_VERSION = 1
_LIBRARIES = ("scikit-learn", "numpy", "scipy", "jieba")


class ModelFileError(ValueError):
    """The bytes are not a cityops model, are damaged, or were made by an incompatible version."""


def dumps(model: TextClassifier, *, created: datetime | None = None) -> bytes:
    """The model as one file's bytes."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "format": FORMAT_VERSION,
        "labels": list(model.labels),
        "training_size": model.info.get("training_size"),
        "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "info": {k: v for k, v in model.info.items() if k != "options"},
        "payload_bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }
    line = json.dumps(header, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return MAGIC + line + b"\n" + payload


def header(data: bytes) -> dict[str, Any]:
    """The header of a model file (not checking the payload)."""
    return _split(data)[0]


def loads(data: bytes) -> TextClassifier:
    """The model in ``data``; :class:`ModelFileError` if it is not one this release can use."""
    head, payload = _split(data)
    if len(payload) != head.get("payload_bytes") or (
        hashlib.sha256(payload).hexdigest() != head.get("sha256")
    ):
        raise ModelFileError("the model file is damaged: its checksum does not match")
    ours = library_versions()
    if _major_minor(head.get("libraries", {}).get("scikit-learn")) != _major_minor(
        ours["scikit-learn"]
    ):
        raise ModelFileError(
            text(
                "the model was made with scikit-learn {made} and this installation has {ours}:"
                " train it again",
                made=head.get("libraries", {}).get("scikit-learn"),
                ours=ours["scikit-learn"],
            )
        )
    try:
        model = pickle.load(io.BytesIO(payload))  # noqa: S301 - checked, the city's own model
    except Exception as exc:  # any unpickling failure means an incompatible payload
        raise ModelFileError(
            text("the model cannot be read by this version: {error}", error=exc)
        ) from None
    if not isinstance(model, TextClassifier):
        raise ModelFileError("the file does not hold a cityops text classifier")
    return model


def save(model: TextClassifier, path: Path) -> int:
    """Write the model to ``path`` (atomically); the number of bytes written."""
    data = dumps(model)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    partial.replace(path)
    return len(data)


def load(path: Path) -> TextClassifier:
    """The model in the file at ``path``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    try:
        return loads(data)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def _split(data: bytes) -> tuple[dict[str, Any], bytes]:
    if not data.startswith(MAGIC):
        raise ModelFileError("not a cityops model file")
    end = data.find(b"\n", len(MAGIC))
    if end < 0:
        raise ModelFileError("the model file is damaged: its header is cut short")
    try:
        head = json.loads(data[len(MAGIC) : end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError("the model file is damaged: its header is not readable") from None
    if not isinstance(head, dict):
        raise ModelFileError("the model file is damaged: its header is not readable")
    if head.get("format") != FORMAT_VERSION:
        raise ModelFileError(
            text(
                "model file format {format} is not supported by this version"
                " (it reads format {supported})",
                format=head.get("format"),
                supported=FORMAT_VERSION,
            )
        )
    return head, data[end + 1 :]


def _major_minor(version: object) -> str:
    return ".".join(str(version).split(".")[:2])
