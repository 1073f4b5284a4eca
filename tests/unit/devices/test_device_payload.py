"""The device payload parser: what it accepts, each reason it refuses, and that it keeps the
good readings around the bad ones and never raises."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cityops.devices.catalogue import MetricSpec
from cityops.devices.payload import (
    BAD_SHAPE,
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    MALFORMED_JSON,
    NOT_FINITE,
    NOT_NUMERIC,
    OUT_OF_RANGE,
    TOO_LARGE,
    TOO_MANY_SAMPLES,
    TOO_OLD,
    UNKNOWN_METRIC,
    Limits,
    Parsed,
    Sample,
    _parse_sample,
    decode,
    from_ms,
    parse_document,
    parse_payload,
    take_sample,
    to_ms,
)

METRICS = {
    "pm25": MetricSpec("pm25", "PM2.5", "PM2.5", "µg/m³", 0, 1000),
    "battery": MetricSpec("battery", "电量", "Battery", "%", 0, 100),
}
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
NOW_MS = to_ms(NOW)


def parse(body: object, limits: Limits = Limits()) -> tuple[list[Sample], list[str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parsed = parse_payload(raw, METRICS, NOW_MS, limits)
    return parsed.samples, [p.reason for p in parsed.problems]


def test_one_sample_without_ts_takes_the_receive_time() -> None:
    samples, problems = parse({"values": {"pm25": 35, "battery": 87.5}})
    assert problems == []
    assert samples == [Sample(NOW_MS, {"pm25": 35.0, "battery": 87.5})]


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-03-02T10:00:00+08:00", NOW_MS),
        ("2026-03-02T01:59:30Z", NOW_MS - 30_000),
        ("2026-03-02T01:59:59.250+00:00", NOW_MS - 750),
        (NOW_MS - 60_000, NOW_MS - 60_000),
    ],
)
def test_timestamps_in_rfc3339_or_epoch_milliseconds(ts: object, expected: int) -> None:
    samples, problems = parse({"ts": ts, "values": {"pm25": 1}})
    assert problems == []
    assert samples[0].ts == expected


def test_a_list_of_samples() -> None:
    body = [
        {"ts": NOW_MS - 2000, "values": {"pm25": 1}},
        {"ts": NOW_MS - 1000, "values": {"pm25": 2}},
    ]
    samples, problems = parse(body)
    assert problems == []
    assert samples == [Sample(NOW_MS - 2000, {"pm25": 1.0}), Sample(NOW_MS - 1000, {"pm25": 2.0})]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", MALFORMED_JSON),
        (b"\xff\xfe", MALFORMED_JSON),
        (b"", MALFORMED_JSON),
        (b'"text"', BAD_SHAPE),
        (b"[]", BAD_SHAPE),
        ({"ts": NOW_MS}, BAD_SHAPE),
        ({"values": {}}, BAD_SHAPE),
        ({"values": [1, 2]}, BAD_SHAPE),
        ({"ts": "yesterday", "values": {"pm25": 1}}, BAD_TIMESTAMP),
        ({"ts": "2026-03-02T10:00:00", "values": {"pm25": 1}}, BAD_TIMESTAMP),
        ({"ts": True, "values": {"pm25": 1}}, BAD_TIMESTAMP),
        ({"ts": [1], "values": {"pm25": 1}}, BAD_TIMESTAMP),
        ({"ts": NOW_MS + 10 * 60_000, "values": {"pm25": 1}}, FUTURE_TIMESTAMP),
        ({"ts": NOW_MS - 8 * 86_400_000, "values": {"pm25": 1}}, TOO_OLD),
        ({"ts": 1772416800, "values": {"pm25": 1}}, TOO_OLD),  # seconds, not milliseconds
        ({"values": {"no2": 1}}, UNKNOWN_METRIC),
        ({"values": {"pm25": "35"}}, NOT_NUMERIC),
        ({"values": {"pm25": None}}, NOT_NUMERIC),
        ({"values": {"pm25": True}}, NOT_NUMERIC),
        (b'{"values": {"pm25": NaN}}', NOT_FINITE),
        (b'{"values": {"pm25": Infinity}}', NOT_FINITE),
        (b'{"values": {"pm25": 1e400}}', NOT_FINITE),
        ({"values": {"pm25": 10**400}}, NOT_FINITE),
        ({"values": {"pm25": -3}}, OUT_OF_RANGE),
        ({"values": {"battery": 101}}, OUT_OF_RANGE),
    ],
)
def test_each_kind_of_bad_input_is_refused_with_its_reason(body: object, reason: str) -> None:
    samples, problems = parse(body)
    assert samples == []
    assert problems == [reason]


def test_good_readings_around_bad_ones_are_kept() -> None:
    body = [
        {"values": {"pm25": 10, "no2": 5, "battery": "low"}},
        {"ts": "garbage", "values": {"pm25": 11}},
        "not an object",
        {"ts": NOW_MS - 1000, "values": {"pm25": 12}},
    ]
    raw = json.dumps(body).encode()
    parsed = parse_payload(raw, METRICS, NOW_MS)
    # The first sample keeps its good value; the second and third are refused whole.
    assert parsed.samples == [Sample(NOW_MS, {"pm25": 10.0}), Sample(NOW_MS - 1000, {"pm25": 12.0})]
    assert [(p.reason, p.index, p.metric) for p in parsed.problems] == [
        (UNKNOWN_METRIC, 0, "no2"),
        (NOT_NUMERIC, 0, "battery"),
        (BAD_TIMESTAMP, 1, None),
        (BAD_SHAPE, 2, None),
    ]


def test_limits_on_size_and_sample_count() -> None:
    limits = Limits(max_samples=3, max_bytes=200)
    _, problems = parse([{"values": {"pm25": 1}}] * 4, limits)
    assert problems == [TOO_MANY_SAMPLES]
    _, problems = parse({"values": {"pm25": 1}, "pad": "x" * 300}, limits)
    assert problems == [TOO_LARGE]


def test_deeply_nested_json_is_refused_not_raised() -> None:
    _, problems = parse(b"[" * 100_000 + b"]" * 100_000)
    assert problems == [MALFORMED_JSON]


def test_milliseconds_round_trip_exactly() -> None:
    moment = datetime(2026, 3, 2, 1, 2, 3, 456000, tzinfo=UTC)
    assert from_ms(to_ms(moment)) == moment


LIMITS = Limits()
EDGE_CASES: list[object] = [
    {"values": {"pm25": 1, "battery": 99.5}},
    {"ts": NOW_MS + LIMITS.max_future_ms, "values": {"pm25": 1}},
    {"ts": NOW_MS + LIMITS.max_future_ms + 1, "values": {"pm25": 1}},
    {"ts": NOW_MS - LIMITS.max_age_ms, "values": {"pm25": 1}},
    {"ts": NOW_MS - LIMITS.max_age_ms - 1, "values": {"pm25": 1}},
    {"ts": float(NOW_MS - 1000), "values": {"pm25": 1}},
    {"ts": NOW_MS - 1000.5, "values": {"pm25": 1}},
    {"ts": "2026-03-02T10:00:00+08:00", "values": {"pm25": 1}},
    {"ts": NOW_MS, "values": {"pm25": 0, "battery": 100}},
    {"ts": NOW_MS, "values": {"pm25": 1000.0000001}},
    {"ts": NOW_MS, "values": {"pm25": 10**400}},
    {"ts": NOW_MS, "values": {"pm25": 5, "battery": True}},
    {"ts": NOW_MS, "values": {"pm25": 5, "no2": 1}},
    {"ts": NOW_MS, "values": {"pm25": float("nan")}},
    {"ts": NOW_MS, "values": {"pm25": float("-inf")}},
    {"ts": NOW_MS, "values": {}},
    {"ts": NOW_MS, "values": None},
    {"ts": None, "values": {"battery": 1}},
    {"ts": NOW_MS, "values": {"pm25": 1}, "extra": "ignored"},
    "not an object",
    [1],
]


@pytest.mark.parametrize("item", EDGE_CASES)
def test_the_one_pass_parse_agrees_with_the_field_by_field_checks(item: object) -> None:
    # parse_document takes the common sample in one pass and leaves anything else to
    # _parse_sample: both must give the same samples and problems, one sample or in a list.
    reference = Parsed()
    _parse_sample(item, None, METRICS, NOW_MS, LIMITS, reference)
    if isinstance(item, dict):
        alone = parse_document(item, METRICS, NOW_MS, LIMITS)
        assert (alone.samples, alone.problems) == (reference.samples, reference.problems)
    listed = parse_document([item, item], METRICS, NOW_MS, LIMITS, indexes=[7, 8])
    in_list = Parsed()
    for index in (7, 8):
        _parse_sample(item, index, METRICS, NOW_MS, LIMITS, in_list)
    assert (listed.samples, listed.problems) == (in_list.samples, in_list.problems)
    # The ingester's one-pass taker: the same sample when it takes one, nothing otherwise.
    taken: list[Sample] = []
    if take_sample(item, METRICS, NOW_MS, LIMITS, taken):
        assert (taken, reference.problems) == (reference.samples, [])
        assert all(type(v) is float for sample in taken for v in sample.values.values())
    else:
        assert taken == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"ts":1,"values":{"pm25":1.5}}',
        b'[{"values":{"pm25":1}} , {"values":{}}]\r\n\t ',
        b'{"name":"\xe5\x85\xb3"}',
        b'{"a":1} trailing',
        b'{"a":1}{"b":2}',
        b'{"a":',
        b'{"a":NaN}',
        b"{'a': 1}",
        b'{"a":"\xff"}',
        b'{\x00"\x00}\x00',
        b"[" * 5000 + b"]" * 5000,
        b"[" * 100_000,
        b" {}",
        b"\xef\xbb\xbf{}",
        "{}".encode("utf-16"),
        b"{}",
    ],
)
def test_decoding_answers_as_json_loads_does(raw: bytes) -> None:
    # decode skips json.loads' overhead for plain objects and lists; it must agree with it,
    # on the document and on the error alike.
    document, problem = decode(raw)
    expected: object = None
    error = None
    try:
        expected = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        error = str(exc)
    if error is None:
        assert problem is None
        assert document == expected
    else:
        assert document is None
        assert problem is not None
        assert (problem.reason, problem.detail) == (MALFORMED_JSON, error[:200])
