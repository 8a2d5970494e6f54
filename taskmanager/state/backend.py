"""The keyed state backend interface: per operator subtask, scoped to the current key.

Operators receive a backend from their context (``OperatorContext.keyed_state_backend``)
and never construct one or reach into its storage. Two implementations:
``HeapKeyedStateBackend`` (dicts) and ``RocksDBKeyedStateBackend`` (rocksdict),
chosen by ``state.backend``.

Snapshots are backend-neutral (Flink's canonical savepoint format idea): every
entry as ``(state name, namespace, key, value)`` grouped by key group, so a
snapshot of either backend restores on either, and a key-group range can be
cut out of it when a job is rescaled.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from weir.datastream.state import State, StateDescriptor
from weir.keygroups import KeyGroupRange, assign_to_key_group
from weir.taskmanager.state.pending_snapshot import PendingSnapshot
from weir.taskmanager.state.states import StateRegistry
from weir.taskmanager.timers import HeapTimerQueue, TimerQueue

__all__ = ["KeyedStateBackend", "KeyedStateSnapshot", "TimerKeyFunction"]

# The record key a timer key belongs to (timer keys of window operators are (key, window)).
TimerKeyFunction = Callable[[Any], Any]

# Entry of a snapshot: (state name, namespace, key, value); value as the backend stores it
# (TTL-wrapped when the state has a TTL).
Entry = tuple[str, Any, Any, Any]


@dataclass
class KeyedStateSnapshot:
    """Every keyed state entry and timer of one backend, by key group.

    ``namespaced`` says which state names are namespaced (per window);
    ``entries[key_group]`` lists ``(state name, namespace, key, value)``;
    ``timers[queue name][key_group]`` lists ``(timer key, timestamp)`` in firing order.
    """

    max_parallelism: int
    namespaced: dict[str, bool] = field(default_factory=dict)
    entries: dict[int, list[Entry]] = field(default_factory=dict)
    timers: dict[str, dict[int, list[tuple[Any, int]]]] = field(default_factory=dict)

    def entries_in(self, key_groups: KeyGroupRange) -> Iterator[Entry]:
        for key_group, entries in self.entries.items():
            if key_group in key_groups:
                yield from entries

    def timers_in(self, name: str, key_groups: KeyGroupRange) -> list[tuple[Any, int]]:
        found = [timer for key_group, timers in self.timers.get(name, {}).items()
                 if key_group in key_groups for timer in timers]
        found.sort(key=_timestamp_of)  # stable: keeps each group's registration order
        return found


def _timestamp_of(timer: tuple[Any, int]) -> int:
    return timer[1]


class KeyedStateBackend(abc.ABC):
    """Holds the keyed state and timers of one operator subtask.

    The operator sets ``current_key`` before it calls user code for a record or
    a timer, and ``current_namespace`` (the window) before it touches
    namespaced state; every state object reads and writes the entry of that
    key (and namespace). Touched only by the task's mailbox loop.

    Lifecycle: ``restore`` (optional, before any state is used), state access,
    ``snapshot`` at each checkpoint, ``dispose`` last.
    """

    current_key: Any = None
    current_namespace: Any = None
    # TTL state is cleaned up in the background (RocksDB) rather than incrementally (heap).
    background_ttl_cleanup = False

    def __init__(self, clock_ms: Callable[[], int], key_groups: KeyGroupRange,
                 max_parallelism: int) -> None:
        self.key_groups = key_groups
        self.max_parallelism = max_parallelism
        self._clock_ms = clock_ms
        self._timers: dict[str, tuple[TimerQueue, TimerKeyFunction | None]] = {}
        self._namespaced: dict[str, bool] = {}
        self._registry = StateRegistry(self, clock_ms, self.background_ttl_cleanup)

    @abc.abstractmethod
    def _table(self, name: str, namespaced: bool) -> MutableMapping[Any, Any]:
        """The table of state ``name``, created (and ``_namespaced`` noted) on first use."""

    def get_state(self, kind: str, descriptor: StateDescriptor, namespaced: bool = False) -> State:
        """The state object of ``kind`` ('value', 'list', 'map', 'reducing', 'aggregating');
        ``namespaced`` state is scoped to the current key and ``current_namespace``."""
        return self._registry.get(kind, descriptor, namespaced,
                                  self._table(descriptor.name, namespaced))

    def keyed_table(self, name: str) -> MutableMapping[Any, Any]:
        """State ``name`` as a key → value mapping, for runtime operators that touch many
        keys per batch (rolling reduce). Writes go to the backend at once."""
        return self._table(name, False)

    def namespaced_table(self, name: str) -> MutableMapping[Any, MutableMapping[Any, Any]]:
        """Namespaced state ``name`` as namespace → (key → value), for operators that touch
        one namespace for many keys in a row (the window operator's event-time path): it
        fetches a namespace's mapping once, then pays one lookup per record.

        ``get(namespace)`` is None for a namespace without entries; ``setdefault(namespace,
        {})`` returns the (possibly new) namespace's mapping; iteration yields namespaces;
        ``del table[namespace]`` drops every entry of it."""
        return self._table(name, True)

    @property
    def cleans_up_per_record(self) -> bool:
        """Whether ``cleanup_for_records`` has work (TTL ``run_cleanup_for_every_record``)."""
        return bool(self._registry.record_cleanups)

    def cleanup_for_records(self, count: int) -> None:
        """Incremental TTL cleanup for ``count`` processed records (called once per batch)."""
        for cleanup in self._registry.record_cleanups:
            cleanup.step(count * cleanup.size)

    def timer_queue(self, name: str, record_key: TimerKeyFunction | None = None) -> TimerQueue:
        """The timers ``name`` (one per time domain), part of every snapshot; ``record_key``
        maps a timer key to its record key (identity when None)."""
        known = self._timers.get(name)
        if known is None:
            known = self._timers[name] = (self._new_timer_queue(), record_key)
        return known[0]

    def _new_timer_queue(self) -> TimerQueue:
        """An empty timer queue of this backend's kind (on the heap unless overridden)."""
        return HeapTimerQueue()

    def key_group_of(self, key: Any) -> int:
        return assign_to_key_group(key, self.max_parallelism)

    @abc.abstractmethod
    def _entries(self) -> Iterable[tuple[int, Entry]]:
        """Every state entry with its key group."""

    def _restore_entry(self, namespaced: bool, entry: Entry) -> None:
        """Write one entry of a snapshot into this backend."""
        name, namespace, key, value = entry
        table = self._table(name, namespaced)
        if namespaced:
            table.setdefault(namespace, {})[key] = value
        else:
            table[key] = value

    def snapshot(self) -> KeyedStateSnapshot | PendingSnapshot:
        """Every entry and timer by key group; shares no mutable objects with live state
        only once pickled, which the caller does at once. A backend may return a
        ``PendingSnapshot`` instead, which the checkpointer finishes after the barrier."""
        snapshot = self.timer_snapshot()
        self.add_live_entries(snapshot, self._entries(), self._clock_ms())
        return snapshot

    def timer_snapshot(self) -> KeyedStateSnapshot:
        """A snapshot of the timers (copied) and of which states are namespaced, without
        entries."""
        snapshot = KeyedStateSnapshot(self.max_parallelism, dict(self._namespaced))
        for name, (queue, record_key) in self._timers.items():
            groups: dict[int, list[tuple[Any, int]]] = {}
            for timer in queue.snapshot():
                key = timer[0] if record_key is None else record_key(timer[0])
                groups.setdefault(self.key_group_of(key), []).append(timer)
            snapshot.timers[name] = groups
        return snapshot

    def add_live_entries(self, snapshot: KeyedStateSnapshot,
                         entries: Iterable[tuple[int, Entry]], now: int) -> None:
        """Add ``entries`` to ``snapshot``, without what TTL says expired at ``now``."""
        live_entry = self._registry.live_entry
        for key_group, entry in entries:
            kept = live_entry(entry, now)
            if kept is not None:
                snapshot.entries.setdefault(key_group, []).append(kept)

    def restore(self, snapshots: Iterable[KeyedStateSnapshot | None]) -> None:
        """Take every entry and timer of ``snapshots`` in this backend's key groups; call
        after the operator registered its timer queues."""
        for snapshot in snapshots:
            if snapshot is None:
                continue
            if not isinstance(snapshot, KeyedStateSnapshot):
                raise TypeError(f"cannot restore keyed state from a {type(snapshot).__name__}: "
                                "an incremental RocksDB checkpoint restores on RocksDB only "
                                "(a savepoint restores on either backend), and a checkpoint "
                                "of an older weir version not at all")
            if snapshot.max_parallelism != self.max_parallelism:
                raise ValueError(f"the snapshot's max parallelism {snapshot.max_parallelism} "
                                 f"differs from the job's {self.max_parallelism}")
            for entry in snapshot.entries_in(self.key_groups):
                self._restore_entry(snapshot.namespaced.get(entry[0], False), entry)
            for name in snapshot.timers:
                self.timer_queue(name).restore(snapshot.timers_in(name, self.key_groups))

    def dispose(self) -> None:
        """Release resources (files of an embedded database)."""
