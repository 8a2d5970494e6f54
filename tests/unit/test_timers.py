"""TimerQueue on the heap and in RocksDB: timestamp order, one timer per (key, timestamp),
deletion, changes while firing, snapshots."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rocksdict import Options, Rdict

from weir.taskmanager.state.rocksdb_cache import EntryCache
from weir.taskmanager.state.rocksdb_timers import RocksDBTimerQueue
from weir.taskmanager.timers import HeapTimerQueue, TimerQueue

QueueFactory = Callable[[], TimerQueue]


@pytest.fixture(params=["heap", "rocksdb"])
def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[QueueFactory]:
    """Empty queues of one kind; RocksDB queues share one database with a small cache,
    so that rows are flushed and evicted while the tests run."""
    if request.param == "heap":
        yield HeapTimerQueue
        return
    db = Rdict(str(tmp_path / "timers"), Options(raw_mode=True))
    cache = EntryCache(db, 16)
    made: list[TimerQueue] = []

    def make() -> TimerQueue:
        made.append(RocksDBTimerQueue(cache, len(made)))
        return made[-1]

    yield make
    db.close()


def drain(queue: TimerQueue, upto: int) -> list[tuple[int, object]]:
    fired = []
    while (due := queue.pop_due(upto)) is not None:
        fired.append(due)
    return fired


def test_timers_fire_in_timestamp_order_then_registration_order(make_queue):
    queue = make_queue()
    timers = [(f"k{i % 7}", random.Random(i).randrange(50)) for i in range(200)]
    expected = []
    for key, timestamp in timers:
        if queue.register(key, timestamp):
            expected.append((timestamp, key))
    expected.sort(key=lambda t: t[0])  # stable: registration order within a timestamp
    assert drain(queue, 10**9) == expected
    assert len(queue) == 0


def test_one_timer_per_key_and_timestamp(make_queue):
    queue = make_queue()
    assert queue.register("a", 10)
    assert not queue.register("a", 10)
    assert queue.register("b", 10)
    assert queue.register("a", 11)
    assert len(queue) == 3
    assert drain(queue, 11) == [(10, "a"), (10, "b"), (11, "a")]


def test_only_due_timers_fire_and_the_rest_wait(make_queue):
    queue = make_queue()
    for t in (5, 15, 25):
        queue.register("k", t)
    assert drain(queue, 14) == [(5, "k")]
    assert queue.next_timestamp() == 15
    assert drain(queue, 25) == [(15, "k"), (25, "k")]
    assert queue.next_timestamp() is None


def test_deleted_timers_never_fire(make_queue):
    queue = make_queue()
    for key in "abc":
        queue.register(key, 10)
    queue.register("a", 20)
    queue.delete("b", 10)
    queue.delete("a", 20)
    queue.delete("zz", 99)  # unknown: no effect
    assert len(queue) == 2
    assert drain(queue, 100) == [(10, "a"), (10, "c")]


def test_a_firing_timer_may_delete_register_and_re_register_due_timers(make_queue):
    queue = make_queue()
    for key in "abcd":
        queue.register(key, 10)
    fired = []
    while (due := queue.pop_due(10)) is not None:
        fired.append(due)
        if len(fired) == 1:
            queue.delete("c", 10)       # not fired after all
            queue.register("e", 10)     # same timestamp: fires in this round, after the others
            queue.register("early", 5)  # earlier timestamp: fires next
            queue.register("a", 10)     # itself again: fires once more
    assert fired == [(10, "a"), (5, "early"), (10, "b"), (10, "d"), (10, "e"), (10, "a")]


def test_snapshot_and_restore_keep_every_timer_in_order(make_queue):
    queue = make_queue()
    for key, timestamp in [("x", 30), ("y", 10), (("k", 1), 20), ("z", 10)]:
        queue.register(key, timestamp)
    queue.delete("x", 30)
    snapshot = queue.snapshot()
    assert snapshot == [("y", 10), ("z", 10), (("k", 1), 20)]
    restored = make_queue()
    restored.restore(snapshot)
    assert drain(restored, 100) == [(10, "y"), (10, "z"), (20, ("k", 1))]


def test_many_keys_on_one_timestamp_fire_in_linear_time(make_queue):
    queue = make_queue()
    keys = 200_000 if isinstance(queue, HeapTimerQueue) else 20_000
    for key in range(keys):
        queue.register(key, 60_000)
    fired = drain(queue, 60_000)
    assert [key for _, key in fired] == list(range(keys))


def test_queues_sharing_a_database_keep_apart(make_queue):
    first, second = make_queue(), make_queue()
    first.register("a", 10)
    second.register("a", 5)
    second.register("b", 10)
    assert drain(first, 100) == [(10, "a")]
    assert second.snapshot() == [("a", 5), ("b", 10)]
    assert drain(second, 100) == [(5, "a"), (10, "b")]
