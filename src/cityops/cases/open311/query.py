"""The filters of GET requests (service_request_id, service_code, start_date, end_date, status),
parsed from their query strings. Pure: the current time and zone are passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from cityops.core.errors import FieldError, ValidationFailed, invalid

# The spec's window: a search may not span more than 90 days and defaults to the last 90.
WINDOW = timedelta(days=90)
STATUSES = frozenset({"open", "closed"})


@dataclass(frozen=True)
class RequestQuery:
    """``numbers`` (service_request_id) overrides every other filter, as the spec says."""

    numbers: tuple[int, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[str] = frozenset()


def parse_request_query(
    *,
    service_request_id: str | None,
    service_code: str | None,
    start_date: str | None,
    end_date: str | None,
    status: str | None,
    now: datetime,
    zone: tzinfo,
) -> RequestQuery:
    """The filters of one GET requests call; ValidationFailed names each bad parameter."""
    if _items(service_request_id):
        return RequestQuery(numbers=parse_numbers(service_request_id))
    errors: list[FieldError] = []
    start = _datetime("start_date", start_date, zone, errors)
    end = _datetime("end_date", end_date, zone, errors)
    statuses = frozenset(_items(status))
    if statuses - STATUSES:
        errors.append(FieldError("status", "must be open or closed (comma separated)"))
    if errors:
        raise ValidationFailed(*errors)
    start, end = window(start, end, now)
    return RequestQuery(
        service_codes=tuple(_items(service_code)), start=start, end=end, statuses=statuses
    )


def parse_numbers(value: str | None) -> tuple[int, ...]:
    """service_request_id values: case numbers, comma separated."""
    items = _items(value)
    if not all(item.isdigit() for item in items):
        raise invalid("service_request_id", "must be request numbers, comma separated")
    return tuple(int(item) for item in items)


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The requested_datetime range: at most 90 days, the last 90 when neither end is given."""
    if start is None and end is None:
        return now - WINDOW, now
    if start is None:
        assert end is not None
        return end - WINDOW, end
    if end is None:
        return start, start + WINDOW
    if end < start:
        raise invalid("end_date", "must not be before start_date")
    if end - start > WINDOW:
        raise invalid("end_date", "start_date and end_date may not span more than 90 days")
    return start, end


def _datetime(
    name: str, value: str | None, zone: tzinfo, errors: list[FieldError]
) -> datetime | None:
    """A W3C datetime; one without an offset is read in the city's time zone."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if "T" in text:  # an unescaped "+08:00" arrives as " 08:00"
        text = text.replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(name, "must be a W3C datetime such as 2026-03-01T00:00:00Z"))
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=zone)


def _items(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]
