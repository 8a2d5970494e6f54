"""Keyed state: descriptors, state interfaces and TTL (``pyflink.datastream.state``).

State objects are scoped to the key of the record (or timer) being processed.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from weir.common.time import Time
from weir.common.typeinfo import TypeInformation

__all__ = [
    "AggregatingState",
    "AggregatingStateDescriptor",
    "BroadcastState",
    "CleanupStrategies",
    "IncrementalCleanupStrategy",
    "ListState",
    "ListStateDescriptor",
    "MapState",
    "MapStateDescriptor",
    "ReadOnlyBroadcastState",
    "ReducingState",
    "ReducingStateDescriptor",
    "RocksdbCompactFilterCleanupStrategy",
    "State",
    "StateDescriptor",
    "StateTtlConfig",
    "ValueState",
    "ValueStateDescriptor",
]

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class State(abc.ABC):
    @abc.abstractmethod
    def clear(self) -> None: ...


class ValueState(State, Generic[T]):
    @abc.abstractmethod
    def value(self) -> T | None: ...

    @abc.abstractmethod
    def update(self, value: T) -> None: ...


class ListState(State, Generic[T]):
    @abc.abstractmethod
    def get(self) -> Iterable[T]: ...

    @abc.abstractmethod
    def add(self, value: T) -> None: ...

    @abc.abstractmethod
    def add_all(self, values: list[T]) -> None: ...

    @abc.abstractmethod
    def update(self, values: list[T]) -> None: ...

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.get())


class _MapReads(State, Generic[K, V]):
    """The reading half of a map state, shared by ``MapState`` and broadcast state."""

    @abc.abstractmethod
    def get(self, key: K) -> V | None: ...

    @abc.abstractmethod
    def contains(self, key: K) -> bool: ...

    @abc.abstractmethod
    def items(self) -> Iterable[tuple[K, V]]: ...

    @abc.abstractmethod
    def keys(self) -> Iterable[K]: ...

    @abc.abstractmethod
    def values(self) -> Iterable[V]: ...

    @abc.abstractmethod
    def is_empty(self) -> bool: ...

    def __getitem__(self, key: K) -> V:
        value = self.get(key)
        if value is None and not self.contains(key):
            raise KeyError(key)
        return value  # type: ignore[return-value]

    def __contains__(self, key: object) -> bool:
        return self.contains(key)  # type: ignore[arg-type]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.keys())


class _MapWrites(_MapReads[K, V]):
    """A map state that can be changed: ``MapState``, and broadcast state as the broadcast
    side sees it."""

    @abc.abstractmethod
    def put(self, key: K, value: V) -> None: ...

    @abc.abstractmethod
    def put_all(self, dict_value: dict[K, V]) -> None: ...

    @abc.abstractmethod
    def remove(self, key: K) -> None: ...

    def __setitem__(self, key: K, value: V) -> None:
        self.put(key, value)

    def __delitem__(self, key: K) -> None:
        self.remove(key)


class MapState(_MapWrites[K, V]):
    """Keyed state holding a map: each key of the stream has its own."""


class ReadOnlyBroadcastState(_MapReads[K, V]):
    """Broadcast state as ``process_element`` sees it: the same map on every subtask, which
    only ``process_broadcast_element`` may change (so that every copy stays identical)."""


class BroadcastState(_MapWrites[K, V], ReadOnlyBroadcastState[K, V]):
    """Broadcast state as ``process_broadcast_element`` sees it: readable and writable."""


class ReducingState(State, Generic[T]):
    @abc.abstractmethod
    def get(self) -> T | None: ...

    @abc.abstractmethod
    def add(self, value: T) -> None: ...


class AggregatingState(State, Generic[T, V]):
    @abc.abstractmethod
    def get(self) -> V | None: ...

    @abc.abstractmethod
    def add(self, value: T) -> None: ...


@dataclass(frozen=True)
class IncrementalCleanupStrategy:
    """Check ``cleanup_size`` entries of the state at every access of it (and, with
    ``run_cleanup_for_every_record``, for every record the operator processes); drop the
    expired ones."""

    cleanup_size: int = 5
    for_every_record: bool = False

    def get_cleanup_size(self) -> int:
        return self.cleanup_size

    def run_cleanup_for_every_record(self) -> bool:
        return self.for_every_record


@dataclass(frozen=True)
class RocksdbCompactFilterCleanupStrategy:
    """Drop expired entries in the background of the RocksDB backend: rocksdict takes no
    Python compaction filter, so the task drops expired entries it meets while scanning
    ``query_time_after_num_entries`` entries after that many writes."""

    query_time_after_num_entries: int = 1000

    def get_query_time_after_num_entries(self) -> int:
        return self.query_time_after_num_entries


@dataclass(frozen=True)
class CleanupStrategies:
    """How expired state is removed (it is never visible whatever the strategies)."""

    full_snapshot: bool = False
    incremental: IncrementalCleanupStrategy | None = IncrementalCleanupStrategy()
    rocksdb_compact_filter: RocksdbCompactFilterCleanupStrategy | None = \
        RocksdbCompactFilterCleanupStrategy()

    def is_cleanup_in_background(self) -> bool:
        return self.incremental is not None or self.rocksdb_compact_filter is not None

    def in_full_snapshot(self) -> bool:
        return self.full_snapshot

    def get_incremental_cleanup_strategy(self) -> IncrementalCleanupStrategy | None:
        return self.incremental

    def get_rocksdb_compact_filter_cleanup_strategy(
            self) -> RocksdbCompactFilterCleanupStrategy | None:
        return self.rocksdb_compact_filter


@dataclass(frozen=True)
class StateTtlConfig:
    """Time-to-live of keyed state, measured in processing time.

    Expired state is never returned (unless ``ReturnExpiredIfNotCleanedUp``);
    the cleanup strategies decide when it is also removed: when it is read, in
    full snapshots, incrementally on access (heap), or in the background
    (RocksDB). As in Flink, incremental (5 entries per access) and background
    cleanup are on unless ``disable_cleanup_in_background()``.
    """

    class UpdateType(enum.Enum):
        Disabled = 0
        OnCreateAndWrite = 1
        OnReadAndWrite = 2

    class StateVisibility(enum.Enum):
        ReturnExpiredIfNotCleanedUp = 0
        NeverReturnExpired = 1

    class TtlTimeCharacteristic(enum.Enum):
        ProcessingTime = 0

    ttl_ms: int
    update_type: StateTtlConfig.UpdateType = UpdateType.OnCreateAndWrite
    state_visibility: StateTtlConfig.StateVisibility = StateVisibility.NeverReturnExpired
    cleanup_strategies: CleanupStrategies = CleanupStrategies()

    @staticmethod
    def new_builder(ttl: Time) -> StateTtlConfig.Builder:
        return StateTtlConfig.Builder(ttl)

    def is_enabled(self) -> bool:
        return self.update_type is not StateTtlConfig.UpdateType.Disabled

    def get_update_type(self) -> StateTtlConfig.UpdateType:
        return self.update_type

    def get_state_visibility(self) -> StateTtlConfig.StateVisibility:
        return self.state_visibility

    def get_cleanup_strategies(self) -> CleanupStrategies:
        return self.cleanup_strategies

    class Builder:
        def __init__(self, ttl: Time) -> None:
            self._ttl = ttl
            self._update_type = StateTtlConfig.UpdateType.OnCreateAndWrite
            self._visibility = StateTtlConfig.StateVisibility.NeverReturnExpired
            self._full_snapshot = False
            self._incremental: IncrementalCleanupStrategy | None = None
            self._compact_filter: RocksdbCompactFilterCleanupStrategy | None = None
            self._background = True

        def set_update_type(self, update_type: StateTtlConfig.UpdateType) -> StateTtlConfig.Builder:
            self._update_type = update_type
            return self

        def update_ttl_on_create_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(StateTtlConfig.UpdateType.OnCreateAndWrite)

        def update_ttl_on_read_and_write(self) -> StateTtlConfig.Builder:
            return self.set_update_type(StateTtlConfig.UpdateType.OnReadAndWrite)

        def set_state_visibility(
                self, visibility: StateTtlConfig.StateVisibility) -> StateTtlConfig.Builder:
            self._visibility = visibility
            return self

        def return_expired_if_not_cleaned_up(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(
                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)

        def never_return_expired(self) -> StateTtlConfig.Builder:
            return self.set_state_visibility(StateTtlConfig.StateVisibility.NeverReturnExpired)

        def set_ttl(self, ttl: Time) -> StateTtlConfig.Builder:
            self._ttl = ttl
            return self

        def set_ttl_time_characteristic(self, _: Any) -> StateTtlConfig.Builder:
            return self

        def cleanup_full_snapshot(self) -> StateTtlConfig.Builder:
            """Leave expired entries out of every full snapshot (checkpoint, savepoint)."""
            self._full_snapshot = True
            return self

        def cleanup_incrementally(self, cleanup_size: int,
                                  run_cleanup_for_every_record: bool) -> StateTtlConfig.Builder:
            """Check ``cleanup_size`` entries at every state access (heap backend)."""
            if cleanup_size <= 0:
                raise ValueError(f"cleanup_size must be positive, got {cleanup_size}")
            self._incremental = IncrementalCleanupStrategy(cleanup_size,
                                                           run_cleanup_for_every_record)
            return self

        def cleanup_in_rocksdb_compact_filter(
                self, query_time_after_num_entries: int) -> StateTtlConfig.Builder:
            """Drop expired entries in the background (RocksDB backend)."""
            if query_time_after_num_entries <= 0:
                raise ValueError("query_time_after_num_entries must be positive, got "
                                 f"{query_time_after_num_entries}")
            self._compact_filter = RocksdbCompactFilterCleanupStrategy(
                query_time_after_num_entries)
            return self

        def disable_cleanup_in_background(self) -> StateTtlConfig.Builder:
            """No incremental or background cleanup unless configured explicitly."""
            self._background = False
            return self

        def build(self) -> StateTtlConfig:
            incremental, compact_filter = self._incremental, self._compact_filter
            if self._background:
                incremental = incremental or IncrementalCleanupStrategy()
                compact_filter = compact_filter or RocksdbCompactFilterCleanupStrategy()
            return StateTtlConfig(self._ttl.to_milliseconds(), self._update_type,
                                  self._visibility,
                                  CleanupStrategies(self._full_snapshot, incremental,
                                                    compact_filter))


class StateDescriptor:
    """Names a piece of keyed state; the name is unique within one operator."""

    def __init__(self, name: str, type_info: TypeInformation | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("a state descriptor needs a non-empty name")
        self.name = name
        self.type_info = type_info
        self.ttl_config: StateTtlConfig | None = None

    def get_name(self) -> str:
        return self.name

    def enable_time_to_live(self, ttl_config: StateTtlConfig) -> None:
        self.ttl_config = ttl_config if ttl_config.is_enabled() else None


class ValueStateDescriptor(StateDescriptor):
    def __init__(self, name: str, value_type_info: TypeInformation | None = None) -> None:
        super().__init__(name, value_type_info)


class ListStateDescriptor(StateDescriptor):
    def __init__(self, name: str, elem_type_info: TypeInformation | None = None) -> None:
        super().__init__(name, elem_type_info)


class MapStateDescriptor(StateDescriptor):
    def __init__(self, name: str, key_type_info: TypeInformation | None = None,
                 value_type_info: TypeInformation | None = None) -> None:
        super().__init__(name, value_type_info)
        self.key_type_info = key_type_info


class ReducingStateDescriptor(StateDescriptor):
    def __init__(self, name: str, reduce_function: Any,
                 type_info: TypeInformation | None = None) -> None:
        super().__init__(name, type_info)
        self.reduce_function = reduce_function


class AggregatingStateDescriptor(StateDescriptor):
    def __init__(self, name: str, agg_function: Any,
                 state_type_info: TypeInformation | None = None) -> None:
        super().__init__(name, state_type_info)
        self.agg_function = agg_function
