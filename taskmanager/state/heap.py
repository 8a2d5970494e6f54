"""Heap state backend: Python dicts keyed by the record key, with optional TTL.

TTL is in processing time and applies to a whole value (value, reducing,
aggregating state), to each list (list state) and to each entry (map state).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

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
                 access: _Ttl | _Plain) -> None:
        self._backend = backend
        self._table = table
        self._access = access

    def _get(self) -> Any:
        return self._access.read(self._table, self._backend.current_key)

    def _put(self, value: Any) -> None:
        self._access.write(self._table, self._backend.current_key, value)

    def clear(self) -> None:
        self._table.pop(self._backend.current_key, None)


class _HeapValueState(_HeapState, ValueState):
    def value(self) -> Any:
        value = self._get()
        return None if value is _MISSING else value

    def update(self, value: Any) -> None:
        if value is None:
            self.clear()
        else:
            self._put(value)


class _HeapListState(_HeapState, ListState):
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
        key = self._backend.current_key
        inner = self._table.get(key)
        if inner is None and create:
            inner = self._table[key] = {}
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


class _HeapReducingState(_HeapState, ReducingState):
    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any],
                 access: _Ttl | _Plain, reduce: Callable[[Any, Any], Any]) -> None:
        super().__init__(backend, table, access)
        self._reduce = reduce

    def get(self) -> Any:
        value = self._get()
        return None if value is _MISSING else value

    def add(self, value: Any) -> None:
        current = self._get()
        self._put(value if current is _MISSING else self._reduce(current, value))


class _HeapAggregatingState(_HeapState, AggregatingState):
    def __init__(self, backend: HeapKeyedStateBackend, table: dict[Any, Any],
                 access: _Ttl | _Plain, aggregate: Any) -> None:
        super().__init__(backend, table, access)
        self._aggregate = aggregate

    def get(self) -> Any:
        accumulator = self._get()
        return None if accumulator is _MISSING else self._aggregate.get_result(accumulator)

    def add(self, value: Any) -> None:
        accumulator = self._get()
        if accumulator is _MISSING:
            accumulator = self._aggregate.create_accumulator()
        self._put(self._aggregate.add(value, accumulator))


class HeapKeyedStateBackend(KeyedStateBackend):
    """Keyed state in dicts: ``tables[state name][key] = value``."""

    def __init__(self, clock_ms: Callable[[], int]) -> None:
        self._clock_ms = clock_ms
        self.tables: dict[str, dict[Any, Any]] = {}
        self._states: dict[str, tuple[str, State]] = {}

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})

    def get_state(self, kind: str, descriptor: StateDescriptor) -> State:
        known = self._states.get(descriptor.name)
        if known is not None:
            if known[0] != kind:
                raise ValueError(f"state '{descriptor.name}' was registered as {known[0]} state "
                                 f"and is now requested as {kind} state")
            return known[1]
        table = self.table(descriptor.name)
        access: _Ttl | _Plain = (_Ttl(descriptor.ttl_config, self._clock_ms)
                                 if descriptor.ttl_config else _Plain())
        state: State
        if kind == "value":
            state = _HeapValueState(self, table, access)
        elif kind == "list":
            state = _HeapListState(self, table, access)
        elif kind == "map":
            state = _HeapMapState(self, table, access)
        elif kind == "reducing":
            assert isinstance(descriptor, ReducingStateDescriptor)
            state = _HeapReducingState(self, table, access,
                                       function_call(descriptor.reduce_function, "reduce"))
        elif kind == "aggregating":
            assert isinstance(descriptor, AggregatingStateDescriptor)
            state = _HeapAggregatingState(self, table, access, descriptor.agg_function)
        else:
            raise ValueError(f"unknown state kind {kind!r}")
        self._states[descriptor.name] = (kind, state)
        return state
