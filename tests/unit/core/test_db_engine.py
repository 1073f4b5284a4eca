"""The engine's set-up: SQLite writers of one process queue in the process, PostgreSQL keeps
the parsed form of the ORM's widest statement."""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from cityops.cases.models import Case
from cityops.core.bus import Bus
from cityops.core.db.engine import Database, create_db_engine

THREADS, EACH = 6, 10


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    # SQLite fails at once where it would sleep and retry: only the process's queue is left.
    dbapi_connection.execute("PRAGMA busy_timeout=0")


def test_writers_of_one_process_take_turns_without_meeting_sqlites_lock(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'turns.sqlite3'}")
    event.listen(engine, "connect", _no_busy_wait)
    db = Database(engine, Bus())
    with db.transaction() as tx:
        tx.session.execute(text("CREATE TABLE marks (thread INTEGER, n INTEGER)"))
    failures: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for n in range(EACH):
                with db.transaction() as tx:
                    tx.session.execute(
                        text("INSERT INTO marks VALUES (:t, :n)"), {"t": thread, "n": n}
                    )
                    time.sleep(0.002)  # the write lock is held a while: the others must wait
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with db.read() as session:
        assert session.execute(text("SELECT count(*) FROM marks")).scalar() == THREADS * EACH
    engine.dispose()


def test_the_widest_orm_insert_keeps_its_parsed_form_on_postgresql() -> None:
    queries = importlib.import_module("psycopg._queries")
    create_db_engine("postgresql+psycopg://cityops@127.0.0.1:1/none")  # connects on first use
    assert len(Case.__table__.columns) <= queries.MAX_CACHED_STATEMENT_PARAMS
