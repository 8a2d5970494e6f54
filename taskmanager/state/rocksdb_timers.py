"""Timers kept in RocksDB (Flink's ``timer-service.factory: ROCKSDB``), so that a job with a
timer per key and window needs no memory per timer.

All timer queues of one backend share one database of their own (not the state database,
so checkpoints and restores of state are untouched: a snapshot lists the timers as the
heap's does). Two rows per timer, behind a one-byte queue id::

    id | b"o" | timestamp (8 bytes, big-endian, offset to sort signed) | sequence (8 bytes)
        → the timer key                       (the firing order)
    id | b"i" | timestamp | pickle(timer key) → the sequence number   (lookup by key)

The sequence number keeps registration order within a timestamp, as the heap does. Rows
go through an ``EntryCache`` (hot keys cost dict operations; writes are batched); the
queue flushes it before it reads the database in order, a few hundred rows at a time
(``_AHEAD``), and seeks from the last timer it fired rather than from the start, so the
deletions it leaves behind are not scanned again. A timer registered below the rows read
ahead makes the queue read again; one deleted among them is skipped.
"""

from __future__ import annotations

import pickle
from collections import deque
from itertools import islice
from typing import Any

from weir.taskmanager.state.rocksdb_cache import DELETED as _DELETED
from weir.taskmanager.state.rocksdb_cache import MISSING, EntryCache
from weir.taskmanager.state.rocksdb_incremental import items
from weir.taskmanager.timers import TimerQueue

__all__ = ["RocksDBTimerQueue"]

_OFFSET = 1 << 63
_ORDER = b"o"
_INDEX = b"i"
_AHEAD = 256


def _time(timestamp: int) -> bytes:
    return (timestamp + _OFFSET).to_bytes(8, "big")


class RocksDBTimerQueue(TimerQueue):
    """The timers of one queue (``queue_id``) in ``cache``'s database."""

    def __init__(self, cache: EntryCache, queue_id: int) -> None:
        self._cache = cache
        self._order = bytes([queue_id]) + _ORDER
        self._index = bytes([queue_id]) + _INDEX
        self._end = bytes([queue_id]) + bytes([_ORDER[0] + 1])
        self._size = 0
        self._sequence = 0
        self._floor = self._order  # no timer sorts below this order row
        self._ahead: deque[tuple[bytes, bytes]] = deque()  # the first rows, read in order
        self._ahead_rows: set[bytes] = set()
        self._gone: set[bytes] = set()  # rows read ahead and deleted since

    def __len__(self) -> int:
        return self._size

    def register(self, key: Any, timestamp: int) -> bool:
        time = _time(timestamp)
        index = self._index + time + pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
        cache = self._cache
        if cache.get(index) is not MISSING:
            return False
        sequence = self._sequence
        self._sequence += 1
        order = self._order + time + sequence.to_bytes(8, "big")
        cache.put(index, sequence)
        cache.put(order, key)
        self._size += 1
        if self._ahead and order < self._ahead[-1][0]:
            self._forget_ahead()  # it belongs among the rows read ahead: read them again
        self._floor = min(self._floor, order)
        return True

    def delete(self, key: Any, timestamp: int) -> None:
        time = _time(timestamp)
        index = self._index + time + pickle.dumps(key, pickle.HIGHEST_PROTOCOL)
        cache = self._cache
        sequence = cache.get(index)
        if sequence is MISSING:
            return
        order = self._order + time + sequence.to_bytes(8, "big")
        cache.put(index, _DELETED)
        cache.put(order, _DELETED)
        self._size -= 1
        if order in self._ahead_rows:
            self._gone.add(order)

    def _forget_ahead(self) -> None:
        self._ahead.clear()
        self._ahead_rows.clear()
        self._gone.clear()

    def _first(self) -> tuple[bytes, bytes] | None:
        """The first order row (database key, pickled timer key), or None."""
        if not self._size:
            return None
        ahead = self._ahead
        while ahead and ahead[0][0] in self._gone:
            self._ahead_rows.discard(ahead.popleft()[0])
        if not ahead:
            self._forget_ahead()
            self._cache.flush()
            for row, raw in islice(items(self._cache.db, self._floor), _AHEAD):
                if row >= self._end:
                    break
                ahead.append((row, raw))
                self._ahead_rows.add(row)
            if not ahead:
                return None
        self._floor = ahead[0][0]
        return ahead[0]

    def next_timestamp(self) -> int | None:
        first = self._first()
        return None if first is None else int.from_bytes(first[0][2:10], "big") - _OFFSET

    def pop_due(self, upto: int) -> tuple[int, Any] | None:
        first = self._first()
        if first is None:
            return None
        row, raw = first
        timestamp = int.from_bytes(row[2:10], "big") - _OFFSET
        if timestamp > upto:
            return None
        self._ahead.popleft()
        self._ahead_rows.discard(row)
        key = pickle.loads(raw)
        cache = self._cache
        cache.put(self._index + row[2:10] + pickle.dumps(key, pickle.HIGHEST_PROTOCOL), _DELETED)
        cache.put(row, _DELETED)
        self._size -= 1
        return timestamp, key

    def snapshot(self) -> list[tuple[Any, int]]:
        if not self._size:
            return []
        self._cache.flush()
        timers = []
        for row, raw in items(self._cache.db, self._floor):
            if row >= self._end:
                break
            timers.append((pickle.loads(raw), int.from_bytes(row[2:10], "big") - _OFFSET))
        return timers
