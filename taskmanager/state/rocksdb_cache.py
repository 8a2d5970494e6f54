"""The RocksDB backend's cache of unpickled entries in front of a database."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

from rocksdict import Rdict, WriteBatch

__all__ = ["DELETED", "MISSING", "EntryCache"]

MISSING = object()  # no entry under the key
DELETED = object()  # the entry was deleted and the deletion is not written yet
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps
_loads = pickle.loads


class EntryCache:
    """Unpickled entries over the database: values read or written lately (database key →
    value, or ``DELETED``), at most ``max_entries``; written ones are dirty until a flush
    writes them in one write batch.

    Reads of a hot key cost a dict lookup, not a database read and an unpickle; when the
    cache is full, the dirty entries are flushed and the older half is forgotten
    (insertion order: a key written again moves to the young end).
    """

    def __init__(self, db: Rdict, max_entries: int) -> None:
        self.db = db  # replaced when a restore opens a downloaded database
        self._max_entries = max(max_entries, 1)
        self._entries: dict[bytes, Any] = {}
        self._dirty: set[bytes] = set()
        # Flushes that wrote entries, and invalidations: equal to a caller's earlier reading
        # means nothing reached the database since.
        self.flushes = 0

    def get(self, db_key: bytes) -> Any:
        """The value under ``db_key``, or ``MISSING``."""
        value = self._entries.get(db_key, MISSING)
        if value is MISSING:
            raw = self.db.get(db_key)
            if raw is None:
                return MISSING
            value = self._entries[db_key] = _loads(raw)
            if len(self._entries) > self._max_entries:
                self._shrink()
            return value
        return MISSING if value is DELETED else value

    def peek(self, db_key: bytes) -> Any:
        """The cached value under ``db_key``, or ``MISSING``, without reading the database:
        for keys the caller knows were never written to it."""
        value = self._entries.get(db_key, MISSING)
        return MISSING if value is DELETED else value

    def put(self, db_key: bytes, value: Any) -> None:
        entries = self._entries
        entries.pop(db_key, None)  # to the young end
        entries[db_key] = value
        self._dirty.add(db_key)
        if len(entries) > self._max_entries:
            self._shrink()

    def flush(self) -> None:
        """Write the dirty entries to the database; the cache keeps them."""
        if not self._dirty:
            return
        batch = WriteBatch(raw_mode=True)
        entries = self._entries
        for db_key in self._dirty:
            value = entries[db_key]
            if value is DELETED:
                batch.delete(db_key)
            else:
                batch.put(db_key, _dumps(value, _PROTOCOL))
        self.db.write(batch)
        self._dirty.clear()
        self.flushes += 1

    def invalidate(self) -> None:
        """Flush and forget everything: the database is about to change underneath."""
        self.flush()
        self._entries.clear()
        self.flushes += 1  # whatever was known absent may be there now

    def _shrink(self) -> None:
        self.flush()
        entries = self._entries
        for db_key in list(itertools.islice(entries, len(entries) // 2)):
            del entries[db_key]
