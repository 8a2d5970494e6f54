"""Map, flat-map, filter and process: one call per record, a list comprehension per batch.

A timestamped batch keeps its timestamps: map reuses the list, filter and
flat-map select or repeat each record's timestamp for its outputs.
"""

from __future__ import annotations

from itertools import compress
from typing import Any

from weir.common.constants import MIN_LONG_VALUE
from weir.datastream.functions import Function, ProcessFunction, TimerService, function_call
from weir.datastream.output_tag import OutputTag
from weir.graph.operators import FilterSpec, FlatMapSpec, MapSpec, ProcessSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.operators.output import OutputCollector
from weir.taskmanager.records import TimestampedBatch
from weir.taskmanager.runtime_context import StreamingRuntimeContext

__all__ = ["FilterOperator", "FlatMapOperator", "MapOperator", "ProcessOperator",
           "UserFunctionOperator"]


class UserFunctionOperator(StreamOperator):
    """Opens and closes the user's Function object, if it is one."""

    function: Any

    def open(self, context: OperatorContext) -> None:
        if isinstance(self.function, Function):
            self.function.open(StreamingRuntimeContext(context, None))

    def close(self) -> None:
        if isinstance(self.function, Function):
            self.function.close()


class MapOperator(UserFunctionOperator):
    def __init__(self, spec: MapSpec) -> None:
        super().__init__(spec)
        self.function = spec.function
        self._call = function_call(spec.function, "map")

    def process_batch(self, records: list[Any]) -> list[Any]:
        out = list(map(self._call, records))
        if isinstance(records, TimestampedBatch):
            return TimestampedBatch(out, records.timestamps)
        return out


class FilterOperator(UserFunctionOperator):
    def __init__(self, spec: FilterSpec) -> None:
        super().__init__(spec)
        self.function = spec.function
        self._call = function_call(spec.function, "filter")

    def process_batch(self, records: list[Any]) -> list[Any]:
        if isinstance(records, TimestampedBatch):
            keep = list(map(self._call, records))
            return TimestampedBatch(compress(records, keep), list(compress(records.timestamps, keep)))
        return list(filter(self._call, records))


class FlatMapOperator(UserFunctionOperator):
    def __init__(self, spec: FlatMapSpec) -> None:
        super().__init__(spec)
        self.function = spec.function
        self._call = function_call(spec.function, "flat_map")

    def process_batch(self, records: list[Any]) -> list[Any]:
        out: list[Any] = []
        extend = out.extend
        call = self._call
        if isinstance(records, TimestampedBatch):
            out_timestamps: list[int | None] = []
            for record, timestamp in zip(records, records.timestamps):
                produced = call(record)
                if produced is not None:
                    before = len(out)
                    extend(produced)
                    out_timestamps.extend([timestamp] * (len(out) - before))
            return TimestampedBatch(out, out_timestamps)
        for record in records:
            produced = call(record)
            if produced is not None:
                extend(produced)
        return out


class _NonKeyedTimerService(TimerService):
    """The clocks only: timers need a key."""

    def __init__(self, operator: ProcessOperator) -> None:
        self._operator = operator

    def current_processing_time(self) -> int:
        return self._operator.context.clock_ms()

    def current_watermark(self) -> int:
        return self._operator.watermark

    def _no_timers(self, timestamp: int) -> None:
        raise RuntimeError("Setting timers is only supported on a keyed stream: "
                           "use key_by() and a KeyedProcessFunction")

    register_processing_time_timer = _no_timers
    register_event_time_timer = _no_timers
    delete_processing_time_timer = _no_timers
    delete_event_time_timer = _no_timers


class _ProcessContext(ProcessFunction.Context):
    def __init__(self, operator: ProcessOperator) -> None:
        self._operator = operator
        self._timer_service = _NonKeyedTimerService(operator)
        self.current_timestamp: int | None = None

    def timestamp(self) -> int | None:
        return self.current_timestamp

    def timer_service(self) -> TimerService:
        return self._timer_service

    def output(self, output_tag: OutputTag, value: Any) -> None:
        self._operator.output.output(output_tag, value)


class ProcessOperator(UserFunctionOperator):
    def __init__(self, spec: ProcessSpec) -> None:
        super().__init__(spec)
        self.function = spec.function

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        self.context = context
        self.watermark = MIN_LONG_VALUE
        self.output = OutputCollector(self.spec.side_output_routes.values())
        self._ctx = _ProcessContext(self)

    def process_watermark(self, watermark: int) -> list[Any]:
        self.watermark = watermark
        return []

    def process_batch(self, records: list[Any]) -> list[Any]:
        return self.output.process_each(records, self.function.process_element, self._ctx)
