"""Broadcast state: a (keyed or non-keyed) stream connected with a broadcast stream.

The second input is the broadcast stream: every subtask gets every one of its records,
and ``process_broadcast_element`` may change the broadcast state (maps named by the
stream's MapStateDescriptors). ``process_element`` on the first input may only read it,
so every subtask's copy stays the same; that is why a rescaled job may restore each new
subtask from the first old subtask's copy.

Snapshot: ``BroadcastOperatorState``, the broadcast maps and (keyed operator) the keyed
state backend's snapshot. Restored from one of them, or after rescaling from a
``RedistributedState`` of the old subtasks' (keyed state from every part given, the
broadcast maps from the first).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from weir.checkpoint.redistribution import RedistributedState
from weir.datastream.functions import (
    BroadcastProcessFunction,
    KeyedBroadcastProcessFunction,
)
from weir.datastream.output_tag import OutputTag
from weir.datastream.state import (
    AggregatingStateDescriptor,
    BroadcastState,
    ListStateDescriptor,
    MapStateDescriptor,
    ReadOnlyBroadcastState,
    ReducingStateDescriptor,
    State,
    StateDescriptor,
    ValueStateDescriptor,
)
from weir.graph.operators import BroadcastProcessSpec, KeyedBroadcastProcessSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.operators.keyed import KeyedOperator, KeyedProcessOperator, _KeyedContext
from weir.taskmanager.operators.stateless import ProcessOperator
from weir.taskmanager.operators.two_input import TwoInputOperator, init_two_input
from weir.taskmanager.state.pending_snapshot import (
    MaterializedSnapshot,
    PendingSnapshot,
    SnapshotTarget,
)

__all__ = ["BroadcastOperatorState", "BroadcastProcessOperator",
           "KeyedBroadcastProcessOperator"]

_UNDECLARED = ("The requested state does not exist. Check for typos in your state descriptor, "
               "or specify the state descriptor in the datastream.broadcast(...) call if you "
               "forgot to register it.")


@dataclass
class BroadcastOperatorState:
    """What a broadcast operator snapshots: its broadcast maps by state name, and the keyed
    state of a keyed one."""

    broadcast: dict[str, dict[Any, Any]] = field(default_factory=dict)
    keyed: Any = None  # what the keyed state backend's snapshot (materialized) gave


class _PendingBroadcastOperatorState(PendingSnapshot):
    """A keyed broadcast operator's snapshot when the backend's is pending (incremental
    RocksDB): the broadcast maps, pickled at the barrier (records change them meanwhile),
    join the keyed state once the backend's part is materialized."""

    def __init__(self, broadcast: bytes, keyed: PendingSnapshot) -> None:
        self._broadcast = broadcast
        self._keyed = keyed

    async def materialize(self, target: SnapshotTarget) -> MaterializedSnapshot:
        keyed = await self._keyed.materialize(target)
        return replace(keyed, state=BroadcastOperatorState(pickle.loads(self._broadcast),
                                                           keyed.state))

    def discard(self) -> None:
        self._keyed.discard()


def _parts(state: Any) -> list[BroadcastOperatorState]:
    """The snapshots to restore from: none, one, or one per old subtask (rescaled)."""
    if state is None:
        return []
    parts = list(state) if isinstance(state, RedistributedState) else [state]
    for part in parts:
        if not isinstance(part, BroadcastOperatorState):
            raise TypeError(f"cannot restore broadcast state from a {type(part).__name__}: "
                            "the checkpoint was taken by an older weir version")
    return parts


class _BroadcastMapReads:
    """The reads of a broadcast map (the entries of one state of ``_BroadcastStates``)."""

    def __init__(self, entries: dict[Any, Any]) -> None:
        self._entries = entries

    def get(self, key: Any) -> Any:
        return self._entries.get(key)

    def contains(self, key: Any) -> bool:
        return key in self._entries

    def items(self) -> Iterable[tuple[Any, Any]]:
        return self._entries.items()

    def keys(self) -> Iterable[Any]:
        return self._entries.keys()

    def values(self) -> Iterable[Any]:
        return self._entries.values()

    def is_empty(self) -> bool:
        return not self._entries


class _ReadOnlyBroadcastMap(_BroadcastMapReads, ReadOnlyBroadcastState):
    """A broadcast map as ``process_element`` sees it: every change raises."""

    def _read_only(self, *_: Any) -> NoReturn:
        raise RuntimeError("broadcast state is read-only in process_element(): change it in "
                           "process_broadcast_element(), so that every subtask's copy stays "
                           "the same")

    clear = put = put_all = remove = __setitem__ = __delitem__ = _read_only


class _BroadcastMap(_BroadcastMapReads, BroadcastState):
    """A broadcast map as ``process_broadcast_element`` sees it."""

    def put(self, key: Any, value: Any) -> None:
        self._entries[key] = value

    def put_all(self, dict_value: dict[Any, Any]) -> None:
        self._entries.update(dict_value)

    def remove(self, key: Any) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __setitem__(self, key: Any, value: Any) -> None:
        self._entries[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._entries[key]


class _BroadcastStates:
    """The broadcast maps of one operator subtask, and their two views by state name."""

    def __init__(self, descriptors: list[MapStateDescriptor],
                 restored: dict[str, dict[Any, Any]]) -> None:
        self.maps = {d.name: dict(restored.get(d.name, {})) for d in descriptors}
        self.read_only = {name: _ReadOnlyBroadcastMap(m) for name, m in self.maps.items()}
        self.writable = {name: _BroadcastMap(m) for name, m in self.maps.items()}


def _lookup(views: dict[str, Any], state_descriptor: MapStateDescriptor) -> Any:
    if not isinstance(state_descriptor, MapStateDescriptor):
        raise TypeError(f"get_broadcast_state() takes a MapStateDescriptor, got "
                        f"{type(state_descriptor).__name__}")
    view = views.get(state_descriptor.name)
    if view is None:
        raise ValueError(_UNDECLARED)
    return view


class _BroadcastAccess:
    """What every broadcast function context offers beyond its function's basics: the
    broadcast maps ``_views`` (read-only or writable) and the clocks."""

    _operator: Any
    _views: dict[str, Any]

    def current_processing_time(self) -> int:
        return self._operator.context.clock_ms()  # type: ignore[no-any-return]

    def current_watermark(self) -> int:
        return self._operator.watermark  # type: ignore[no-any-return]

    def get_broadcast_state(self, state_descriptor: MapStateDescriptor) -> Any:
        return _lookup(self._views, state_descriptor)


class _BaseContext(_BroadcastAccess):
    """A context without a current key."""

    def __init__(self, operator: Any, views: dict[str, Any]) -> None:
        self._operator = operator
        self._views = views
        self.current_timestamp: int | None = None

    def timestamp(self) -> int | None:
        return self.current_timestamp

    def output(self, output_tag: OutputTag, value: Any) -> None:
        self._operator.output.output(output_tag, value)


class _ReadOnlyContext(_BaseContext, BroadcastProcessFunction.ReadOnlyContext):
    pass


class _Context(_BaseContext, BroadcastProcessFunction.Context):
    pass


class BroadcastProcessOperator(ProcessOperator, TwoInputOperator):
    """A BroadcastProcessFunction: a non-keyed first input, the broadcast second input."""

    def __init__(self, spec: BroadcastProcessSpec) -> None:
        StreamOperator.__init__(self, spec)
        init_two_input(self, spec)
        self._descriptors = spec.broadcast_state_descriptors

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        parts = _parts(self.restored_state)
        self.broadcast = _BroadcastStates(self._descriptors, parts[0].broadcast if parts else {})
        self._read_only_ctx = _ReadOnlyContext(self, self.broadcast.read_only)
        self._broadcast_ctx = _Context(self, self.broadcast.writable)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return BroadcastOperatorState(self.broadcast.maps)

    def process_batch1(self, records: list[Any]) -> list[Any]:
        return self.output.process_each(records, self.function.process_element,
                                        self._read_only_ctx)

    def process_batch2(self, records: list[Any]) -> list[Any]:
        return self.output.process_each(records, self.function.process_broadcast_element,
                                        self._broadcast_ctx)


class _KeyedElementContext(_BroadcastAccess, _KeyedContext,
                           KeyedBroadcastProcessFunction.OnTimerContext):
    """``process_element``'s and ``on_timer``'s context: the key's state and timers."""

    def __init__(self, operator: KeyedBroadcastProcessOperator, views: dict[str, Any]) -> None:
        _KeyedContext.__init__(self, operator)
        self._views = views


class _KeyedBroadcastContext(_BaseContext, KeyedBroadcastProcessFunction.Context):
    """``process_broadcast_element``'s context: no current key, but every key's state."""

    def apply_to_keyed_state(self, state_descriptor: StateDescriptor,
                             function: Callable[[Any, State], None]) -> None:
        backend = self._operator.backend
        state = backend.get_state(_state_kind(state_descriptor), state_descriptor)
        try:
            for key in list(backend.keyed_table(state_descriptor.name)):
                backend.current_key = key
                function(key, state)
        finally:
            backend.current_key = None


def _state_kind(descriptor: StateDescriptor) -> str:
    """The backend's name for the kind of state ``descriptor`` describes."""
    kinds: list[tuple[type[StateDescriptor], str]] = [
        (ValueStateDescriptor, "value"), (ListStateDescriptor, "list"),
        (MapStateDescriptor, "map"), (ReducingStateDescriptor, "reducing"),
        (AggregatingStateDescriptor, "aggregating")]
    for kind_class, kind in kinds:
        if isinstance(descriptor, kind_class):
            return kind
    raise TypeError(f"apply_to_keyed_state() takes a state descriptor, got "
                    f"{type(descriptor).__name__}")


class KeyedBroadcastProcessOperator(KeyedProcessOperator, TwoInputOperator):
    """A KeyedBroadcastProcessFunction: a keyed first input with keyed state and timers,
    the broadcast second input."""

    def __init__(self, spec: KeyedBroadcastProcessSpec) -> None:
        KeyedOperator.__init__(self, spec, spec.key_selector)
        init_two_input(self, spec)
        self._descriptors = spec.broadcast_state_descriptors

    def open(self, context: OperatorContext) -> None:
        parts = _parts(self.restored_state)
        # What the keyed operator's open restores its backend from: the keyed parts.
        self.restored_state = RedistributedState(p.keyed for p in parts if p.keyed is not None)
        super().open(context)
        self.broadcast = _BroadcastStates(self._descriptors, parts[0].broadcast if parts else {})
        self._ctx = _KeyedElementContext(self, self.broadcast.read_only)
        self._broadcast_ctx = _KeyedBroadcastContext(self, self.broadcast.writable)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        keyed = self.backend.snapshot()
        if isinstance(keyed, PendingSnapshot):
            return _PendingBroadcastOperatorState(pickle.dumps(self.broadcast.maps), keyed)
        return BroadcastOperatorState(self.broadcast.maps, keyed)

    def process_batch1(self, records: list[Any]) -> list[Any]:
        return self.process_keyed(records, map(self.key_selector, records),
                                  self.function.process_element, self._ctx)

    def process_batch2(self, records: list[Any]) -> list[Any]:
        self.backend.current_key = None  # broadcast records have no key
        return self.output.process_each(records, self.function.process_broadcast_element,
                                        self._broadcast_ctx)
