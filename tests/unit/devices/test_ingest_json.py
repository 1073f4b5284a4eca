"""The ingester writes readings and latest values as JSON text by hand (faster than the
encoder for small objects): every accepted number must read back as the same float, and every
device id as the same string."""

from __future__ import annotations

import json

import pytest

from cityops.devices.ingest import (
    _Batch,
    _document,
    _documents,
    _latest_json,
    _newest_json,
    _rows,
    _sample_json,
)

NUMBERS = [0.1 + 0.2, 1e-7, 1e300, -0.0, 5e-324, 123456789.125, 0.0, -1.5, 1e16, 2.5e-5]


@pytest.mark.parametrize("value", NUMBERS)
def test_rows_written_by_hand_read_back_as_the_same_numbers(value: float) -> None:
    values = {"pm25": value, "no2_1h": 2.0}
    written = json.loads(_sample_json(0, values))
    assert written == values
    assert all(type(v) is float for v in written.values())
    assert json.loads(_latest_json(1_771_000_000_123, values)) == {
        "pm25": [1_771_000_000_123, value],
        "no2_1h": [1_771_000_000_123, 2.0],
    }
    newest = {"pm25": (5, value), "no2_1h": (-6, 2.0)}
    assert json.loads(_newest_json(0, newest)) == {"pm25": [5, value], "no2_1h": [-6, 2.0]}
    # Strict JSON: no NaN or Infinity tokens slip through.
    json.loads(_sample_json(0, values), parse_constant=pytest.fail)


@pytest.mark.parametrize(
    "device_id", ["aq-00017", "TC_9-x", 'odd"id', "back\\slash", "新设备", "tab\tid", ""]
)
def test_documents_written_by_hand_read_back_as_the_same_rows(device_id: str) -> None:
    values = {"pm25": 0.1 + 0.2, "no2_1h": 2.0}
    rows = [(device_id, 1_771_000_000_123, values), ("aq-2", -5, {"pm25": 1e300})]
    assert json.loads(_document(rows, _sample_json)) == [
        {"d": device_id, "t": 1_771_000_000_123, "v": values},
        {"d": "aq-2", "t": -5, "v": {"pm25": 1e300}},
    ]
    assert json.loads(_document(rows[:1], _latest_json)) == [
        {
            "d": device_id,
            "t": 1_771_000_000_123,
            "v": {"pm25": [1_771_000_000_123, 0.1 + 0.2], "no2_1h": [1_771_000_000_123, 2.0]},
        }
    ]
    assert json.loads(_document([], _sample_json)) == []


def test_both_documents_of_a_batch_in_one_pass_keep_device_order() -> None:
    batch = _Batch()
    batch.samples["b-one"] = [(20, {"pm25": 1.5, "pm10": 2.0})]
    # several samples whose newest values share a time: a latest row of its own
    batch.samples["a-many"] = [(10, {"pm25": 3.0}), (12, {"pm25": 4.0, "pm10": 0.1 + 0.2})]
    # newest values of different times: neither a latest row nor in the newest document
    batch.samples["c-mixed"] = [(30, {"pm25": 5.0}), (31, {"pm10": 6.0})]
    batch.samples["d-one"] = [(40, {"no2_1h": 1e-7})]
    batch.samples["e-many"] = [(50, {"pm25": 7.0}), (51, {"pm25": 8.0})]
    readings, latest, mixed = _rows(batch)
    # A device's one sample is the same row in both lists: written once for both documents.
    assert [row for row in latest if any(row is r for r in readings)] == [latest[1], latest[2]]
    samples, newest = _documents(readings, latest)
    assert json.loads(samples) == [
        {"d": "a-many", "t": 10, "v": {"pm25": 3.0}},
        {"d": "a-many", "t": 12, "v": {"pm25": 4.0, "pm10": 0.1 + 0.2}},
        {"d": "b-one", "t": 20, "v": {"pm25": 1.5, "pm10": 2.0}},
        {"d": "c-mixed", "t": 30, "v": {"pm25": 5.0}},
        {"d": "c-mixed", "t": 31, "v": {"pm10": 6.0}},
        {"d": "d-one", "t": 40, "v": {"no2_1h": 1e-7}},
        {"d": "e-many", "t": 50, "v": {"pm25": 7.0}},
        {"d": "e-many", "t": 51, "v": {"pm25": 8.0}},
    ]
    assert json.loads(newest) == [
        {"d": "a-many", "t": 12, "v": {"pm25": [12, 4.0], "pm10": [12, 0.1 + 0.2]}},
        {"d": "b-one", "t": 20, "v": {"pm25": [20, 1.5], "pm10": [20, 2.0]}},
        {"d": "d-one", "t": 40, "v": {"no2_1h": [40, 1e-7]}},
        {"d": "e-many", "t": 51, "v": {"pm25": [51, 8.0]}},
    ]
    assert json.loads(_document(mixed, _newest_json)) == [
        {"d": "c-mixed", "t": 31, "v": {"pm25": [30, 5.0], "pm10": [31, 6.0]}}
    ]
    assert _documents([], []) == ("[]", "[]")
