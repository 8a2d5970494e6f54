"""RocksDB state backend (Flink's EmbeddedRocksDBStateBackend) on rocksdict.

One embedded database per operator subtask, in a fresh directory under
``state.backend.rocksdb.localdir`` for every attempt (a restarted TaskManager
never opens files an earlier attempt left), deleted on dispose.

Layout of a database key, so a key-group range is a contiguous key range::

    key group (2 bytes, big-endian) | state id (2 bytes) | pickle(namespace) | pickle(key)

Values are pickled (TTL-wrapped as ``(value, expires_at)`` like on the heap).
Writes go to a bounded write-back buffer of unpickled entries (``_WriteBuffer``)
that reads look into first: a key updated by every record costs dict
operations until the buffer is flushed, in one write batch, at every snapshot,
before every scan and whenever it holds ``state.backend.rocksdb.cache.entries``.
The state objects are the heap backend's (``states.py``) working on views of
the database (``_Scope``) that behave as the heap's dicts do. Namespaces in use
are indexed in memory (a few per window operator) so the window operator can
list them without a scan; the index is rebuilt on restore.
"""

from __future__ import annotations

import io
import os
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, cast

from rocksdict import BlockBasedOptions, Cache, Options, Rdict, WriteBatch

from weir.keygroups import KeyGroupRange
from weir.taskmanager.state.backend import Entry, KeyedStateBackend

__all__ = ["RocksDBKeyedStateBackend", "StateBackendError", "open_database"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps
_loads = pickle.loads
_MISSING = object()
_DELETED = object()


class StateBackendError(RuntimeError):
    """A state backend could not be set up; the message names the configuration key."""


def open_database(localdir: str, name: str, block_cache_bytes: int,
                  write_buffer_bytes: int) -> tuple[Rdict, str]:
    """A new database in a fresh, unique directory under ``localdir``, and that directory."""
    try:
        os.makedirs(localdir, exist_ok=True)
        directory = tempfile.mkdtemp(prefix=f"{name}-{uuid.uuid4().hex[:8]}-", dir=localdir)
    except OSError as error:
        raise StateBackendError(f"state.backend.rocksdb.localdir: cannot create a database "
                                f"directory in {localdir!r}: {error.strerror or error}") from None
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    table = BlockBasedOptions()
    table.set_block_cache(Cache(block_cache_bytes))
    options.set_block_based_table_factory(table)
    options.set_write_buffer_size(write_buffer_bytes)
    return Rdict(directory, options), directory


def _items(db: Rdict, from_key: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
    """The database's (key, value) pairs from ``from_key`` on (raw mode: both bytes)."""
    return cast(Iterator[tuple[bytes, bytes]], iter(db.items(from_key=from_key)))


def _successor(prefix: bytes) -> bytes:
    """The smallest byte string greater than every string starting with ``prefix``."""
    stripped = prefix.rstrip(b"\xff")
    return stripped[:-1] + bytes([stripped[-1] + 1])


class _WriteBuffer:
    """Entries written but not yet in the database (database key → value, or ``_DELETED``);
    at most ``max_entries``, then flushed in one write batch."""

    def __init__(self, db: Rdict, max_entries: int) -> None:
        self._db = db
        self._max_entries = max_entries
        self._entries: dict[bytes, Any] = {}

    def get(self, db_key: bytes) -> Any:
        """The value under ``db_key``, or ``_MISSING``."""
        value = self._entries.get(db_key, _MISSING)
        if value is _MISSING:
            raw = self._db.get(db_key)
            return _MISSING if raw is None else _loads(raw)
        return _MISSING if value is _DELETED else value

    def put(self, db_key: bytes, value: Any) -> None:
        entries = self._entries
        entries[db_key] = value
        if len(entries) > self._max_entries:
            self.flush()

    def flush(self) -> None:
        if not self._entries:
            return
        batch = WriteBatch(raw_mode=True)
        for db_key, value in self._entries.items():
            if value is _DELETED:
                batch.delete(db_key)
            else:
                batch.put(db_key, _dumps(value, _PROTOCOL))
        self._db.write(batch)
        self._entries.clear()


class _Scope(MutableMapping[Any, Any]):
    """Key → value entries of one state and namespace, read and written in the database."""

    def __init__(self, backend: RocksDBKeyedStateBackend, middle: bytes) -> None:
        self._db = backend.db
        self._buffer = backend.buffer
        self._prefix_of = backend.key_prefix
        self._groups = backend.group_prefixes
        self._middle = middle  # state id | pickle(namespace)
        self._last_key: Any = _MISSING  # a read-modify-write encodes its key once
        self._last_db_key = b""

    def _db_key(self, key: Any) -> bytes:
        if key is not self._last_key:
            self._last_key = key
            self._last_db_key = self._prefix_of(key) + self._middle + _dumps(key, _PROTOCOL)
        return self._last_db_key

    def get(self, key: Any, default: Any = None) -> Any:
        value = self._buffer.get(self._db_key(key))
        return default if value is _MISSING else value

    def __getitem__(self, key: Any) -> Any:
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        self._buffer.put(self._db_key(key), value)

    def __delitem__(self, key: Any) -> None:
        if self.pop(key, _MISSING) is _MISSING:
            raise KeyError(key)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        db_key = self._db_key(key)
        value = self._buffer.get(db_key)
        if value is _MISSING:
            if default is _MISSING:
                raise KeyError(key)
            return default
        self._buffer.put(db_key, _DELETED)
        return value

    def _raw_items(self) -> Iterator[tuple[bytes, bytes]]:
        """(pickled key, pickled value) in key-group order."""
        self._buffer.flush()
        for group in self._groups:
            prefix = group + self._middle
            skip = len(prefix)
            for db_key, raw in _items(self._db, prefix):
                if not db_key.startswith(prefix):
                    break
                yield db_key[skip:], raw

    def items(self) -> Iterator[tuple[Any, Any]]:  # type: ignore[override]
        for key, raw in self._raw_items():
            yield _loads(key), _loads(raw)

    def values(self) -> Iterator[Any]:  # type: ignore[override]
        for _, raw in self._raw_items():
            yield _loads(raw)

    def __iter__(self) -> Iterator[Any]:
        for key, _ in self._raw_items():
            yield _loads(key)

    def __len__(self) -> int:
        return sum(1 for _ in self._raw_items())

    def __bool__(self) -> bool:
        return next(self._raw_items(), None) is not None

    def drop_all(self) -> None:
        self._buffer.flush()
        for group in self._groups:
            prefix = group + self._middle
            self._db.delete_range(prefix, _successor(prefix))


class _Namespaces(MutableMapping[Any, MutableMapping[Any, Any]]):
    """Namespace → ``_Scope`` of one namespaced state; namespaces indexed in memory."""

    def __init__(self, backend: RocksDBKeyedStateBackend, state_id: bytes) -> None:
        self._backend = backend
        self._state_id = state_id
        self._index: dict[Any, _Scope] = {}

    def get(self, namespace: Any, default: Any = None) -> Any:
        return self._index.get(namespace, default)

    def setdefault(self, namespace: Any, default: Any = None) -> MutableMapping[Any, Any]:
        scope = self._index.get(namespace)
        if scope is None:
            scope = self._index[namespace] = _Scope(
                self._backend, self._state_id + _dumps(namespace, _PROTOCOL))
        return scope

    def __getitem__(self, namespace: Any) -> MutableMapping[Any, Any]:
        return self._index[namespace]

    def __setitem__(self, namespace: Any, entries: MutableMapping[Any, Any]) -> None:
        if namespace in self._index:
            del self[namespace]
        self.setdefault(namespace).update(entries)

    def __delitem__(self, namespace: Any) -> None:
        self._index.pop(namespace).drop_all()

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._index))

    def __len__(self) -> int:
        return len(self._index)


class RocksDBKeyedStateBackend(KeyedStateBackend):
    """Keyed state in an embedded RocksDB database (see the module docstring)."""

    background_ttl_cleanup = True

    def __init__(self, clock_ms: Callable[[], int], key_groups: KeyGroupRange,
                 max_parallelism: int, db: Rdict, directory: str,
                 buffer_entries: int = 10_000) -> None:
        self.db = db
        self.buffer = _WriteBuffer(db, buffer_entries)
        self._directory = directory
        self.group_prefixes = [g.to_bytes(2, "big") for g in range(key_groups.start,
                                                                    key_groups.end + 1)]
        self._group_bytes = [g.to_bytes(2, "big") for g in range(max_parallelism)]
        self._names: dict[bytes, str] = {}  # state id -> state name
        self._tables: dict[str, MutableMapping[Any, Any]] = {}
        super().__init__(clock_ms, key_groups, max_parallelism)

    def key_prefix(self, key: Any) -> bytes:
        """The key-group prefix of ``key``'s database keys."""
        return self._group_bytes[self.key_group_of(key)]

    def _table(self, name: str, namespaced: bool) -> MutableMapping[Any, Any]:
        table = self._tables.get(name)
        if table is None:
            state_id = len(self._names).to_bytes(2, "big")
            self._names[state_id] = name
            self._namespaced[name] = namespaced
            table = self._tables[name] = (
                _Namespaces(self, state_id) if namespaced
                else _Scope(self, state_id + _dumps(None, _PROTOCOL)))
        return table

    def _entries(self) -> Iterator[tuple[int, Entry]]:
        self.buffer.flush()
        for db_key, raw in _items(self.db):
            stream = io.BytesIO(db_key)
            stream.seek(4)
            unpickler = pickle.Unpickler(stream)
            namespace = unpickler.load()
            key = unpickler.load()
            yield (int.from_bytes(db_key[:2], "big"),
                   (self._names[db_key[2:4]], namespace, key, _loads(raw)))

    def dispose(self) -> None:
        self.db.close()
        shutil.rmtree(self._directory, ignore_errors=True)
