"""The queue that hands work to one thread in batches: order, batching while busy, drain,
a failing batch, stop."""

from __future__ import annotations

import logging
import threading

import pytest

from cityops.core.tasks import BatchWorker


class Recorder:
    """A handler that records its batches and the thread each ran in, and can be held."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()

    def __call__(self, batch: list[int]) -> None:
        self.entered.set()
        assert self.release.wait(10)
        self.threads.add(threading.current_thread().name)
        self.batches.append(batch)


def test_items_are_handled_in_order_in_the_workers_thread() -> None:
    handler = Recorder()
    worker = BatchWorker("test-worker", handler)
    for item in range(5):
        worker.submit(item)
    assert worker.drain(10)
    assert [item for batch in handler.batches for item in batch] == [0, 1, 2, 3, 4]
    assert handler.threads == {"test-worker"}
    assert worker.pending() == 0
    worker.stop()


def test_what_arrives_while_a_batch_runs_is_the_next_batch() -> None:
    handler = Recorder()
    handler.release.clear()
    worker = BatchWorker("test-worker", handler, batch=3)
    worker.submit(0)
    assert handler.entered.wait(10)  # the first batch runs and is held
    for item in range(1, 8):
        worker.submit(item)
    assert worker.pending() == 8
    assert not worker.drain(0.05)
    handler.release.set()
    assert worker.drain(10)
    assert handler.batches == [[0], [1, 2, 3], [4, 5, 6], [7]]
    worker.stop()


def test_a_failing_batch_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[list[int]] = []

    def handle(batch: list[int]) -> None:
        seen.append(batch)
        if 13 in batch:
            raise RuntimeError("bad batch")

    worker = BatchWorker("test-worker", handle)
    with caplog.at_level(logging.ERROR):
        worker.submit(13)
        assert worker.drain(10)
        worker.submit(14)
        assert worker.drain(10)
    assert seen == [[13], [14]]
    assert "test-worker: a batch of 1 failed" in caplog.text
    worker.stop()


def test_stop_handles_what_is_queued_and_later_items_run_in_the_caller() -> None:
    handler = Recorder()
    handler.release.clear()
    worker = BatchWorker("test-worker", handler)
    worker.submit(1)
    assert handler.entered.wait(10)
    worker.submit(2)
    worker.submit(3)
    stopper = threading.Thread(target=worker.stop)
    stopper.start()
    handler.release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert handler.batches == [[1], [2, 3]]
    worker.submit(4)  # after stop: handled at once, in this thread
    assert handler.batches[-1] == [4]
    assert threading.current_thread().name in handler.threads
    assert worker.drain(0)


def test_a_full_queue_makes_the_caller_handle_its_item() -> None:
    handler = Recorder()
    handler.release.clear()
    worker = BatchWorker("test-worker", handler, max_pending=2)
    worker.submit(0)
    assert handler.entered.wait(10)  # the thread is held on its first batch
    worker.submit(1)
    worker.submit(2)
    caller = threading.Thread(target=worker.submit, args=(3,), name="caller")
    caller.start()  # the queue holds 2: item 3 is handled by its caller
    handler.release.set()
    caller.join(10)
    assert worker.drain(10)
    assert sorted(item for batch in handler.batches for item in batch) == [0, 1, 2, 3]
    assert [3] in handler.batches
    assert handler.threads == {"test-worker", "caller"}
    worker.stop()
