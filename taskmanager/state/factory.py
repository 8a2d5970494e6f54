"""Which keyed state backend a keyed operator gets: a pure reading of the job configuration.

``state.backend``: ``hashmap`` (default) or ``rocksdb``; RocksDB reads
``state.backend.rocksdb.localdir`` (default: the system temp directory; with
several comma-separated directories, subtasks take them in turn),
``state.backend.rocksdb.block.cache-size``,
``state.backend.rocksdb.writebuffer.size`` and
``state.backend.rocksdb.cache.entries`` (weir's own: unpickled entries read or
written lately that it keeps in memory, default 100000) and ``state.backend.incremental``
(default false: every checkpoint is full).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from weir.config import ConfigError, Configuration
from weir.config.memory_sizes import parse_memory_size
from weir.datastream.state_backend import INCREMENTAL, ROCKSDB_LOCALDIR, STATE_BACKEND
from weir.keygroups import compute_key_group_range_for_operator_index
from weir.taskmanager.state.backend import KeyedStateBackend
from weir.taskmanager.state.heap import HeapKeyedStateBackend

__all__ = ["create_keyed_state_backend"]

ROCKSDB_BLOCK_CACHE = "state.backend.rocksdb.block.cache-size"
ROCKSDB_WRITE_BUFFER = "state.backend.rocksdb.writebuffer.size"
ROCKSDB_CACHE_ENTRIES = "state.backend.rocksdb.cache.entries"
_HEAP_NAMES = ("hashmap", "heap")


def create_keyed_state_backend(configuration: dict[str, str], name: str,
                               clock_ms: Callable[[], int], subtask_index: int,
                               parallelism: int, max_parallelism: int) -> KeyedStateBackend:
    """The backend ``configuration`` asks for, owning subtask ``subtask_index``'s key groups.

    Raises:
        ConfigError: for an unknown backend or a malformed size.
        StateBackendError: when the RocksDB directory cannot be created (names the key).
    """
    key_groups = compute_key_group_range_for_operator_index(max_parallelism, parallelism,
                                                             subtask_index)
    kind = configuration.get(STATE_BACKEND, "hashmap").strip().lower()
    if kind in _HEAP_NAMES:
        return HeapKeyedStateBackend(clock_ms, key_groups, max_parallelism)
    if kind != "rocksdb":
        raise ConfigError(f"configuration '{STATE_BACKEND}' must be 'hashmap' or 'rocksdb', "
                          f"got {kind!r}")
    from weir.taskmanager.state.rocksdb import LocalDatabases, RocksDBKeyedStateBackend

    entries = configuration.get(ROCKSDB_CACHE_ENTRIES, "100000").strip()
    if not entries.isdigit() or int(entries) < 1:
        raise ConfigError(f"configuration '{ROCKSDB_CACHE_ENTRIES}' must be a positive "
                          f"number of entries, got {entries!r}")
    incremental = Configuration(configuration).get_boolean(INCREMENTAL)
    directories = [d.strip() for d in configuration.get(ROCKSDB_LOCALDIR, "").split(",")
                   if d.strip()] or [tempfile.gettempdir()]
    databases = LocalDatabases(
        directories[subtask_index % len(directories)],
        f"{name}-{subtask_index}",
        parse_memory_size(configuration.get(ROCKSDB_BLOCK_CACHE, "8 mb"), ROCKSDB_BLOCK_CACHE),
        parse_memory_size(configuration.get(ROCKSDB_WRITE_BUFFER, "64 mb"), ROCKSDB_WRITE_BUFFER))
    return RocksDBKeyedStateBackend(clock_ms, key_groups, max_parallelism, databases,
                                    int(entries), incremental, configuration)
