"""What a window operator hands to triggers, assigners and process window functions, and the
per-key set of merging (session) windows.

Every context reads the operator's current key and window; state they give out
is namespaced state of the operator's keyed backend, scoped to (key, window).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

from weir.datastream.functions import (
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    RuntimeContext,
)
from weir.datastream.output_tag import OutputTag
from weir.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    MapStateDescriptor,
    ReducingStateDescriptor,
    State,
    StateDescriptor,
    ValueStateDescriptor,
)
from weir.datastream.window import MergingWindowAssigner, Trigger, Window, WindowAssigner
from weir.taskmanager.state.backend import KeyedStateBackend

if TYPE_CHECKING:
    from weir.taskmanager.operators.window import WindowOperator

__all__ = ["MergingWindowSet", "ProcessWindowContext", "TriggerContext", "WindowAssignerContext",
           "WindowStateStore", "state_kind"]

_KINDS = ((ValueStateDescriptor, "value"), (ListStateDescriptor, "list"),
          (MapStateDescriptor, "map"), (ReducingStateDescriptor, "reducing"),
          (AggregatingStateDescriptor, "aggregating"))


def state_kind(descriptor: StateDescriptor) -> str:
    """The backend state kind a descriptor asks for."""
    for cls, kind in _KINDS:
        if isinstance(descriptor, cls):
            return kind
    raise TypeError(f"unknown state descriptor {type(descriptor).__name__}")


class TriggerContext(Trigger.OnMergeContext):
    """Timers and state of the pane (current key, ``window``) a trigger is called for."""

    def __init__(self, operator: WindowOperator) -> None:
        self._op = operator
        self.window: Window | None = None
        self.merged_windows: Iterable[Window] = ()

    def get_current_processing_time(self) -> int:
        return self._op.context.clock_ms()

    def get_current_watermark(self) -> int:
        return self._op.watermark

    def _timer_key(self) -> tuple[Any, Any]:
        return self._op.backend.current_key, self.window

    def register_processing_time_timer(self, time: int) -> None:
        self._op.register_processing_timer(self._timer_key(), time)

    def register_event_time_timer(self, time: int) -> None:
        self._op.event_timers.register(self._timer_key(), time)

    def delete_processing_time_timer(self, time: int) -> None:
        self._op.processing_timers.delete(self._timer_key(), time)

    def delete_event_time_timer(self, time: int) -> None:
        self._op.event_timers.delete(self._timer_key(), time)

    def get_partitioned_state(self, state_descriptor: StateDescriptor) -> State:
        backend = self._op.backend
        backend.current_namespace = self.window
        return backend.get_state(state_kind(state_descriptor), state_descriptor, namespaced=True)

    def merge_partitioned_state(self, state_descriptor: StateDescriptor) -> None:
        if self.merged_windows:
            state = self.get_partitioned_state(state_descriptor)
            state.merge_namespaces(self.window, self.merged_windows)  # type: ignore[attr-defined]


class WindowAssignerContext(WindowAssigner.WindowAssignerContext):
    def __init__(self, operator: WindowOperator, runtime_context: RuntimeContext) -> None:
        self._op = operator
        self._runtime_context = runtime_context

    def get_current_processing_time(self) -> int:
        return self._op.context.clock_ms()

    def get_runtime_context(self) -> RuntimeContext:
        return self._runtime_context


class WindowStateStore:
    """Keyed state for a process window function: per window, or per key (global)."""

    def __init__(self, backend: KeyedStateBackend, namespaced: bool) -> None:
        self._backend = backend
        self._namespaced = namespaced

    def _state(self, descriptor: StateDescriptor) -> Any:
        return self._backend.get_state(state_kind(descriptor), descriptor, self._namespaced)

    get_state = get_list_state = get_map_state = _state
    get_reducing_state = get_aggregating_state = _state


class ProcessWindowContext(ProcessWindowFunction.Context, ProcessAllWindowFunction.Context):
    def __init__(self, operator: WindowOperator) -> None:
        self._op = operator
        self.current_window: Window | None = None
        self._window_state = WindowStateStore(operator.backend, namespaced=True)
        self._global_state = WindowStateStore(operator.backend, namespaced=False)

    def window(self) -> Window:
        assert self.current_window is not None
        return self.current_window

    def current_processing_time(self) -> int:
        return self._op.context.clock_ms()

    def current_watermark(self) -> int:
        return self._op.watermark

    def window_state(self) -> WindowStateStore:
        return self._window_state

    def global_state(self) -> WindowStateStore:
        return self._global_state

    def output(self, output_tag: OutputTag, value: Any) -> None:
        self._op.output.output(output_tag, value)


MergeFunction = Callable[[Window, list[Window], Window, list[Window]], None]


class MergingWindowSet:
    """The session windows of one key: each window maps to the window that names its state.

    When windows merge, the result keeps the state window of one of the merged
    windows, so the contents of the others are merged into it rather than
    moved. The mapping lives in keyed state (``table[key]``), so it is part of
    every snapshot; ``persist`` writes it back after a change.
    """

    def __init__(self, assigner: MergingWindowAssigner, table: MutableMapping[Any, Any],
                 key: Any) -> None:
        self._assigner = assigner
        self._table = table
        self._key = key
        self.mapping: dict[Window, Window] = dict(table.get(key) or {})

    def state_window(self, window: Window) -> Window | None:
        return self.mapping.get(window)

    def retire_window(self, window: Window) -> None:
        if self.mapping.pop(window, None) is None:
            raise RuntimeError(f"window {window} is not in the merging window set")

    def persist(self) -> None:
        if self.mapping:
            self._table[self._key] = self.mapping
        else:
            self._table.pop(self._key, None)

    def add_window(self, new_window: Window, merge: MergeFunction) -> Window:
        """Add ``new_window``, merging it with the windows it overlaps; the window it is now in.

        ``merge(result, merged_windows, state_window_of_result, merged_state_windows)``
        is called for each merge, before the mapping is used again.
        """
        merges: list[tuple[Window, list[Window]]] = []
        self._assigner.merge_windows([*self.mapping, new_window],
                                     _Callback(lambda group, result: merges.append(
                                         (result, list(group)))))
        result_window = new_window
        merged_new_window = False
        for merge_result, merged_windows in merges:
            if new_window in merged_windows:
                merged_windows.remove(new_window)
                merged_new_window = True
                result_window = merge_result
            state_window = self.mapping[merged_windows[0]]
            merged_state_windows = [self.mapping.pop(w) for w in merged_windows
                                    if w in self.mapping]
            self.mapping[merge_result] = state_window
            merged_state_windows.remove(state_window)
            # a pre-existing window merged only with the new one, without growing: nothing to do
            if not (len(merged_windows) == 1 and merged_windows[0] == merge_result):
                merge(merge_result, merged_windows, state_window, merged_state_windows)
        if not merges or (result_window == new_window and not merged_new_window):
            self.mapping[result_window] = result_window
        return result_window


class _Callback(MergingWindowAssigner.MergeCallback):
    def __init__(self, on_merge: Callable[[Iterable[Window], Window], None]) -> None:
        self._on_merge = on_merge

    def merge(self, to_be_merged: Iterable[Window], merge_result: Window) -> None:
        self._on_merge(to_be_merged, merge_result)
