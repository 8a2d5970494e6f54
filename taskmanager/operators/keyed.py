"""Keyed operators: rolling reduce and KeyedProcessFunction with keyed state and timers."""

from __future__ import annotations

from typing import Any

from weir.datastream.functions import Function, KeyedProcessFunction, TimeDomain, TimerService
from weir.graph.operators import KeyedProcessSpec, KeyedReduceSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.runtime_context import StreamingRuntimeContext
from weir.taskmanager.state.heap import HeapKeyedStateBackend
from weir.taskmanager.timers import TimerQueue

__all__ = ["KeyedProcessOperator", "KeyedReduceOperator"]

_MISSING = object()
MAX_WATERMARK = 2**63 - 1
MIN_WATERMARK = -(2**63)


class KeyedReduceOperator(StreamOperator):
    """Emits the running reduction of the record's key after every record."""

    def __init__(self, spec: KeyedReduceSpec) -> None:
        super().__init__(spec)
        self._key_selector = spec.key_selector
        self._reduce = spec.function

    def open(self, context: OperatorContext) -> None:
        self.backend = HeapKeyedStateBackend(context.clock_ms)
        self._table = self.backend.table("reduce")

    def process_batch(self, records: list[Any]) -> list[Any]:
        table = self._table
        get = table.get
        key_of = self._key_selector
        reduce = self._reduce
        out = []
        append = out.append
        for record in records:
            key = key_of(record)
            acc = get(key, _MISSING)
            acc = record if acc is _MISSING else reduce(acc, record)
            table[key] = acc
            append(acc)
        return out


class _KeyedTimerService(TimerService):
    def __init__(self, operator: KeyedProcessOperator) -> None:
        self._operator = operator

    def current_processing_time(self) -> int:
        return self._operator.context.clock_ms()

    def current_watermark(self) -> int:
        return self._operator.watermark

    def register_processing_time_timer(self, timestamp: int) -> None:
        op = self._operator
        if op.processing_timers.register(op.backend.current_key, int(timestamp)):
            op.context.request_timer_wakeup(int(timestamp))

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


class KeyedProcessOperator(StreamOperator):
    """Runs a KeyedProcessFunction with the record's key as the state scope."""

    def __init__(self, spec: KeyedProcessSpec) -> None:
        super().__init__(spec)
        self._key_selector = spec.key_selector
        self.function = spec.function
        self.processing_timers = TimerQueue()
        self.event_timers = TimerQueue()
        self.watermark = MIN_WATERMARK

    def open(self, context: OperatorContext) -> None:
        self.context = context
        self.backend = HeapKeyedStateBackend(context.clock_ms)
        self._ctx = _KeyedContext(self)
        if isinstance(self.function, Function):
            self.function.open(StreamingRuntimeContext(context, self.backend))

    def process_batch(self, records: list[Any]) -> list[Any]:
        out: list[Any] = []
        backend = self.backend
        key_of = self._key_selector
        process = self.function.process_element
        ctx = self._ctx
        for record in records:
            backend.current_key = key_of(record)
            produced = process(record, ctx)
            if produced is not None:
                out.extend(produced)
        return out

    def _fire(self, timers: TimerQueue, upto: int, domain: TimeDomain) -> list[Any]:
        out: list[Any] = []
        ctx = self._ctx
        ctx.domain = domain
        while (due := timers.pop_due(upto)) is not None:
            timestamp, key = due
            self.backend.current_key = key
            ctx.current_timestamp = timestamp
            produced = self.function.on_timer(timestamp, ctx)
            if produced is not None:
                out.extend(produced)
        ctx.current_timestamp = None
        return out

    def on_processing_time(self, now_ms: int) -> list[Any]:
        return self._fire(self.processing_timers, now_ms, TimeDomain.PROCESSING_TIME)

    def next_processing_timer(self) -> int | None:
        return self.processing_timers.next_timestamp()

    def end_input(self) -> list[Any]:
        self.watermark = MAX_WATERMARK
        return self._fire(self.event_timers, MAX_WATERMARK, TimeDomain.EVENT_TIME)

    def close(self) -> None:
        if isinstance(self.function, Function):
            self.function.close()
