"""Monthly range partitions of ``devices_readings`` on PostgreSQL (SQLite: one plain table).

The table is partitioned by ``ts`` (epoch ms, UTC months): ``devices_readings_pYYYYMM`` for
each month and ``devices_readings_default`` for anything outside them. A job creates the
partitions of this month and the next ``AHEAD`` ones before readings arrive for them; rows
that reached the default partition first are moved into the new partition in the same
transaction (PostgreSQL refuses a partition whose range the default already holds).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from cityops.core.runtime import Runtime
from cityops.devices.payload import from_ms, to_ms

PARENT = "devices_readings"
DEFAULT = "devices_readings_default"
AHEAD = 2


def month_start(ts: int) -> int:
    moment = from_ms(ts)
    return to_ms(datetime(moment.year, moment.month, 1, tzinfo=UTC))


def next_month(start: int) -> int:
    moment = from_ms(start)
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    return to_ms(datetime(year, month, 1, tzinfo=UTC))


def partition_name(start: int) -> str:
    return f"{PARENT}_p{from_ms(start):%Y%m}"


def partitions(session: Session) -> list[str]:
    """The partitions of the readings table (empty on SQLite or an unpartitioned table)."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    rows = session.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
            " ORDER BY c.relname"
        ),
        {"parent": PARENT},
    )
    return list(rows.scalars())


def ensure_partitions(rt: Runtime, ahead: int = AHEAD) -> list[str]:
    """Create the missing partitions of this month and the next ``ahead``; returns them."""
    if rt.db.dialect != "postgresql":
        return []
    created = []
    with rt.db.transaction() as tx:
        existing = set(partitions(tx.session))
        if DEFAULT not in existing:
            return []  # not a partitioned table
        start = month_start(to_ms(rt.clock.now()))
        for _ in range(ahead + 1):
            end = next_month(start)
            name = partition_name(start)
            if name not in existing:
                create_partition(tx.session, start, end)
                created.append(name)
            start = end
    return created


def create_partition(session: Session, start: int, end: int) -> None:
    """One month's partition, taking over its rows from the default partition."""
    span = {"a": start, "b": end}
    waiting = session.scalar(
        text(f"SELECT count(*) FROM {DEFAULT} WHERE ts >= :a AND ts < :b"),  # noqa: S608
        span,
    )
    if waiting:
        session.execute(text(f"CREATE TEMP TABLE moving_readings (LIKE {PARENT}) ON COMMIT DROP"))
        session.execute(
            text(
                f"WITH m AS (DELETE FROM {DEFAULT} WHERE ts >= :a AND ts < :b RETURNING *)"  # noqa: S608
                " INSERT INTO moving_readings SELECT * FROM m"
            ),
            span,
        )
    session.execute(
        text(
            f"CREATE TABLE {partition_name(start)} PARTITION OF {PARENT}"
            f" FOR VALUES FROM ({int(start)}) TO ({int(end)})"
        )
    )
    if waiting:
        session.execute(text(f"INSERT INTO {PARENT} SELECT * FROM moving_readings"))  # noqa: S608
        session.execute(text("DROP TABLE moving_readings"))
