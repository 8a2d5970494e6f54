"""State objects (Value, List, Map, Reducing, Aggregating), shared by every backend.

A state object reads and writes a table its backend gives it, a mutable
mapping: ``table[key] = value``, or for namespaced state (window contents,
trigger state) ``table[namespace][key] = value``. The heap backend's tables are
dicts; the RocksDB backend's are views over the database with the same
behaviour, so TTL, merging and every state kind are written once.

TTL (``ttl.py``) applies to a whole value (value, reducing, aggregating
state), to each list (list state) and to each entry (map state). Map state
writes its inner dict back after every change (a backend may hand out copies).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from weir.datastream.functions import function_call
from weir.datastream.state import (
    AggregatingState,
    AggregatingStateDescriptor,
    ListState,
    MapState,
    ReducingState,
    ReducingStateDescriptor,
    State,
    StateDescriptor,
    ValueState,
)
from weir.taskmanager.state.ttl import MISSING as _MISSING
from weir.taskmanager.state.ttl import PlainAccess, TtlAccess, TtlCleanup, unexpired

if TYPE_CHECKING:
    from weir.taskmanager.state.backend import Entry, KeyedStateBackend

__all__ = ["StateRegistry"]

class _KeyedState:
    def __init__(self, backend: KeyedStateBackend, table: MutableMapping[Any, Any],
                 access: TtlAccess | PlainAccess, namespaced: bool) -> None:
        self._backend = backend
        self._table = table
        self._access = access
        self._namespaced = namespaced
        self._ttl = isinstance(access, TtlAccess)
        if not namespaced:  # the per-record path of keyed functions skips the namespace
            self._get = self._get_plain  # type: ignore[method-assign]
            self._put = self._put_plain  # type: ignore[method-assign]

    def _get_plain(self) -> Any:
        return self._access.read(self._table, self._backend.current_key)

    def _put_plain(self, value: Any) -> None:
        self._access.write(self._table, self._backend.current_key, value)

    def _scope(self, create: bool, namespace: Any = _MISSING) -> MutableMapping[Any, Any] | None:
        """The dict holding the current key's entry: the table itself, or for namespaced
        state the dict of ``namespace`` (default: the current one)."""
        if not self._namespaced:
            return self._table
        if namespace is _MISSING:
            namespace = self._backend.current_namespace
        scope = self._table.get(namespace)
        if scope is None and create:
            scope = self._table.setdefault(namespace, {})
        return scope

    def _get(self) -> Any:
        scope = self._scope(False)
        return _MISSING if scope is None else self._access.read(scope, self._backend.current_key)

    def _put(self, value: Any) -> None:
        self._access.write(self._scope(True), self._backend.current_key, value)  # type: ignore

    def clear(self) -> None:
        self._drop(self._backend.current_namespace if self._namespaced else None)

    def _drop(self, namespace: Any) -> None:
        scope = self._scope(False, namespace)
        if scope is not None:
            scope.pop(self._backend.current_key, None)
            if self._namespaced and not scope:
                del self._table[namespace]


class _MergingState(_KeyedState):
    """List, reducing and aggregating state: namespaces of one key can merge (sessions)."""

    def _combine(self, first: Any, second: Any) -> Any:
        raise NotImplementedError

    def merge_namespaces(self, target: Any, sources: Iterable[Any]) -> None:
        """Fold the current key's values in ``sources`` into ``target``; sources are cleared."""
        merged = _MISSING
        key = self._backend.current_key
        for namespace in sources:
            scope = self._scope(False, namespace)
            value = _MISSING if scope is None else self._access.read(scope, key)
            self._drop(namespace)
            if value is not _MISSING:
                merged = value if merged is _MISSING else self._combine(merged, value)
        if merged is _MISSING:
            return
        scope = self._scope(True, target)
        current = self._access.read(scope, key)  # type: ignore[arg-type]
        self._access.write(scope, key,  # type: ignore[arg-type]
                           merged if current is _MISSING else self._combine(current, merged))


class _Value(_KeyedState, ValueState):
    def value(self) -> Any:
        value = self._get()
        return None if value is _MISSING else value

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._put(value)


class _List(_MergingState, ListState):
    def _combine(self, first: Any, second: Any) -> Any:
        return first + second

    def get(self) -> list[Any]:
        value = self._get()
        return [] if value is _MISSING else list(value)

    def add(self, value: Any) -> None:
        if value is None:
            raise ValueError("cannot add None to a ListState")
        self.add_all([value])

    def add_all(self, values: list[Any]) -> None:
        current = self._get()
        if current is _MISSING:
            current = []
        current.extend(values)
        self._put(current)

    def update(self, values: list[Any]) -> None:
        if values:
            self._put(list(values))
        else:
            self.clear()


class _Map(_KeyedState, MapState):
    """One inner dict per key; TTL applies per entry of the inner dict."""

    def _map(self, create: bool) -> MutableMapping[Any, Any] | None:
        scope = self._scope(create)
        if scope is None:
            return None
        key = self._backend.current_key
        inner = scope.get(key)
        if inner is None and create:
            inner = scope[key] = {}
        return inner

    def get(self, key: Any) -> Any:
        inner = self._map(False)
        if inner is None:
            return None
        value = self._read(inner, key)
        return None if value is _MISSING else value

    def _store(self, inner: MutableMapping[Any, Any]) -> None:
        """Write the inner dict back: a backend may hand out copies (RocksDB)."""
        if inner:
            self._scope(True)[self._backend.current_key] = inner  # type: ignore[index]
        else:
            self.clear()

    def _read(self, inner: MutableMapping[Any, Any], key: Any) -> Any:
        value = self._access.read(inner, key)
        if self._ttl:  # a read may have dropped or refreshed the entry
            self._store(inner)
        return value

    def put(self, key: Any, value: Any) -> None:
        inner = self._map(True)
        self._access.write(inner, key, value)  # type: ignore[arg-type]
        self._store(inner)  # type: ignore[arg-type]

    def put_all(self, dict_value: MutableMapping[Any, Any]) -> None:
        for key, value in dict_value.items():
            self.put(key, value)

    def remove(self, key: Any) -> None:
        inner = self._map(False)
        if inner is not None and inner.pop(key, _MISSING) is not _MISSING:
            self._store(inner)

    def contains(self, key: Any) -> bool:
        inner = self._map(False)
        return inner is not None and self._read(inner, key) is not _MISSING

    def items(self) -> Iterable[tuple[Any, Any]]:
        inner = self._map(False)
        if inner is None:
            return []
        pairs = [(k, self._access.read(inner, k)) for k in list(inner)]
        if self._ttl:
            self._store(inner)
        return [(k, v) for k, v in pairs if v is not _MISSING]

    def keys(self) -> Iterable[Any]:
        return [k for k, _ in self.items()]

    def values(self) -> Iterable[Any]:
        return [v for _, v in self.items()]

    def is_empty(self) -> bool:
        return not self.items()


class _Reducing(_MergingState, ReducingState):
    def __init__(self, backend: KeyedStateBackend, table: MutableMapping[Any, Any],
                 access: TtlAccess | PlainAccess, namespaced: bool,
                 reduce: Callable[[Any, Any], Any]) -> None:
        super().__init__(backend, table, access, namespaced)
        self._reduce = reduce

    def _combine(self, first: Any, second: Any) -> Any:
        return self._reduce(first, second)

    def get(self) -> Any:
        value = self._get()
        return None if value is _MISSING else value

    def add(self, value: Any) -> None:
        current = self._get()
        self._put(value if current is _MISSING else self._reduce(current, value))


class _Aggregating(_MergingState, AggregatingState):
    """Stores the accumulator; ``get`` returns ``get_result`` of it."""

    def __init__(self, backend: KeyedStateBackend, table: MutableMapping[Any, Any],
                 access: TtlAccess | PlainAccess, namespaced: bool, aggregate: Any) -> None:
        super().__init__(backend, table, access, namespaced)
        self._aggregate = aggregate

    def _combine(self, first: Any, second: Any) -> Any:
        return self._aggregate.merge(first, second)

    def get(self) -> Any:
        accumulator = self._get()
        return None if accumulator is _MISSING else self._aggregate.get_result(accumulator)

    def add(self, value: Any) -> None:
        accumulator = self._get()
        if accumulator is _MISSING:
            accumulator = self._aggregate.create_accumulator()
        self._put(self._aggregate.add(value, accumulator))


class StateRegistry:
    """The state objects of one backend by name; a name keeps its kind and scoping.

    Also runs TTL cleanup: full-snapshot filtering (``live_entry``), and the
    incremental (heap) or background (RocksDB) cleanup of non-namespaced TTL state.
    """

    def __init__(self, backend: KeyedStateBackend, clock_ms: Callable[[], int],
                 background_cleanup: bool) -> None:
        self._backend = backend
        self._clock_ms = clock_ms
        self._background_cleanup = background_cleanup
        self._states: dict[str, tuple[str, bool, State]] = {}
        self._snapshot_filtered: dict[str, str] = {}  # name -> kind
        self.record_cleanups: list[TtlCleanup] = []  # run for every record processed

    def get(self, kind: str, descriptor: StateDescriptor, namespaced: bool,
            table: MutableMapping[Any, Any]) -> State:
        """The state ``descriptor`` names, created on ``table`` on first use."""
        known = self._states.get(descriptor.name)
        if known is not None:
            if known[:2] != (kind, namespaced):
                raise ValueError(f"state '{descriptor.name}' was registered as {known[0]} state "
                                 f"{'per window' if known[1] else 'per key'} and is now "
                                 f"requested as {kind} state "
                                 f"{'per window' if namespaced else 'per key'}")
            return known[2]
        state = self._create(kind, descriptor, namespaced, table, self._access(
            kind, descriptor, namespaced, table))
        self._states[descriptor.name] = (kind, namespaced, state)
        return state

    def _access(self, kind: str, descriptor: StateDescriptor, namespaced: bool,
                table: MutableMapping[Any, Any]) -> TtlAccess | PlainAccess:
        config = descriptor.ttl_config
        if config is None:
            return PlainAccess()
        access = TtlAccess(config, self._clock_ms)
        strategies = config.cleanup_strategies
        if strategies.full_snapshot:
            self._snapshot_filtered[descriptor.name] = kind
        if namespaced:
            return access
        incremental = strategies.incremental
        compact_filter = strategies.rocksdb_compact_filter
        if self._background_cleanup and compact_filter is not None:
            size = compact_filter.query_time_after_num_entries
            access.cleanup = TtlCleanup(table, kind, self._clock_ms, size, size)
        elif not self._background_cleanup and incremental is not None:
            access.cleanup = TtlCleanup(table, kind, self._clock_ms, incremental.cleanup_size, 1)
            if incremental.for_every_record:
                self.record_cleanups.append(access.cleanup)
        return access

    def live_entry(self, entry: Entry, now: int) -> Entry | None:
        """``entry`` as a full snapshot keeps it: without what expired, for states that
        clean up in full snapshots; None when nothing of it is left."""
        kind = self._snapshot_filtered.get(entry[0])
        if kind is None:
            return entry
        live = unexpired(kind, entry[3], now)
        return None if live is _MISSING else (entry[0], entry[1], entry[2], live)

    def _create(self, kind: str, descriptor: StateDescriptor, namespaced: bool,
                table: MutableMapping[Any, Any], access: TtlAccess | PlainAccess) -> State:
        backend = self._backend
        if kind == "value":
            return _Value(backend, table, access, namespaced)
        if kind == "list":
            return _List(backend, table, access, namespaced)
        if kind == "map":
            return _Map(backend, table, access, namespaced)
        if kind == "reducing":
            assert isinstance(descriptor, ReducingStateDescriptor)
            return _Reducing(backend, table, access, namespaced,
                             function_call(descriptor.reduce_function, "reduce"))
        if kind == "aggregating":
            assert isinstance(descriptor, AggregatingStateDescriptor)
            return _Aggregating(backend, table, access, namespaced, descriptor.agg_function)
        raise ValueError(f"unknown state kind {kind!r}")
