"""Keyed operators: rolling reduce and KeyedProcessFunction with keyed state and timers."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from weir.checkpoint.redistribution import RedistributedState
from weir.common.constants import MAX_LONG_VALUE, MIN_LONG_VALUE
from weir.datastream.execution_mode import is_batch
from weir.datastream.functions import Function, KeyedProcessFunction, TimeDomain, TimerService
from weir.datastream.output_tag import OutputTag
from weir.graph.operators import KeyedProcessSpec, KeyedReduceSpec, OperatorSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.operators.output import OutputCollector
from weir.taskmanager.records import TimestampedBatch
from weir.taskmanager.runtime_context import StreamingRuntimeContext
from weir.taskmanager.state.backend import (
    KeyedStateBackend,
    KeyedStateSnapshot,
    TimerKeyFunction,
)
from weir.taskmanager.timers import TimerQueue

__all__ = ["KeyedOperator", "KeyedProcessOperator", "KeyedReduceOperator"]

_MISSING = object()
PROCESSING_TIMERS = "processing-timers"
EVENT_TIMERS = "event-timers"


def _restored_snapshots(state: Any) -> list[KeyedStateSnapshot]:
    """The keyed state snapshots a keyed operator restores from: one, or one per old
    subtask whose key groups overlap this one's (after rescaling)."""
    if state is None:
        return []
    return list(state) if isinstance(state, RedistributedState) else [state]


class KeyedReduceOperator(StreamOperator):
    """Emits the running reduction of the record's key after every record; in BATCH mode
    only each key's final value, at the end of input, timestamped with the maximum
    watermark (Flink's ``BatchGroupedReduceOperator``)."""

    def __init__(self, spec: KeyedReduceSpec) -> None:
        super().__init__(spec)
        self._key_selector = spec.key_selector
        self._reduce = spec.function
        self._batch = False
        self._timed = False  # BATCH: the input had timestamps, so the output has them

    def open(self, context: OperatorContext) -> None:
        self.backend: KeyedStateBackend = context.keyed_state_backend()
        self._table = self.backend.keyed_table("reduce")
        self.backend.restore(_restored_snapshots(self.restored_state))
        self._batch = is_batch(context.configuration)

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return self.backend.snapshot()

    def close(self) -> None:
        _dispose(self)

    def process_batch(self, records: list[Any]) -> list[Any]:
        return self.process_keyed_batch(records, map(self._key_selector, records))

    def process_keyed_batch(self, records: list[Any], keys: Iterable[Any]) -> list[Any]:
        if self._batch:
            self._accumulate(records, keys)
            return []
        table = self._table
        get = table.get
        reduce = self._reduce
        out: list[Any] = []
        append = out.append
        for record, key in zip(records, keys):
            acc = get(key, _MISSING)
            acc = record if acc is _MISSING else reduce(acc, record)
            table[key] = acc
            append(acc)
        if isinstance(records, TimestampedBatch):
            return TimestampedBatch(out, records.timestamps)
        return out

    def _accumulate(self, records: list[Any], keys: Iterable[Any]) -> None:
        table = self._table
        get = table.get
        reduce = self._reduce
        for record, key in zip(records, keys):
            acc = get(key, _MISSING)
            table[key] = record if acc is _MISSING else reduce(acc, record)
        self._timed = self._timed or isinstance(records, TimestampedBatch)

    def end_input(self) -> list[Any]:
        if not self._batch:
            return []
        out = list(self._table.values())
        if self._timed:
            return TimestampedBatch(out, [MAX_LONG_VALUE] * len(out))
        return out


class KeyedOperator(StreamOperator):
    """Keyed state, per-key timers in both time domains, and the current watermark.

    Event-time timers fire when a watermark reaches them (``process_watermark``),
    processing-time timers when the task's clock does (``on_processing_time``), in BATCH
    mode all at the end of input (``end_input``), as in Flink; subclasses handle each
    timer in ``on_timer``. Keyed state and both timer
    queues live in the backend the context gives; the snapshot is the backend's.
    """

    watermark: int
    batch = False  # BATCH mode (set in ``open``): processing-time timers wait for end_input
    # The record key of a timer key (subclasses whose timer keys are (key, window) override).
    timer_record_key: TimerKeyFunction | None = None

    def __init__(self, spec: OperatorSpec, key_selector: Any) -> None:
        super().__init__(spec)
        self.key_selector = key_selector
        self.watermark = MIN_LONG_VALUE

    def open(self, context: OperatorContext) -> None:
        self.context = context
        self.backend: KeyedStateBackend = context.keyed_state_backend()
        self.processing_timers = self.backend.timer_queue(PROCESSING_TIMERS, self.timer_record_key)
        self.event_timers = self.backend.timer_queue(EVENT_TIMERS, self.timer_record_key)
        self.backend.restore(_restored_snapshots(self.restored_state))
        self.batch = is_batch(context.configuration)
        upcoming = self.next_processing_timer()
        if upcoming is not None:
            context.request_timer_wakeup(upcoming)
        self.output = OutputCollector(self.spec.side_output_routes.values())

    def snapshot_state(self, checkpoint_id: int) -> Any:
        return self.backend.snapshot()

    def close(self) -> None:
        _dispose(self)

    def register_processing_timer(self, key: Any, timestamp: int) -> None:
        if self.processing_timers.register(key, timestamp) and not self.batch:
            self.context.request_timer_wakeup(timestamp)

    def process_watermark(self, watermark: int) -> list[Any]:
        self.watermark = watermark
        return self._fire(self.event_timers, watermark, TimeDomain.EVENT_TIME)

    def on_processing_time(self, now_ms: int) -> list[Any]:
        if self.batch:
            return []
        return self._fire(self.processing_timers, now_ms, TimeDomain.PROCESSING_TIME)

    def next_processing_timer(self) -> int | None:
        return None if self.batch else self.processing_timers.next_timestamp()

    def end_input(self) -> list[Any]:
        if not self.batch:
            return []
        return self._fire(self.processing_timers, MAX_LONG_VALUE, TimeDomain.PROCESSING_TIME)

    def _fire(self, timers: TimerQueue, upto: int, domain: TimeDomain) -> list[Any]:
        if timers.next_timestamp() is None:
            return []
        output = self.output
        output.start(self.timer_outputs_timed(domain))
        while (due := timers.pop_due(upto)) is not None:
            timestamp, key = due
            output.timestamp = timestamp
            self.on_timer(timestamp, key, domain)
        output.timestamp = None
        return output.take()

    def timer_outputs_timed(self, domain: TimeDomain) -> bool:
        """Whether outputs of timers in ``domain`` carry the timer's timestamp."""
        return True

    def on_timer(self, timestamp: int, key: Any, domain: TimeDomain) -> None:
        raise NotImplementedError


class _KeyedTimerService(TimerService):
    def __init__(self, operator: KeyedProcessOperator) -> None:
        self._operator = operator

    def current_processing_time(self) -> int:
        return self._operator.context.clock_ms()

    def current_watermark(self) -> int:
        return self._operator.watermark

    def register_processing_time_timer(self, timestamp: int) -> None:
        op = self._operator
        op.register_processing_timer(op.backend.current_key, int(timestamp))

    def register_event_time_timer(self, timestamp: int) -> None:
        op = self._operator
        op.event_timers.register(op.backend.current_key, int(timestamp))

    def delete_processing_time_timer(self, timestamp: int) -> None:
        op = self._operator
        op.processing_timers.delete(op.backend.current_key, int(timestamp))

    def delete_event_time_timer(self, timestamp: int) -> None:
        op = self._operator
        op.event_timers.delete(op.backend.current_key, int(timestamp))


class _KeyedContext(KeyedProcessFunction.OnTimerContext):
    def __init__(self, operator: KeyedProcessOperator) -> None:
        self._operator = operator
        self._timer_service = _KeyedTimerService(operator)
        self.current_timestamp: int | None = None
        self.domain = TimeDomain.PROCESSING_TIME

    def timestamp(self) -> int | None:
        return self.current_timestamp

    def timer_service(self) -> TimerService:
        return self._timer_service

    def get_current_key(self) -> Any:
        return self._operator.backend.current_key

    def time_domain(self) -> TimeDomain:
        return self.domain

    def output(self, output_tag: OutputTag, value: Any) -> None:
        self._operator.output.output(output_tag, value)


class KeyedProcessOperator(KeyedOperator):
    """Runs a KeyedProcessFunction with the record's key as the state scope.

    Outputs of ``process_element`` carry the record's timestamp, outputs of an
    event-time ``on_timer`` the timer's; processing-time timers' outputs carry
    none (as in Flink).
    """

    def __init__(self, spec: KeyedProcessSpec) -> None:
        super().__init__(spec, spec.key_selector)
        self.function = spec.function

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        self._ctx = _KeyedContext(self)
        if isinstance(self.function, Function):
            self.function.open(StreamingRuntimeContext(context, self.backend))

    def process_batch(self, records: list[Any]) -> list[Any]:
        return self.process_keyed_batch(records, map(self.key_selector, records))

    def process_keyed_batch(self, records: list[Any], keys: Iterable[Any]) -> list[Any]:
        return self.process_keyed(records, keys, self.function.process_element, self._ctx)

    def process_keyed(self, records: list[Any], keys: Iterable[Any],
                      process: Callable[[Any, Any], Any], ctx: Any) -> list[Any]:
        """The outputs of ``process(record, ctx)`` for each record with its key (``keys``,
        parallel to ``records``) current; ``ctx.current_timestamp`` is the record's
        timestamp meanwhile."""
        backend = self.backend
        output = self.output
        collect = output.collect
        timestamps = records.timestamps if isinstance(records, TimestampedBatch) else None
        output.start(timestamps is not None)
        for index, (record, key) in enumerate(zip(records, keys)):
            backend.current_key = key
            if timestamps is not None:
                output.timestamp = ctx.current_timestamp = timestamps[index]
            collect(process(record, ctx))
        output.timestamp = ctx.current_timestamp = None
        if backend.cleans_up_per_record:
            backend.cleanup_for_records(len(records))
        return output.take()

    def timer_outputs_timed(self, domain: TimeDomain) -> bool:
        return domain is TimeDomain.EVENT_TIME

    def on_timer(self, timestamp: int, key: Any, domain: TimeDomain) -> None:
        ctx = self._ctx
        ctx.domain = domain
        self.backend.current_key = key
        ctx.current_timestamp = timestamp
        self.output.collect(self.function.on_timer(timestamp, ctx))
        ctx.current_timestamp = None

    def close(self) -> None:
        try:
            if isinstance(self.function, Function):
                self.function.close()
        finally:
            super().close()


def _dispose(operator: StreamOperator) -> None:
    """Dispose an operator's backend; ``close`` also runs when ``open`` failed before it."""
    backend = getattr(operator, "backend", None)
    if backend is not None:
        backend.dispose()
