"""Map, flat-map, filter and process: one call per record, a list comprehension per batch."""

from __future__ import annotations

from typing import Any

from weir.datastream.functions import Function, ProcessFunction, TimerService, function_call
from weir.graph.operators import FilterSpec, FlatMapSpec, MapSpec, ProcessSpec
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
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
        return list(map(self._call, records))


class FilterOperator(UserFunctionOperator):
    def __init__(self, spec: FilterSpec) -> None:
        super().__init__(spec)
        self.function = spec.function
        self._call = function_call(spec.function, "filter")

    def process_batch(self, records: list[Any]) -> list[Any]:
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
        for record in records:
            produced = call(record)
            if produced is not None:
                extend(produced)
        return out


class _ProcessContext(ProcessFunction.Context):
    def __init__(self, context: OperatorContext) -> None:
        self._context = context

    def timestamp(self) -> int | None:
        return None

    def timer_service(self) -> TimerService:
        raise RuntimeError("Setting timers is only supported on a keyed stream: "
                           "use key_by() and a KeyedProcessFunction")


class ProcessOperator(UserFunctionOperator):
    def __init__(self, spec: ProcessSpec) -> None:
        super().__init__(spec)
        self.function = spec.function

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        self._ctx = _ProcessContext(context)

    def process_batch(self, records: list[Any]) -> list[Any]:
        out: list[Any] = []
        process = self.function.process_element
        ctx = self._ctx
        for record in records:
            produced = process(record, ctx)
            if produced is not None:
                out.extend(produced)
        return out
