"""Engines and the transaction boundary that every write service function uses."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cityops.core.bus import Bus, Event
from cityops.core.cache import INFO_KEY, Snapshots


def create_db_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    _cache_parsed_statements()
    # Every session ends its own transaction (commit, or rollback for reads), so the pool's
    # reset-on-return ROLLBACK and a pre-ping SELECT would each cost a round trip per request
    # for nothing; stale connections are recycled by age instead.
    return create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        pool_reset_on_return=None,
    )


# psycopg keeps the parsed form of a statement (its ``%(name)s`` placeholders turned into
# ``$n``) only for statements of at most 50 parameters, against the endless variants of
# hand-built multi-row inserts. The ORM's statements are a fixed set, and the insert of a case
# has 51: below this bound it is parsed once per process instead of once per report, while
# multi-row inserts (hundreds of parameters) still stay out of the cache.
PARSED_STATEMENT_PARAMS = 64


def _cache_parsed_statements() -> None:
    queries = importlib.import_module("psycopg._queries")
    bound = getattr(queries, "MAX_CACHED_STATEMENT_PARAMS", None)
    if isinstance(bound, int) and bound < PARSED_STATEMENT_PARAMS:
        vars(queries)["MAX_CACHED_STATEMENT_PARAMS"] = PARSED_STATEMENT_PARAMS


WRITE_OPTION = "cityops_write"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (the module's
    # legacy mode opens them lazily before the first write, which breaks SAVEPOINTs).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers take SQLite's write lock up front: a deferred transaction that reads first and
    # writes later fails at once when another writer committed in between.
    immediate = connection.get_execution_options().get(WRITE_OPTION)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@dataclass
class Transaction:
    """An open unit of work: the session plus the events to publish once it commits."""

    session: Session
    events: list[Event] = field(default_factory=list)
    callbacks: list[Callable[[], object]] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the transaction has committed (e.g. to drop a cache)."""
        self.callbacks.append(callback)


@dataclass
class Database:
    """Owns the session factory; ``transaction()`` is the one way to change data."""

    engine: Engine
    bus: Bus
    cache_ttl: float = 30.0
    session_factory: Callable[[], Session] = field(init=False)
    snapshots: Snapshots = field(init=False)
    writers: AbstractContextManager[Any] = field(init=False)

    def __post_init__(self) -> None:
        # SQLite has one write lock per file, and a writer that finds it taken sleeps and tries
        # again (1 ms, then longer and longer steps up to 100 ms): dozens of request threads of
        # one process waiting so wake late and in no order, and the unlucky ones wait seconds.
        # They queue on a lock of the process instead, each woken as the one before commits;
        # other processes (the ingester, the CLI) still meet at SQLite's lock.
        self.writers = threading.RLock() if self.dialect == "sqlite" else nullcontext()
        self.snapshots = Snapshots(self.cache_ttl)
        self.session_factory = sessionmaker(
            self.engine, expire_on_commit=False, info={INFO_KEY: self.snapshots}
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Commit on success, roll back on any error; publish events only after commit."""
        with self.writers:
            session = self.session_factory()
            if self.dialect == "sqlite":
                session.connection(execution_options={WRITE_OPTION: True})
            tx = Transaction(session)
            try:
                yield tx
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        for callback in tx.callbacks:
            callback()
        for published in tx.events:
            self.bus.publish(published)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; anything written through it is rolled back."""
        session = self.session_factory()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
