"""The window operator (Flink's WindowOperator) on keyed state and per-key timers.

Per element, in order: assign windows; for merging assigners, merge the new
window into the key's sessions; skip windows already past their cleanup time
(end + allowed lateness); add the element to each remaining window's contents;
ask the trigger, firing (evaluate the window, output timestamp = its max
timestamp) and purging as it says; register the window's cleanup timer. An
element that fell into no window and is behind the watermark by more than the
allowed lateness goes to the late side output, or is dropped and counted.

Per timer: ask the trigger (fire/purge as above); at the window's cleanup time
drop its contents, the trigger's state and the window itself.

Contents live in the keyed backend as namespaced state (namespace = window);
timers are keyed by ``(key, window)`` in the backend's timer queues; so
checkpoints of keyed state and timers cover windows.

The common case, the event-time trigger on non-merging windows, runs a
specialised path with the same effects: that trigger's timers are exactly "one
at each pane's end" and the cleanup timers "one at each pane's end + allowed
lateness", so they are implied by the panes in keyed state instead of being
registered one by one. A watermark fires the panes of every window whose end it
passed, window by window in end order and, within a window, in the order the
panes were created (the order their timers would have been registered), and
drops windows past their cleanup time. Restored state restores them too.

Processing-time windows still open when a bounded input ends do not fire: the
end of input advances event time, not the clock (as in Flink).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from weir.common.constants import MAX_LONG_VALUE
from weir.datastream.functions import Function, TimeDomain, function_call
from weir.datastream.window import (
    EventTimeTrigger,
    MergingWindowAssigner,
    SlidingEventTimeWindows,
    TumblingEventTimeWindows,
    Window,
)
from weir.datastream.window.assigners import NO_TIMESTAMP_MESSAGE
from weir.graph.operators import WindowSpec
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.operators.keyed import KeyedOperator
from weir.taskmanager.operators.window_context import (
    MergingWindowSet,
    ProcessWindowContext,
    TriggerContext,
    WindowAssignerContext,
    state_kind,
)
from weir.taskmanager.records import TimestampedBatch
from weir.taskmanager.runtime_context import StreamingRuntimeContext

__all__ = ["LATE_RECORDS_DROPPED", "WindowOperator"]

LATE_RECORDS_DROPPED = "numLateRecordsDropped"
_MERGING_WINDOWS = "merging-window-set"
_MISSING = object()
Panes = MutableMapping[Any, Any]


def _record_key(pane: tuple[Any, Window]) -> Any:
    return pane[0]


class WindowOperator(KeyedOperator):
    """Windows of a keyed stream (``window_all``: one key), evaluated as the trigger says."""

    spec: WindowSpec
    contents: Any  # the namespaced state of the contents' kind (list, reducing, aggregating)
    timer_record_key = staticmethod(_record_key)  # timers are keyed by (key, window)

    def __init__(self, spec: WindowSpec) -> None:
        super().__init__(spec, spec.key_selector)
        self.assigner = spec.assigner
        self.trigger = spec.trigger
        self.allowed_lateness = spec.allowed_lateness
        self.late_tag = spec.late_data_tag
        self.evaluation = spec.evaluation
        self.is_event_time = self.assigner.is_event_time()
        self.merging = isinstance(self.assigner, MergingWindowAssigner)
        self._kind = state_kind(spec.contents)
        self._fast = (self.is_event_time and not self.merging
                      and type(self.trigger) is EventTimeTrigger)

    @property
    def num_late_records_dropped(self) -> int:
        return self.context.metrics.get(LATE_RECORDS_DROPPED, 0)

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        context.metric_group.gauge(LATE_RECORDS_DROPPED, lambda: self.num_late_records_dropped)
        runtime_context = StreamingRuntimeContext(context, self.backend)
        for function in self._user_functions():
            function.open(runtime_context)
        self.evaluation.open(runtime_context)
        descriptor = self.spec.contents
        self.contents = self.backend.get_state(self._kind, descriptor, namespaced=True)
        self._table = self.backend.namespaced_table(descriptor.name)
        self._merging_table = self.backend.keyed_table(_MERGING_WINDOWS)
        self.trigger_context = TriggerContext(self)
        self.assigner_context = WindowAssignerContext(self, runtime_context)
        self.process_context = ProcessWindowContext(self)
        self._read = _contents_reader(self._kind, descriptor)
        self._slots = _slots_of(self.assigner)

    def _user_functions(self) -> list[Function]:
        descriptor = self.spec.contents
        function = getattr(descriptor, "agg_function", getattr(descriptor, "reduce_function", None))
        return [function] if isinstance(function, Function) else []

    # ---------------------------------------------------------------- elements

    def process_batch(self, records: list[Any]) -> list[Any]:
        return self.process_keyed_batch(records, map(self.key_selector, records))

    def process_keyed_batch(self, records: list[Any], keys: Iterable[Any]) -> list[Any]:
        timestamps = records.timestamps if isinstance(records, TimestampedBatch) else None
        if self.is_event_time and (timestamps is None or None in timestamps):
            raise ValueError(NO_TIMESTAMP_MESSAGE)
        output = self.output
        output.start(True)
        if self._fast:
            self._process_event_time_panes(records, timestamps, keys)  # type: ignore[arg-type]
        else:
            stamps = timestamps if timestamps is not None else [None] * len(records)
            for value, timestamp, key in zip(records, stamps, keys):
                self._process_element(value, timestamp, key)
        return output.take()

    def _process_event_time_panes(self, records: list[Any], timestamps: list[int],
                                  keys: Iterable[Any]) -> None:
        """``_process_element`` for the event-time trigger on non-merging windows.

        Contents are read and written through the backend's namespaced table, as
        the namespaced state of their kind stores them (``table[window][key]``;
        a list is written back after the append, as a backend may hand out
        copies); timers are implied (see the module docstring). Tumbling and sliding windows change only at multiples of
        gcd(size, slide) (plus offset), and consecutive records mostly share such
        a slot, so windows and their panes are looked up once per run of records.
        """
        watermark = self.watermark
        lateness = self.allowed_lateness
        kind = self._kind
        descriptor = self.spec.contents
        if kind == "aggregating":
            create = descriptor.agg_function.create_accumulator
            add = descriptor.agg_function.add
        elif kind == "reducing":
            reduce = function_call(descriptor.reduce_function, "reduce")
        assign, context = self.assigner.assign_windows, self.assigner_context
        slot_size, offset = self._slots or (0, 0)
        last_slot: int | None = None
        targets: list[tuple[Window, int, Panes]] = []
        for value, timestamp, key in zip(records, timestamps, keys):
            if not slot_size:
                targets = self._open_panes(assign(value, timestamp, context))
            elif (slot := timestamp - (timestamp - offset) % slot_size) != last_slot:
                last_slot = slot
                targets = self._open_panes(assign(value, timestamp, context))
            if not targets:
                if timestamp + lateness <= watermark:
                    self._late(value, timestamp)
                continue
            for window, end, panes in targets:
                contents = panes.get(key, _MISSING)
                if kind == "aggregating":
                    panes[key] = add(value, create() if contents is _MISSING else contents)
                elif kind == "reducing":
                    panes[key] = value if contents is _MISSING else reduce(contents, value)
                elif contents is _MISSING:
                    panes[key] = [value]
                else:
                    contents.append(value)
                    panes[key] = contents
                if end <= watermark:  # late, within the allowed lateness: fire at once
                    self.backend.current_key = key
                    self._emit(window, self._read(panes[key]))

    def _open_panes(self, windows: Any) -> list[tuple[Window, int, Panes]]:
        """Each window not past its cleanup time, its end and the dict of its panes."""
        get, setdefault = self._table.get, self._table.setdefault
        limit = self.watermark - self.allowed_lateness
        opened = []
        for window in windows:
            if window[1] - 1 > limit:
                panes = get(window)  # never tested for truth: a backend's panes may scan
                opened.append((window, window[1] - 1,
                               setdefault(window, {}) if panes is None else panes))
        return opened

    def _process_element(self, value: Any, timestamp: Any, key: Any) -> None:
        backend = self.backend
        backend.current_key = key
        windows = self.assigner.assign_windows(value, timestamp, self.assigner_context)
        skipped = True
        if self.merging:
            sessions = MergingWindowSet(self.assigner, self._merging_table, backend.current_key)
            for window in windows:
                actual = sessions.add_window(window, self._merge)
                if self._is_window_late(actual):
                    sessions.retire_window(actual)
                    continue
                skipped = False
                state_window = sessions.state_window(actual)
                self._add_to_pane(value, timestamp, actual, state_window)  # type: ignore[arg-type]
            sessions.persist()
        else:
            for window in windows:
                if self._is_window_late(window):
                    continue
                skipped = False
                self._add_to_pane(value, timestamp, window, window)
        if skipped and self.is_event_time and timestamp + self.allowed_lateness <= self.watermark:
            self._late(value, timestamp)

    def _add_to_pane(self, value: Any, timestamp: Any, window: Window,
                     state_window: Window) -> None:
        backend = self.backend
        backend.current_namespace = state_window
        self.contents.add(value)
        self.trigger_context.window = window
        result = self.trigger.on_element(value, timestamp, window, self.trigger_context)
        if result.is_fire():
            backend.current_namespace = state_window
            contents = self.contents.get()
            if contents is None:
                return
            self._emit(window, contents)
        if result.is_purge():
            backend.current_namespace = state_window
            self.contents.clear()
        self._register_cleanup_timer(window)

    def _merge(self, result: Window, merged: list[Window], state_window: Window,
               merged_state_windows: list[Window]) -> None:
        if self.is_event_time and result.max_timestamp() + self.allowed_lateness <= self.watermark:
            raise RuntimeError("The end timestamp of an event-time window cannot become earlier "
                               f"than the current watermark by merging. Current watermark: "
                               f"{self.watermark} window: {result}")
        if not self.is_event_time and result.max_timestamp() <= self.context.clock_ms():
            raise RuntimeError("The end timestamp of a processing-time window cannot become "
                               "earlier than the current processing time by merging. Current "
                               f"processing time: {self.context.clock_ms()} window: {result}")
        ctx = self.trigger_context
        ctx.window, ctx.merged_windows = result, merged
        self.trigger.on_merge(result, ctx)
        ctx.merged_windows = ()
        for window in merged:
            ctx.window = window
            self.trigger.clear(window, ctx)
            self._delete_cleanup_timer(window)
        self.contents.merge_namespaces(state_window, merged_state_windows)  # type: ignore

    def _late(self, value: Any, timestamp: int) -> None:
        if self.late_tag is not None:
            output = self.output
            output.timestamp = timestamp
            output.side(self.late_tag, value)
        else:
            metrics = self.context.metrics
            metrics[LATE_RECORDS_DROPPED] = metrics.get(LATE_RECORDS_DROPPED, 0) + 1

    # ------------------------------------------------------------------ timers

    def process_watermark(self, watermark: int) -> list[Any]:
        if not self._fast:
            return super().process_watermark(watermark)
        previous = self.watermark
        self.watermark = watermark
        output = self.output
        output.start(True)
        self._fire_event_time_panes(previous, watermark)
        return output.take()

    def _fire_event_time_panes(self, previous: int, watermark: int) -> None:
        """The implied timers of the event-time path due at ``watermark``: fire each window
        whose end is in (previous, watermark], drop each past its cleanup time."""
        table = self._table
        backend = self.backend
        read = self._read
        lateness = self.allowed_lateness
        for window in sorted((w for w in table if w[1] - 1 <= watermark), key=_end_of):
            end = window[1] - 1
            panes = table[window]
            if end > previous:
                if self.evaluation.function is None:  # the contents are the output
                    self.output.timestamp = end
                    self.output.emit_all(map(read, panes.values()))
                else:
                    for key, contents in list(panes.items()):
                        backend.current_key = key
                        self._emit(window, read(contents))
            if end + lateness <= watermark:
                keys = list(panes) if self.evaluation.has_clear else ()
                del table[window]
                for key in keys:
                    backend.current_key = key
                    self._clear_window_function(window)

    def on_timer(self, timestamp: int, key: Any, domain: TimeDomain) -> None:
        record_key, window = key
        self.backend.current_key = record_key
        sessions = None
        state_window = window
        if self.merging:
            sessions = MergingWindowSet(self.assigner, self._merging_table, record_key)
            state_window = sessions.state_window(window)
            if state_window is None:
                return  # the window merged away; its trigger left a timer behind
        ctx = self.trigger_context
        ctx.window = window
        if domain is TimeDomain.EVENT_TIME:
            result = self.trigger.on_event_time(timestamp, window, ctx)
        else:
            result = self.trigger.on_processing_time(timestamp, window, ctx)
        self.backend.current_namespace = state_window
        if result.is_fire():
            contents = self.contents.get()
            if contents is not None:
                self._emit(window, contents)
        if result.is_purge():
            self.backend.current_namespace = state_window
            self.contents.clear()
        if (domain is TimeDomain.EVENT_TIME) is self.is_event_time and \
                timestamp == self._cleanup_time(window):
            self._clear_all_state(window, state_window, sessions)
        if sessions is not None:
            sessions.persist()

    def _clear_all_state(self, window: Window, state_window: Window,
                         sessions: MergingWindowSet | None) -> None:
        self.backend.current_namespace = state_window
        self.contents.clear()
        self.trigger_context.window = window
        self.trigger.clear(window, self.trigger_context)
        self._clear_window_function(window)
        if sessions is not None:
            sessions.retire_window(window)

    def _clear_window_function(self, window: Window) -> None:
        self.process_context.current_window = window
        self.backend.current_namespace = window
        self.evaluation.clear(self.process_context)

    def _cleanup_time(self, window: Window) -> int:
        if self.is_event_time:
            return min(window.max_timestamp() + self.allowed_lateness, MAX_LONG_VALUE)
        return window.max_timestamp()

    def _is_window_late(self, window: Window) -> bool:
        return self.is_event_time and self._cleanup_time(window) <= self.watermark

    def _register_cleanup_timer(self, window: Window) -> None:
        time = self._cleanup_time(window)
        if time == MAX_LONG_VALUE:
            return
        pane = (self.backend.current_key, window)
        if self.is_event_time:
            self.event_timers.register(pane, time)
        else:
            self.register_processing_timer(pane, time)

    def _delete_cleanup_timer(self, window: Window) -> None:
        time = self._cleanup_time(window)
        if time == MAX_LONG_VALUE:
            return
        pane = (self.backend.current_key, window)
        timers = self.event_timers if self.is_event_time else self.processing_timers
        timers.delete(pane, time)

    # ------------------------------------------------------------------ output

    def _emit(self, window: Window, contents: Any) -> None:
        """Evaluate the window; outputs carry its max timestamp."""
        output = self.output
        output.timestamp = window.max_timestamp()
        if self.evaluation.function is None:
            output.emit(contents)
            return
        context = self.process_context
        context.current_window = window
        self.backend.current_namespace = window
        output.collect(self.evaluation.evaluate(self.backend.current_key, window, context,
                                                contents))

    def close(self) -> None:
        try:
            for function in self._user_functions():
                function.close()
            self.evaluation.close()
        finally:
            super().close()


def _contents_reader(kind: str, descriptor: Any) -> Callable[[Any], Any]:
    """How the event-time loop reads a pane's stored contents (value, accumulator or list),
    as the namespaced state of ``kind`` returns them."""
    if kind == "aggregating":
        return descriptor.agg_function.get_result  # type: ignore[no-any-return]
    if kind == "reducing":
        return _identity
    return list


def _identity(value: Any) -> Any:
    return value


def _slots_of(assigner: Any) -> tuple[int, int] | None:
    """(slot size, offset) when an assigner's windows depend only on the timestamp's slot."""
    if type(assigner) is TumblingEventTimeWindows:
        return assigner.size, assigner.offset
    if type(assigner) is SlidingEventTimeWindows:
        return math.gcd(assigner.size, assigner.slide), assigner.offset
    return None


def _end_of(window: Window) -> int:
    return window[1]  # type: ignore[index, no-any-return]
