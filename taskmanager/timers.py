"""Per-key timers of one operator: one timer per (key, timestamp), fired in timestamp order."""

from __future__ import annotations

import heapq
import itertools
from typing import Any

__all__ = ["TimerQueue"]


class TimerQueue:
    """Timers of one time domain. Deleted timers are skipped lazily when they come due."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Any]] = []
        self._registered: set[tuple[Any, int]] = set()
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return len(self._registered)

    def register(self, key: Any, timestamp: int) -> bool:
        """Add a timer; False when (key, timestamp) was already registered."""
        entry = (key, timestamp)
        if entry in self._registered:
            return False
        self._registered.add(entry)
        heapq.heappush(self._heap, (timestamp, next(self._sequence), key))
        return True

    def delete(self, key: Any, timestamp: int) -> None:
        self._registered.discard((key, timestamp))

    def next_timestamp(self) -> int | None:
        heap = self._heap
        while heap and (heap[0][2], heap[0][0]) not in self._registered:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, upto: int) -> tuple[int, Any] | None:
        """The earliest timer with timestamp <= ``upto``, removed; None if there is none.

        Popping one at a time lets a firing timer register another due timer.
        """
        timestamp = self.next_timestamp()
        if timestamp is None or timestamp > upto:
            return None
        _, _, key = heapq.heappop(self._heap)
        self._registered.discard((key, timestamp))
        return timestamp, key
