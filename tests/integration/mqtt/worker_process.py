"""An ingest worker in a process of its own, for the crash test: its handler records each
message's id in SQLite and commits before returning, that is before the worker acknowledges.

    python worker_process.py HOST PORT USERNAME PASSWORD CLIENT_ID PREFIX GROUP DATABASE

Prints "subscribed" once the broker has granted the shared subscription.
"""

from __future__ import annotations

import signal
import sqlite3
import sys
import threading
import time

from cityops.core.mqtt.address import BrokerAddress
from cityops.core.mqtt.worker import IngestWorker, Message, WorkerOptions


def main(host: str, port: str, user: str, password: str, client_id: str, prefix: str,
         group: str, database: str) -> None:  # fmt: skip
    db = sqlite3.connect(database, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS handled (id TEXT NOT NULL, worker TEXT NOT NULL)")

    def store(batch: list[Message]) -> None:
        rows = [(m.payload.decode(), client_id) for m in batch]
        db.execute("BEGIN")
        db.executemany("INSERT INTO handled VALUES (?, ?)", rows)
        db.execute("COMMIT")
        time.sleep(0.005)  # a slow store: the stream backs up into the in-flight window

    options = WorkerOptions(
        address=BrokerAddress(host, int(port)),
        username=user,
        password=password,
        client_id=client_id,
        topic_prefix=prefix,
        share_group=group,
        session_expiry_seconds=60,
        receive_maximum=50,
        batch_size=20,
        batch_seconds=0.01,
    )
    worker = IngestWorker(options, store)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    thread = threading.Thread(target=worker.run)
    thread.start()
    if worker.subscribed.wait(10):
        print("subscribed", flush=True)
    thread.join()


if __name__ == "__main__":
    main(*sys.argv[1:])
