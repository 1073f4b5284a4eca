"""The device payload: parse and validate, pure (no I/O, no clock), never raising.

A payload is ``{"ts": <RFC 3339 string or epoch milliseconds>, "values": {"<metric>": <number>}}``
or a JSON list of such objects (``ts`` optional: then the receive time). Whatever is wrong is
reported as a :class:`Problem` with a stable reason code, and everything right around it is
kept: one bad value does not lose the other values of its sample, one bad sample does not lose
the other samples of its message.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from cityops.core.i18n import text
from cityops.devices.catalogue import MetricSpec

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EPOCH_MS = 10**15  # a usable ``ts`` in epoch milliseconds is within ± this

# Reasons a message, a sample or a value is refused (also the keys of the health counters).
MALFORMED_JSON = "malformed_json"
TOO_LARGE = "too_large"
BAD_SHAPE = "bad_shape"
TOO_MANY_SAMPLES = "too_many_samples"
BAD_TIMESTAMP = "bad_timestamp"
FUTURE_TIMESTAMP = "future_timestamp"
TOO_OLD = "too_old"
UNKNOWN_METRIC = "unknown_metric"
NOT_NUMERIC = "not_numeric"
NOT_FINITE = "not_finite"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_DEVICE = "unknown_device"
DEVICE_RETIRED = "device_retired"
REASONS = (
    MALFORMED_JSON,
    TOO_LARGE,
    BAD_SHAPE,
    TOO_MANY_SAMPLES,
    BAD_TIMESTAMP,
    FUTURE_TIMESTAMP,
    TOO_OLD,
    UNKNOWN_METRIC,
    NOT_NUMERIC,
    NOT_FINITE,
    OUT_OF_RANGE,
    UNKNOWN_DEVICE,
    DEVICE_RETIRED,
)


@dataclass(frozen=True)
class Limits:
    """What the ingester tolerates; built from the settings by the caller."""

    max_future_ms: int = 5 * 60 * 1000
    max_age_ms: int = 7 * 24 * 3600 * 1000
    max_samples: int = 1000
    max_bytes: int = 1024 * 1024


class Sample(NamedTuple):
    """One accepted sample: its time (epoch milliseconds) and its accepted values by metric
    (a tuple: a batch makes thousands). A sample whose values were all refused is none."""

    ts: int
    values: dict[str, float]


@dataclass(frozen=True)
class Problem:
    """Why something was refused; ``index`` is the sample's position in a list payload."""

    reason: str
    detail: str
    index: int | None = None
    metric: str | None = None


@dataclass
class Parsed:
    samples: list[Sample] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def decode(payload: bytes | str, limits: Limits = Limits()) -> tuple[Any, Problem | None]:
    """The decoded JSON document, or the problem that stops it from being read at all."""
    if len(payload) > limits.max_bytes:
        return None, Problem(TOO_LARGE, text("payload over {limit} bytes", limit=limits.max_bytes))
    try:
        return _loads(payload), None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        return None, Problem(MALFORMED_JSON, _short(str(exc)))


# The scanner ``json.loads`` uses (typeshed does not declare it).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_SPACE = " \t\n\r"  # JSON's whitespace


def _loads(payload: bytes | str) -> Any:
    """``json.loads``, with its per-call overhead skipped for what devices send: bytes that
    open an object or a list (so UTF-8, as ``json.loads`` would detect) and end with it.
    Anything else, an error included, goes through ``json.loads`` for its exact answer."""
    if type(payload) is bytes and len(payload) >= 2 and payload[0] in _OPENERS and payload[1]:
        try:
            text = payload.decode("utf-8", "surrogatepass")
            document, end = _scan(text, 0)
            if end == len(text) or not text[end:].strip(_SPACE):
                return document
        except (ValueError, StopIteration, RecursionError):
            pass
    return json.loads(payload)


_OPENERS = frozenset(b"{[")


def parse_payload(
    payload: bytes | str,
    metrics: Mapping[str, MetricSpec],
    received_ms: int,
    limits: Limits = Limits(),
) -> Parsed:
    """Bytes of one message → accepted samples and problems."""
    document, problem = decode(payload, limits)
    if problem is not None:
        return Parsed(problems=[problem])
    return parse_document(document, metrics, received_ms, limits)


def parse_document(
    document: Any,
    metrics: Mapping[str, MetricSpec],
    received_ms: int,
    limits: Limits = Limits(),
    indexes: list[int] | None = None,
) -> Parsed:
    """A decoded payload (one sample object or a list of them) → samples and problems.

    ``indexes`` gives the samples' positions when they come from a larger document (the HTTP
    batch of many devices), so problems name the position the sender knows.
    """
    out = Parsed()
    if isinstance(document, dict):
        items: list[Any] = [document]
        single = True
    elif isinstance(document, list):
        items, single = document, False
    else:
        out.problems.append(Problem(BAD_SHAPE, "expected a JSON object or a list of objects"))
        return out
    if len(items) > limits.max_samples:
        detail = text(
            "{count} samples in one message; at most {limit}",
            count=len(items),
            limit=limits.max_samples,
        )
        out.problems.append(Problem(TOO_MANY_SAMPLES, detail))
        return out
    if not items:
        out.problems.append(Problem(BAD_SHAPE, "an empty list"))
    low, high = _window(received_ms, limits)
    for position, item in enumerate(items):
        if _take_plain(item, metrics, received_ms, low, high, out.samples):
            continue
        index = indexes[position] if indexes is not None else (None if single else position)
        _parse_sample(item, index, metrics, received_ms, limits, out)
    return out


def take_sample(
    item: Any,
    metrics: Mapping[str, MetricSpec],
    received_ms: int,
    limits: Limits,
    samples: list[Sample],
) -> bool:
    """One sample object with nothing wrong (what nearly every message is) appended to
    ``samples`` in one pass; False, adding nothing, for anything else, which
    ``parse_document`` then tells apart."""
    low, high = _window(received_ms, limits)
    return _take_plain(item, metrics, received_ms, low, high, samples)


def _window(received_ms: int, limits: Limits) -> tuple[int, int]:
    """The times (epoch ms) a sample received at ``received_ms`` may carry."""
    low = max(received_ms - limits.max_age_ms, -MAX_EPOCH_MS)
    high = min(received_ms + limits.max_future_ms, MAX_EPOCH_MS)
    return low, high


def _take_plain(
    item: Any,
    metrics: Mapping[str, MetricSpec],
    received_ms: int,
    low: int,
    high: int,
    samples: list[Sample],
) -> bool:
    """The common sample in one pass: an object with ``ts`` in epoch milliseconds (or none)
    and every value a known metric's plausible number. Adds its sample and says True; for
    anything else adds nothing and says False, and ``_parse_sample`` tells what is wrong.
    The sample keeps the document's own ``values`` object when its numbers are all floats
    already (the document is the caller's to give away)."""
    if type(item) is not dict:
        return False
    values = item.get("values")
    if type(values) is not dict or not values:
        return False
    ts = item.get("ts")
    if ts is None:
        ts = received_ms
    elif type(ts) is not int or not low <= ts <= high:
        return False
    floats = True
    for metric, raw in values.items():
        spec = metrics.get(metric)
        if spec is None:
            return False
        kind = type(raw)
        if kind is int:
            floats = False
            try:
                raw = float(raw)
            except OverflowError:
                return False
        elif kind is not float:
            return False
        # NaN and the infinities fail this test too.
        if not spec.minimum <= raw <= spec.maximum:
            return False
    samples.append(Sample(ts, values if floats else {m: float(v) for m, v in values.items()}))
    return True


def _parse_sample(
    item: Any,
    index: int | None,
    metrics: Mapping[str, MetricSpec],
    received_ms: int,
    limits: Limits,
    out: Parsed,
) -> None:
    if not isinstance(item, dict):
        out.problems.append(Problem(BAD_SHAPE, "a sample must be a JSON object", index))
        return
    values = item.get("values")
    if not isinstance(values, dict) or not values:
        detail = "'values' must be a non-empty object of metric: number"
        out.problems.append(Problem(BAD_SHAPE, detail, index))
        return
    ts, problem = parse_timestamp(item.get("ts"), received_ms, limits)
    if problem is not None:
        out.problems.append(Problem(problem[0], problem[1], index))
        return
    taken = {}
    for metric, raw in values.items():
        reason, detail, value = _check_value(metric, raw, metrics)
        if reason is None:
            taken[metric] = value
        else:
            out.problems.append(Problem(reason, detail, index, _short(str(metric), 32)))
    if taken:
        out.samples.append(Sample(ts, taken))


def _check_value(
    metric: str, raw: Any, metrics: Mapping[str, MetricSpec]
) -> tuple[str | None, str, float]:
    spec = metrics.get(metric)
    if spec is None:
        detail = text("unknown metric {metric!r} for this device type", metric=_short(metric, 40))
        return UNKNOWN_METRIC, detail, 0.0
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        detail = text(
            "{metric}: {value} is not a number", metric=metric, value=_short(repr(raw), 40)
        )
        return NOT_NUMERIC, detail, 0.0
    try:
        value = float(raw)
    except OverflowError:
        return NOT_FINITE, text("{metric}: the number is too large", metric=metric), 0.0
    if not math.isfinite(value):
        return (
            NOT_FINITE,
            text("{metric}: {value} is not a finite number", metric=metric, value=value),
            0.0,
        )
    if not spec.minimum <= value <= spec.maximum:
        detail = text(
            "{metric}: {value:g} outside the plausible range {low:g}…{high:g}",
            metric=metric,
            value=value,
            low=spec.minimum,
            high=spec.maximum,
        )
        return OUT_OF_RANGE, detail, 0.0
    return None, "", value


def parse_timestamp(
    raw: Any, received_ms: int, limits: Limits = Limits()
) -> tuple[int, tuple[str, str] | None]:
    """Epoch milliseconds of ``ts`` (the receive time when absent), or (reason, detail)."""
    if raw is None:
        return received_ms, None
    if isinstance(raw, bool):
        return 0, (BAD_TIMESTAMP, "ts must be an RFC 3339 string or epoch milliseconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw) or abs(raw) > MAX_EPOCH_MS:
            return 0, (BAD_TIMESTAMP, "ts is not a usable epoch-milliseconds value")
        ts = int(raw)
    elif isinstance(raw, str):
        parsed = _rfc3339_ms(raw)
        if parsed is None:
            detail = text("ts {ts!r} is not an RFC 3339 time with an offset", ts=_short(raw, 40))
            return 0, (BAD_TIMESTAMP, detail)
        ts = parsed
    else:
        return 0, (BAD_TIMESTAMP, "ts must be an RFC 3339 string or epoch milliseconds")
    if ts > received_ms + limits.max_future_ms:
        ahead = (ts - received_ms) / 1000
        return 0, (
            FUTURE_TIMESTAMP,
            text("ts is {ahead:.0f} s ahead of the receive time", ahead=ahead),
        )
    if ts < received_ms - limits.max_age_ms:
        return 0, (
            TOO_OLD,
            text("ts is older than {hours} h", hours=limits.max_age_ms // 3_600_000),
        )
    return ts, None


def _rfc3339_ms(text: str) -> int | None:
    if len(text) > 40 or "T" not in text.upper():
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return to_ms(moment)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime (exact, no float rounding)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(ts: int) -> datetime:
    """The aware UTC datetime of epoch milliseconds."""
    return EPOCH + timedelta(milliseconds=ts)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
