"""State backends a job chooses (``pyflink.datastream.state_backend``).

A state backend here is a description: ``env.set_state_backend(...)`` writes it
into the job's configuration (``state.backend`` and its options), which the
TaskManagers read when they create each keyed operator's backend.
"""

from __future__ import annotations

import abc

__all__ = ["EmbeddedRocksDBStateBackend", "HashMapStateBackend", "StateBackend",
           "state_backend_from_configuration"]

STATE_BACKEND = "state.backend"
INCREMENTAL = "state.backend.incremental"
ROCKSDB_LOCALDIR = "state.backend.rocksdb.localdir"


class StateBackend(abc.ABC):
    """Where keyed state lives while a job runs."""

    @abc.abstractmethod
    def to_configuration(self) -> dict[str, str]:
        """The configuration entries that select this backend."""


class HashMapStateBackend(StateBackend):
    """Keyed state as objects on the Python heap (the default): fastest, bounded by memory."""

    def to_configuration(self) -> dict[str, str]:
        return {STATE_BACKEND: "hashmap"}

    def __repr__(self) -> str:
        return "HashMapStateBackend()"


class EmbeddedRocksDBStateBackend(StateBackend):
    """Keyed state in an embedded RocksDB database per operator subtask, serialized: state
    may outgrow memory, at a per-access (de)serialization cost."""

    def __init__(self, enable_incremental_checkpointing: bool | None = None) -> None:
        self._incremental = enable_incremental_checkpointing
        self._local_directories: list[str] = []

    def is_incremental_checkpoints_enabled(self) -> bool:
        return bool(self._incremental)

    def set_db_storage_paths(self, *paths: str) -> None:
        """Where the databases live (``state.backend.rocksdb.localdir``)."""
        self._local_directories = list(paths)

    def get_db_storage_paths(self) -> list[str]:
        return list(self._local_directories)

    def to_configuration(self) -> dict[str, str]:
        entries = {STATE_BACKEND: "rocksdb"}
        if self._incremental is not None:
            entries[INCREMENTAL] = str(self._incremental).lower()
        if self._local_directories:
            entries[ROCKSDB_LOCALDIR] = ",".join(self._local_directories)
        return entries

    def __repr__(self) -> str:
        return f"EmbeddedRocksDBStateBackend(enable_incremental_checkpointing={self._incremental})"


def state_backend_from_configuration(configuration: dict[str, str]) -> StateBackend:
    """The backend a configuration selects (HashMap when it names none)."""
    if configuration.get(STATE_BACKEND, "hashmap").strip().lower() != "rocksdb":
        return HashMapStateBackend()
    incremental = configuration.get(INCREMENTAL)
    backend = EmbeddedRocksDBStateBackend(
        None if incremental is None else incremental.strip().lower() == "true")
    if configuration.get(ROCKSDB_LOCALDIR):
        backend.set_db_storage_paths(*configuration[ROCKSDB_LOCALDIR].split(","))
    return backend
