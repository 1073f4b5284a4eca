"""The ingester writes SQLite's readings and latest values as JSON text by hand (faster than
the encoder for small objects): every accepted number must read back as the same float."""

from __future__ import annotations

import json

import pytest

from cityops.devices.ingest import _latest_json, _newest_json, _sample_json

NUMBERS = [0.1 + 0.2, 1e-7, 1e300, -0.0, 5e-324, 123456789.125, 0.0, -1.5, 1e16, 2.5e-5]


@pytest.mark.parametrize("value", NUMBERS)
def test_rows_written_by_hand_read_back_as_the_same_numbers(value: float) -> None:
    values = {"pm25": value, "no2_1h": 2.0}
    written = json.loads(_sample_json(values))
    assert written == values
    assert all(type(v) is float for v in written.values())
    assert json.loads(_latest_json(1_771_000_000_123, values)) == {
        "pm25": [1_771_000_000_123, value],
        "no2_1h": [1_771_000_000_123, 2.0],
    }
    newest = {"pm25": (5, value), "no2_1h": (-6, 2.0)}
    assert json.loads(_newest_json(newest)) == {"pm25": [5, value], "no2_1h": [-6, 2.0]}
    # Strict JSON: no NaN or Infinity tokens slip through.
    json.loads(_sample_json(values), parse_constant=pytest.fail)
