"""Heap state backend: Python dicts keyed by the record key, with optional TTL.

TTL is in processing time and applies to a whole value (value, reducing,
aggregating state), to each list (list state) and to each entry (map state).

Namespaced state (window contents, trigger state) has one dict per namespace:
``table[namespace][key]``. A window operator touches one window for many keys
in a row, so it fetches the window's dict once and then pays one lookup per
record, with no ``(key, window)`` tuple to build and hash (measured: half the
cost of a composite key on the windowed benchmark). It sets
``current_namespace`` to the window before it touches such state; a namespace
whose last key is cleared is removed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

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
    StateTtlConfig,
    ValueState,
)
from weir.taskmanager.state.backend import KeyedStateBackend

__all__ = ["HeapKeyedStateBackend"]

_MISSING = object()


class _Ttl:
    """Stores ``(value, expires_at)`` and hides expired entries."""

    def __init__(self, config: StateTtlConfig, clock: Callable[[], int]) -> None:
        self._ttl = config.ttl_ms
        self._refresh_on_read = config.update_type is StateTtlConfig.UpdateType.OnReadAndWrite
        self._return_expired = (config.state_visibility is
                                StateTtlConfig.StateVisibility.ReturnExpiredIfNotCleanedUp)
        self._clock = clock

    def read(self, table: dict[Any, Any], key: Any) -> Any:
        entry = table.get(key, _MISSING)
        if entry is _MISSING:
            return _MISSING
        value, expires_at = entry
        now = self._clock()
        if now >= expires_at:
            del table[key]
            return value if self._return_expired else _MISSING
        if self._refresh_on_read:
            table[key] = (value, now + self._ttl)
        return value

    def write(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        table[key] = (value, self._clock() + self._ttl)


class _Plain:
    """The no-TTL twin of ``_Ttl``."""

    @staticmethod
    def read(table: dict[Any, Any], key: Any) -> Any:
        return table.get(key, _MISSING)

    @staticmethod
    def write(table: dict[Any, Any], key: Any, value: Any) -> None:
        table[key] = value


class _HeapState:
    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any],
                 access: _Ttl | _Plain, namespaced: bool) -> None:
        self._backend = backend
        self._table = table
        self._access = access
        self._namespaced = namespaced
        if not namespaced:  # the per-record path of keyed functions skips the namespace
            self._get = self._get_plain  # type: ignore[method-assign]
            self._put = self._put_plain  # type: ignore[method-assign]

    def _get_plain(self) -> Any:
        return self._access.read(self._table, self._backend.current_key)

    def _put_plain(self, value: Any) -> None:
        self._access.write(self._table, self._backend.current_key, value)

    def _scope(self, create: bool, namespace: Any = _MISSING) -> dict[Any, Any] | None:
        """The dict holding the current key's entry: the table itself, or for namespaced
        state the dict of ``namespace`` (default: the current one)."""
        if not self._namespaced:
            return self._table
        if namespace is _MISSING:
            namespace = self._backend.current_namespace
        scope = self._table.get(namespace)
        if scope is None and create:
            scope = self._table[namespace] = {}
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


class _MergingState(_HeapState):
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


class _HeapValueState(_HeapState, ValueState):
    def value(self) -> Any:
        value = self._get()
        return None if value is _MISSING else value

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._put(value)


class _HeapListState(_MergingState, ListState):
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


class _HeapMapState(_HeapState, MapState):
    """One inner dict per key; TTL applies per entry of the inner dict."""

    def _map(self, create: bool) -> dict[Any, Any] | None:
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
        value = self._access.read(inner, key)
        return None if value is _MISSING else value

    def put(self, key: Any, value: Any) -> None:
        self._access.write(self._map(True), key, value)  # type: ignore[arg-type]

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        for key, value in dict_value.items():
            self.put(key, value)

    def remove(self, key: Any) -> None:
        inner = self._map(False)
        if inner is not None:
            inner.pop(key, None)
            if not inner:
                self.clear()

    def contains(self, key: Any) -> bool:
        inner = self._map(False)
        return inner is not None and self._access.read(inner, key) is not _MISSING

    def items(self) -> Iterable[tuple[Any, Any]]:
        inner = self._map(False) or {}
        pairs = [(k, self._access.read(inner, k)) for k in list(inner)]
        return [(k, v) for k, v in pairs if v is not _MISSING]

    def keys(self) -> Iterable[Any]:
        return [k for k, _ in self.items()]

    def values(self) -> Iterable[Any]:
        return [v for _, v in self.items()]

    def is_empty(self) -> bool:
        return not self.items()


class _HeapReducingState(_MergingState, ReducingState):
    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any],
                 access: _Ttl | _Plain, namespaced: bool,
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


class _HeapAggregatingState(_MergingState, AggregatingState):
    """Stores the accumulator; ``get`` returns ``get_result`` of it."""

    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any],
                 access: _Ttl | _Plain, namespaced: bool, aggregate: Any) -> None:
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


class HeapKeyedStateBackend(KeyedStateBackend):
    """Keyed state in dicts: ``tables[state name][key] = value``
    (``tables[state name][namespace][key]`` for namespaced state)."""

    current_namespace: Any = None

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self.tables: dict[str, dict[Any, Any]] = {}
        self._states: dict[str, tuple[str, bool, State]] = {}

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})

    def snapshot(self) -> dict[str, dict[Any, Any]]:
        """The live tables: the caller pickles them at once (TTL entries keep their expiry)."""
        return {name: table for name, table in self.tables.items() if table}

    def restore(self, tables: dict[str, dict[Any, Any]] | None) -> None:
        """Fill the tables in place, so state objects already handed out see the entries."""
        for name, entries in (tables or {}).items():
            self.table(name).update(entries)

    def get_state(self, kind: str, descriptor: StateDescriptor, namespaced: bool = False) -> State:
        known = self._states.get(descriptor.name)
        if known is not None:
            if known[:2] != (kind, namespaced):
                raise ValueError(f"state '{descriptor.name}' was registered as {known[0]} state "
                                 f"{'per window' if known[1] else 'per key'} and is now "
                                 f"requested as {kind} state "
                                 f"{'per window' if namespaced else 'per key'}")
            return known[2]
        table = self.table(descriptor.name)
        access: _Ttl | _Plain = (_Ttl(descriptor.ttl_config, self._clock_ms)
                                 if descriptor.ttl_config else _Plain())
        state: State
        if kind == "value":
            state = _HeapValueState(self, table, access, namespaced)
        elif kind == "list":
            state = _HeapListState(self, table, access, namespaced)
        elif kind == "map":
            state = _HeapMapState(self, table, access, namespaced)
        elif kind == "reducing":
            assert isinstance(descriptor, ReducingStateDescriptor)
            state = _HeapReducingState(self, table, access, namespaced,
                                       function_call(descriptor.reduce_function, "reduce"))
        elif kind == "aggregating":
            assert isinstance(descriptor, AggregatingStateDescriptor)
            state = _HeapAggregatingState(self, table, access, namespaced,
                                          descriptor.agg_function)
        else:
            raise ValueError(f"unknown state kind {kind!r}")
        self._states[descriptor.name] = (kind, namespaced, state)
        return state
