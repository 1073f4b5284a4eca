from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cityops.brain import modelfile
from cityops.brain.classifier import TextClassifier
from cityops.brain.modelfile import ModelFileError


def test_round_trip_keeps_answers_and_header(model: TextClassifier, tmp_path: Path) -> None:
    created = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    data = modelfile.dumps(model, created=created)
    head = modelfile.header(data)
    assert head["format"] == modelfile.FORMAT_VERSION
    assert head["labels"] == list(model.labels)
    assert head["training_size"] == model.info["training_size"]
    assert head["created"] == "2026-03-02T02:00:00+00:00"
    assert {"python", "scikit-learn", "numpy", "scipy", "jieba"} <= set(head["libraries"])
    again = modelfile.loads(data)
    message = ("井盖破损", "人行道上的污水井盖破了一个大洞")
    assert again.suggest(*message) == model.suggest(*message)
    path = tmp_path / "model.cityops"
    assert modelfile.save(model, path) == path.stat().st_size
    assert modelfile.load(path).labels == model.labels


def test_tampered_payload_is_refused(model: TextClassifier) -> None:
    data = bytearray(modelfile.dumps(model))
    data[-10] ^= 0xFF
    with pytest.raises(ModelFileError, match="checksum"):
        modelfile.loads(bytes(data))
    with pytest.raises(ModelFileError, match="checksum"):
        modelfile.loads(bytes(data[:-1000]))


def test_other_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not a cityops model"):
        modelfile.loads(b"PK\x03\x04 an Excel file")
    with pytest.raises(ModelFileError, match="header"):
        modelfile.loads(modelfile.MAGIC + b"{not json\n" + b"x")
    with pytest.raises(ModelFileError, match="cannot read model file"):
        modelfile.load(tmp_path / "missing.cityops")


def _rewrite_header(data: bytes, **changes: object) -> bytes:
    head = modelfile.header(data)
    payload = data.split(b"\n", 2)[2]
    head.update(changes)
    return modelfile.MAGIC + json.dumps(head).encode() + b"\n" + payload


def test_incompatible_versions_are_refused(model: TextClassifier) -> None:
    data = modelfile.dumps(model)
    with pytest.raises(ModelFileError, match="format 99 is not supported"):
        modelfile.loads(_rewrite_header(data, format=99))
    libraries = dict(modelfile.header(data)["libraries"], **{"scikit-learn": "0.24.2"})
    with pytest.raises(ModelFileError, match=r"scikit-learn 0\.24\.2"):
        modelfile.loads(_rewrite_header(data, libraries=libraries))
