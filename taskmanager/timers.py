"""Per-key timers of one operator: one timer per (key, timestamp), fired in timestamp order.

``TimerQueue`` is the interface; ``HeapTimerQueue`` keeps timers in memory (the heap
backend's, and Flink's ``timer-service.factory: HEAP``); the RocksDB backend keeps them
in a database (``taskmanager/state/rocksdb_timers.py``).

Heap timers are bucketed by timestamp: windows make many keys share a timestamp
(every key's window ends at the same time), so a bucket per timestamp plus a
heap of distinct timestamps keeps registration to two dict operations and
firing a whole bucket linear. Within a timestamp, timers fire in registration
order. The key is whatever the operator scopes timers by: the record key, or
``(key, window)`` for window operators.
"""

from __future__ import annotations

import abc
import heapq
from typing import Any

__all__ = ["HeapTimerQueue", "TimerQueue"]


class TimerQueue(abc.ABC):
    """Timers of one time domain of one operator subtask; touched only by its task."""

    @abc.abstractmethod
    def __len__(self) -> int: ...

    @abc.abstractmethod
    def register(self, key: Any, timestamp: int) -> bool:
        """Add a timer; False when (key, timestamp) was already registered."""

    @abc.abstractmethod
    def delete(self, key: Any, timestamp: int) -> None: ...

    @abc.abstractmethod
    def snapshot(self) -> list[tuple[Any, int]]:
        """Every registered (key, timestamp) in firing order, for a checkpoint."""

    def restore(self, timers: list[tuple[Any, int]] | None) -> None:
        for key, timestamp in timers or ():
            self.register(key, timestamp)

    @abc.abstractmethod
    def next_timestamp(self) -> int | None: ...

    @abc.abstractmethod
    def pop_due(self, upto: int) -> tuple[int, Any] | None:
        """The earliest timer with timestamp <= ``upto``, removed; None if there is none.

        Popping one at a time lets a firing timer register or delete timers,
        including due ones, and have that respected. Within a timestamp, timers fire
        in registration order.
        """


class HeapTimerQueue(TimerQueue):
    """Timers in memory, bucketed by timestamp."""

    def __init__(self) -> None:
        self._buckets: dict[int, dict[Any, None]] = {}
        self._times: list[int] = []  # heap; may hold timestamps whose bucket is gone
        self._size = 0
        # The bucket being fired: a snapshot of its keys (reversed), taken when firing starts.
        self._firing_time: int | None = None
        self._firing: list[Any] = []

    def __len__(self) -> int:
        return self._size

    def register(self, key: Any, timestamp: int) -> bool:
        bucket = self._buckets.get(timestamp)
        if bucket is None:
            bucket = self._buckets[timestamp] = {}
            heapq.heappush(self._times, timestamp)
        elif key in bucket:
            return False
        bucket[key] = None
        self._size += 1
        return True

    def delete(self, key: Any, timestamp: int) -> None:
        bucket = self._buckets.get(timestamp)
        if bucket is not None and key in bucket:
            del bucket[key]
            self._size -= 1
            if not bucket:
                del self._buckets[timestamp]

    def snapshot(self) -> list[tuple[Any, int]]:
        return [(key, timestamp) for timestamp in sorted(self._buckets)
                for key in self._buckets[timestamp]]

    def next_timestamp(self) -> int | None:
        times = self._times
        buckets = self._buckets
        while times and times[0] not in buckets:
            heapq.heappop(times)
        return times[0] if times else None

    def pop_due(self, upto: int) -> tuple[int, Any] | None:
        while True:
            timestamp = self.next_timestamp()
            if timestamp is None or timestamp > upto:
                return None
            bucket = self._buckets[timestamp]
            if timestamp != self._firing_time or not self._firing:
                self._firing_time = timestamp
                self._firing = list(reversed(bucket))
            firing = self._firing
            while firing:
                key = firing.pop()
                if key in bucket:  # not deleted meanwhile
                    del bucket[key]
                    self._size -= 1
                    if not bucket:
                        del self._buckets[timestamp]
                    return timestamp, key
            # keys registered at this timestamp while it fired: take a new snapshot
