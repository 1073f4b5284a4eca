"""Test fixtures: a real database (SQLite by default, PostgreSQL with --dburl or
CITYOPS_TEST_DATABASE_URL), migrated once and seeded once per session; each test runs inside
a transaction that is rolled back (services commit to savepoints)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from cityops.app import create_app
from cityops.core.bus import Bus, Event
from cityops.core.cache import INFO_KEY, Snapshots
from cityops.core.clock import FrozenClock
from cityops.core.config import Settings
from cityops.core.db import Database, create_db_engine
from cityops.core.db.engine import Transaction
from cityops.core.files import LocalFileStore
from cityops.core.runtime import Runtime
from cityops.demo.geography import synthetic_city
from cityops.demo.seed import Organisation, seed_organisation
from cityops.migrations import upgrade
from cityops.org import service as org

PASSWORD = "correct-horse-battery"
# Monday 2 March 2026, 10:00 in Asia/Shanghai: inside working hours.
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--dburl",
        default=os.environ.get("CITYOPS_TEST_DATABASE_URL", ""),
        help="PostgreSQL server URL to test against (a throwaway database is made)",
    )


@pytest.fixture(scope="session")
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    server = request.config.getoption("--dburl")
    if not server:
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        eng = create_db_engine(f"sqlite:///{path}")
        yield eng
        eng.dispose()
        return
    name = f"cityops_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name)
    eng = create_db_engine(url.render_as_string(hide_password=False))
    yield eng
    eng.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def _settings(tmp: Path) -> Settings:
    return Settings(
        data_dir=tmp,
        run_scheduler=False,
        token_ttl_minutes=60 * 24 * 30,
        secret_key="test-secret-key-of-sufficient-length-0123456789",
        # Fixtures report the same text at the same point many times over: tests of duplicate
        # merging turn it on (tests/integration/cases/test_duplicates.py).
        duplicate_auto_merge=False,
    )


class _EventLog:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def tags(self) -> list[str]:
        return [e.tag for e in self.events]


@pytest.fixture(scope="session")
def seeded(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Migrate and seed the synthetic city once; returns the organisation and login tokens."""
    upgrade(engine)
    tmp = tmp_path_factory.mktemp("seed")
    runtime = Runtime(
        settings=_settings(tmp),
        db=Database(engine=engine, bus=Bus()),
        clock=FrozenClock(START),
        files=LocalFileStore(tmp / "files"),
    )
    organisation = seed_organisation(runtime, synthetic_city(), password=PASSWORD)
    tokens = {
        u: org.login(runtime, username=u, password=PASSWORD).access_token
        for u in organisation.users
    }
    return {"org": organisation, "tokens": tokens, "settings": runtime.settings}


class _TestDatabase(Database):
    """A Database whose sessions join the test's outer transaction through savepoints.

    All of a test's sessions share one connection, so they take turns: a live server thread
    (browser tests) and the test itself must not interleave savepoints on it.
    """

    connection: Connection
    lock: threading.RLock

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.lock, super().transaction() as tx:
            yield tx

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.lock, super().read() as session:
            yield session

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.writers = self.lock  # the one connection's turns already order the writers
        # A fresh snapshot registry per test: reference data changed in a test is rolled back.
        self.snapshots = Snapshots(ttl=3600)
        self.session_factory = sessionmaker(
            bind=self.connection,
            expire_on_commit=False,
            join_transaction_mode="create_savepoint",
            info={INFO_KEY: self.snapshots},
        )


@pytest.fixture
def rt(engine: Engine, seeded: dict[str, Any], tmp_path: Path) -> Iterator[Runtime]:
    connection = engine.connect()
    outer = connection.begin()
    db = _TestDatabase.__new__(_TestDatabase)
    db.engine, db.bus, db.connection = engine, Bus(), connection
    db.__post_init__()
    settings = seeded["settings"].model_copy(update={"data_dir": tmp_path})
    runtime = Runtime(
        settings=settings, db=db, clock=FrozenClock(START), files=LocalFileStore(tmp_path / "files")
    )
    yield runtime
    for worker in runtime.workers:
        worker.stop()
    outer.rollback()
    connection.close()


@pytest.fixture
def events(rt: Runtime) -> _EventLog:
    log = _EventLog()
    rt.db.bus.subscribe_all(log)
    return log


@pytest.fixture
def clock(rt: Runtime) -> FrozenClock:
    assert isinstance(rt.clock, FrozenClock)
    return rt.clock


@pytest.fixture
def city(seeded: dict[str, Any]) -> Organisation:
    organisation = seeded["org"]
    assert isinstance(organisation, Organisation)
    return organisation


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=rt)) as test_client:
        yield test_client


@pytest.fixture
def auth(seeded: dict[str, Any]) -> Callable[[str], dict[str, str]]:
    """``auth("operator")`` → the Authorization header of a seeded user."""
    tokens: dict[str, str] = seeded["tokens"]

    def headers(username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[username]}"}

    return headers


@pytest.fixture
def actor(rt: Runtime) -> Callable[[str], Any]:
    """``actor("operator")`` → the Actor of a seeded user, for service-level tests."""
    from cityops.org.models import User

    def build(username: str) -> Any:
        from sqlalchemy import select

        from cityops.org.accounts import actor_for_user

        with rt.db.read() as session:
            user = session.scalar(select(User).where(User.username == username))
            assert user is not None, username
            return actor_for_user(session, user)

    return build
