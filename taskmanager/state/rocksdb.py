"""RocksDB state backend (Flink's EmbeddedRocksDBStateBackend) on rocksdict.

One embedded database per operator subtask, in a fresh directory under
``state.backend.rocksdb.localdir`` for every attempt (a restarted TaskManager
never opens files an earlier attempt left), deleted on dispose; inside the
TaskManager process's working directory there, so that what a killed process
left is deleted by the next attempt (``working_directory``).

Layout of a database key, so a key-group range is a contiguous key range::

    key group (2 bytes, big-endian) | state id (2 bytes) | pickle(namespace) | pickle(key)

Values are pickled (TTL-wrapped as ``(value, expires_at)`` like on the heap).
A bounded cache of unpickled entries (``EntryCache``) sits in front: reads look
into it first and keep what they load; writes stay in it, dirty, until a flush
writes them in one batch, at every snapshot, before every scan and whenever it
holds ``state.backend.rocksdb.cache.entries``; so a hot key costs dict operations.
The state objects are the heap backend's (``states.py``) working on views of
the database (``_Scope``) that behave as the heap's dicts do. Namespaces in use
are indexed in memory (a few per window operator) so the window operator can
list them without a scan; the index is rebuilt on restore. Timers live in a second
database (``rocksdb_timers``), so state snapshots and restores never see them.

With ``state.backend.incremental`` a snapshot is a native RocksDB checkpoint
finished after the barrier (``rocksdb_incremental``); otherwise, and for
savepoints, it is the backend-neutral ``KeyedStateSnapshot``.
"""

from __future__ import annotations

import functools
import pickle
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from rocksdict import BlockBasedOptions, Cache, Checkpoint, Options, Rdict

from weir.keygroups import KeyGroupRange
from weir.taskmanager.state.backend import Entry, KeyedStateBackend, KeyedStateSnapshot
from weir.taskmanager.state.pending_snapshot import PendingSnapshot
from weir.taskmanager.state.rocksdb_cache import DELETED as _DELETED
from weir.taskmanager.state.rocksdb_cache import MISSING as _MISSING
from weir.taskmanager.state.rocksdb_cache import EntryCache
from weir.taskmanager.state.rocksdb_incremental import (
    PendingRocksDBSnapshot,
    RocksDBIncrementalSnapshot,
    UploadedFiles,
    copy_key_groups,
    decode_entries,
    download,
    items,
    namespaces_in,
    open_read_only,
    restorable_in_place,
    successor,
)
from weir.taskmanager.state.rocksdb_timers import RocksDBTimerQueue
from weir.taskmanager.state.working_directory import working_directory
from weir.taskmanager.timers import TimerQueue

__all__ = ["LocalDatabases", "RocksDBKeyedStateBackend", "StateBackendError"]

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_dumps = pickle.dumps
_loads = pickle.loads


class StateBackendError(RuntimeError):
    """A state backend could not be set up; the message names the configuration key."""


@dataclass(frozen=True)
class LocalDatabases:
    """Where and how one subtask's databases are opened: every database (the first, a
    restored one, a downloaded one to copy from) gets a fresh directory in this process's
    working directory under ``localdir``, never one an earlier attempt left; what killed
    TaskManagers left there is deleted first (``working_directory``)."""

    localdir: str
    name: str
    block_cache_bytes: int
    write_buffer_bytes: int

    def fresh_directory(self, kind: str = "") -> str:
        try:
            return tempfile.mkdtemp(prefix=f"{self.name}-{kind}{uuid.uuid4().hex[:8]}-",
                                    dir=working_directory(self.localdir))
        except OSError as error:
            raise StateBackendError(
                f"state.backend.rocksdb.localdir: cannot create a database directory in "
                f"{self.localdir!r}: {error.strerror or error}") from None

    def open(self, directory: str) -> Rdict:
        """The database in ``directory`` (created when empty)."""
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        table = BlockBasedOptions()
        table.set_block_cache(Cache(self.block_cache_bytes))
        options.set_block_based_table_factory(table)
        options.set_write_buffer_size(self.write_buffer_bytes)
        return Rdict(directory, options)


class _Scope(MutableMapping[Any, Any]):
    """Key → value entries of one state and namespace, read and written in the database."""

    def __init__(self, backend: RocksDBKeyedStateBackend, middle: bytes,
                 new: bool = False) -> None:
        self._buffer = backend.buffer
        self._prefix_of = backend.key_prefix
        self._groups = backend.group_prefixes
        self._middle = middle  # state id | pickle(namespace)
        self._last_key: Any = _MISSING  # a read-modify-write encodes its key once
        self._last_db_key = b""
        # A namespace opened new (a window that just began) has no row in the database
        # until the cache flushes: until then a key not in the cache is known absent.
        self._unflushed_since = backend.buffer.flushes if new else -1

    def _db_key(self, key: Any) -> bytes:
        if key is not self._last_key:
            self._last_key = key
            self._last_db_key = self._prefix_of(key) + self._middle + _dumps(key, _PROTOCOL)
        return self._last_db_key

    def get(self, key: Any, default: Any = None) -> Any:
        buffer = self._buffer
        if buffer.flushes == self._unflushed_since:
            value = buffer.peek(self._db_key(key))
        else:
            value = buffer.get(self._db_key(key))
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
            for db_key, raw in items(self._buffer.db, prefix):
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
        self._buffer.invalidate()
        for group in self._groups:
            prefix = group + self._middle
            self._buffer.db.delete_range(prefix, successor(prefix))


class _Namespaces(MutableMapping[Any, MutableMapping[Any, Any]]):
    """Namespace → ``_Scope`` of one namespaced state; namespaces indexed in memory."""

    def __init__(self, backend: RocksDBKeyedStateBackend, state_id: bytes) -> None:
        self._backend = backend
        self._state_id = state_id
        self._index: dict[Any, _Scope] = {}

    def get(self, namespace: Any, default: Any = None) -> Any:
        return self._index.get(namespace, default)

    def setdefault(self, namespace: Any, default: Any = None) -> MutableMapping[Any, Any]:
        return self.open(namespace, new=True)

    def open(self, namespace: Any, new: bool) -> MutableMapping[Any, Any]:
        """The scope of ``namespace``, indexed; ``new``: it has no rows in the database."""
        scope = self._index.get(namespace)
        if scope is None:
            scope = self._index[namespace] = _Scope(
                self._backend, self._state_id + _dumps(namespace, _PROTOCOL), new)
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
    """Keyed state in an embedded RocksDB database (see the module docstring).

    ``incremental``: snapshots are ``PendingRocksDBSnapshot``s; ``storage_configuration``
    has the options to download an incremental snapshot's files on restore.
    """

    background_ttl_cleanup = True

    def __init__(self, clock_ms: Callable[[], int], key_groups: KeyGroupRange,
                 max_parallelism: int, databases: LocalDatabases,
                 buffer_entries: int = 100_000, incremental: bool = False,
                 storage_configuration: Mapping[str, str] | None = None) -> None:
        self._databases = databases
        self._directory = databases.fresh_directory()
        self.buffer = EntryCache(databases.open(self._directory), buffer_entries)
        # Timers in a database of their own, so state snapshots and restores never see them.
        self._timer_directory = databases.fresh_directory("timers-")
        self._timer_cache = EntryCache(databases.open(self._timer_directory), buffer_entries)
        self._incremental = incremental
        self._storage_configuration = dict(storage_configuration or {})
        self._uploaded = UploadedFiles()
        self.group_prefixes = [g.to_bytes(2, "big") for g in range(key_groups.start,
                                                                    key_groups.end + 1)]
        self._group_bytes = [g.to_bytes(2, "big") for g in range(max_parallelism)]
        self._names: dict[bytes, str] = {}  # state id -> state name
        self._ids: dict[str, bytes] = {}  # state name -> state id
        self._tables: dict[str, MutableMapping[Any, Any]] = {}
        super().__init__(clock_ms, key_groups, max_parallelism)

    @property
    def db(self) -> Rdict:
        return self.buffer.db

    def key_prefix(self, key: Any) -> bytes:
        """The key-group prefix of ``key``'s database keys."""
        return self._group_bytes[self.key_group_of(key)]

    def _table(self, name: str, namespaced: bool) -> MutableMapping[Any, Any]:
        table = self._tables.get(name)
        if table is None:
            table = self._create_table(name, namespaced, len(self._names).to_bytes(2, "big"))
        return table

    def _create_table(self, name: str, namespaced: bool,
                      state_id: bytes) -> MutableMapping[Any, Any]:
        self._names[state_id] = name
        self._ids[name] = state_id
        self._namespaced[name] = namespaced
        table = self._tables[name] = (
            _Namespaces(self, state_id) if namespaced
            else _Scope(self, state_id + _dumps(None, _PROTOCOL)))
        return table

    def _entries(self) -> Iterator[tuple[int, Entry]]:
        self.buffer.flush()
        return decode_entries(items(self.db), self._names)

    def snapshot(self) -> KeyedStateSnapshot | PendingSnapshot:
        """Incremental: a native checkpoint now, uploaded after the barrier; else every
        entry (see ``KeyedStateBackend.snapshot``)."""
        if not self._incremental:
            return super().snapshot()
        self.buffer.flush()
        pending = PendingRocksDBSnapshot(
            self._databases.fresh_directory("chk-"), self.key_groups, self.timer_snapshot(),
            dict(self._names), self._uploaded,
            functools.partial(self.add_live_entries, now=self._clock_ms()))
        Checkpoint(self.db).create_checkpoint(pending.directory)
        return pending

    def restore(self, snapshots: Iterable[Any]) -> None:
        """Canonical snapshots as every backend restores them; an incremental snapshot of
        exactly this key-group range is opened as the database, any other is copied from."""
        given = [s for s in snapshots if s is not None]
        native = [s for s in given if isinstance(s, RocksDBIncrementalSnapshot)]
        super().restore([s.skeleton if isinstance(s, RocksDBIncrementalSnapshot) else s
                         for s in given])
        if not native:
            return
        if restorable_in_place(given, self.key_groups, self._names) and self._is_empty():
            self._open_restored(native[0])
        else:
            for snapshot in native:
                self._copy_restored(snapshot)
        self._index_namespaces()

    def _is_empty(self) -> bool:
        self.buffer.flush()
        return next(items(self.db), None) is None

    def _open_restored(self, snapshot: RocksDBIncrementalSnapshot) -> None:
        directory = self._databases.fresh_directory("restored-")
        download(snapshot, directory, self._storage_configuration)
        self.buffer.invalidate()
        self.db.close()
        shutil.rmtree(self._directory, ignore_errors=True)
        self.buffer.db, self._directory = self._databases.open(directory), directory
        for state_id, name in snapshot.state_ids.items():
            if state_id not in self._names:
                self._create_table(name, snapshot.skeleton.namespaced.get(name, False), state_id)
        self._uploaded.record(snapshot.checkpoint_id, snapshot.sst_files)

    def _copy_restored(self, snapshot: RocksDBIncrementalSnapshot) -> None:
        """Copy the entries of this backend's key groups out of ``snapshot``'s database."""
        directory = self._databases.fresh_directory("rescaled-")
        try:
            download(snapshot, directory, self._storage_configuration)
            source = open_read_only(directory)
            try:
                self._copy_key_groups(source, snapshot)
            finally:
                source.close()
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _copy_key_groups(self, source: Rdict, snapshot: RocksDBIncrementalSnapshot) -> None:
        self.buffer.invalidate()
        ids = {old: self._state_id(name, snapshot.skeleton.namespaced.get(name, False))
               for old, name in snapshot.state_ids.items()}
        copy_key_groups(source, self.db, self.key_groups, ids)

    def _state_id(self, name: str, namespaced: bool) -> bytes:
        """The id of state ``name`` in this database (registered if new)."""
        self._table(name, namespaced)
        return self._ids[name]

    def _index_namespaces(self) -> None:
        """Rebuild the in-memory namespace index of every namespaced state from the keys."""
        for name, table in self._tables.items():
            if isinstance(table, _Namespaces):
                for group in self.group_prefixes:
                    for namespace in namespaces_in(self.db, group + self._ids[name]):
                        table.open(namespace, new=False)

    def _new_timer_queue(self) -> TimerQueue:
        return RocksDBTimerQueue(self._timer_cache, len(self._timers))

    def dispose(self) -> None:
        self.db.close()
        shutil.rmtree(self._directory, ignore_errors=True)
        self._timer_cache.db.close()
        shutil.rmtree(self._timer_directory, ignore_errors=True)
