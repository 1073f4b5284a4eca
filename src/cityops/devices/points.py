"""The readings one value per row: ``(device_id, metric, ts, value)`` from the samples' JSON.

Readings are stored a sample per row (``models.Reading``); what aggregates or copies values
one by one (the rollups, the archive, steps of the series API) reads them through ``points``,
which expands each selected sample's JSON object into its values in the database (``json_each``
on SQLite, ``json_each_text`` on PostgreSQL). Conditions on the sample's device and time go
to ``points(…, where)`` so that they narrow the samples before the expansion.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Float, Select, Subquery, Table, cast, func, select, true

from cityops.devices.models import Reading

READINGS: Table = Reading.__table__  # type: ignore[assignment]


def points(dialect: str, *where: Any) -> Subquery:
    """The values of the samples matching ``where`` (conditions on ``Reading``'s columns) as
    a subquery of ``device_id, metric, ts, value``."""
    return _points_query(dialect, *where).subquery("points")


def _points_query(dialect: str, *where: Any) -> Select[Any]:
    if dialect == "postgresql":
        pairs = func.json_each_text(READINGS.c.data).table_valued("key", "value").alias("pair")
        value: Any = cast(pairs.c.value, Float)
    else:
        pairs = func.json_each(READINGS.c.data).table_valued("key", "value").alias("pair")
        value = pairs.c.value
    return (
        select(
            READINGS.c.device_id,
            pairs.c.key.label("metric"),
            READINGS.c.ts,
            value.label("value"),
        )
        .select_from(READINGS)
        .join(pairs, true())
        .where(*where)
    )


def value_of(metric: str) -> Any:
    """One metric's value in a sample (NULL where the sample lacks it), as a float."""
    return Reading.data[metric].as_float()


def sample_rows(values: Iterable[tuple[str, str, int, float]]) -> list[dict[str, Any]]:
    """Rows of the readings table holding ``(device_id, metric, ts, value)`` values: one per
    (device, time), its first value of each metric kept (for tests that write readings
    directly)."""
    samples: dict[tuple[str, int], dict[str, float]] = {}
    for device_id, metric, ts, value in values:
        samples.setdefault((device_id, ts), {}).setdefault(metric, value)
    return [{"device_id": d, "ts": ts, "data": data} for (d, ts), data in samples.items()]
