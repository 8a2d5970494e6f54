"""An operator chain: the operators of one task, called one after the other per batch."""

from __future__ import annotations

from typing import Any, Callable

from weir.graph import operators as specs
from weir.taskmanager.operators.base import OperatorContext, SinkOperator, StreamOperator
from weir.taskmanager.operators.keyed import KeyedProcessOperator, KeyedReduceOperator
from weir.taskmanager.operators.sinks import (
    CollectSinkOperator,
    ConnectorSinkOperator,
    PrintSinkOperator,
    SinkFunctionOperator,
)
from weir.taskmanager.operators.stateless import (
    FilterOperator,
    FlatMapOperator,
    MapOperator,
    ProcessOperator,
)

__all__ = ["OperatorChain", "create_operator"]

_RUNTIME_OPERATORS: dict[type, type[StreamOperator]] = {
    specs.MapSpec: MapOperator,
    specs.FlatMapSpec: FlatMapOperator,
    specs.FilterSpec: FilterOperator,
    specs.ProcessSpec: ProcessOperator,
    specs.KeyedProcessSpec: KeyedProcessOperator,
    specs.KeyedReduceSpec: KeyedReduceOperator,
    specs.PrintSinkSpec: PrintSinkOperator,
    specs.CollectSinkSpec: CollectSinkOperator,
    specs.SinkFunctionSpec: SinkFunctionOperator,
    specs.SinkSpec: ConnectorSinkOperator,
}


def create_operator(spec: specs.OperatorSpec) -> StreamOperator:
    try:
        return _RUNTIME_OPERATORS[type(spec)](spec)  # type: ignore[call-arg]
    except KeyError:
        raise ValueError(f"no runtime operator for {type(spec).__name__}") from None


class OperatorChain:
    """The synchronous operators of a task, then optionally a sink that ends the chain."""

    def __init__(self, operator_specs: list[specs.OperatorSpec]) -> None:
        self.operators = [create_operator(spec) for spec in operator_specs]
        tail = self.operators[-1] if self.operators else None
        self.sink: SinkOperator | None = tail if isinstance(tail, SinkOperator) else None
        self._sync = self.operators[:-1] if self.sink is not None else list(self.operators)

    def open(self, context: OperatorContext) -> None:
        for operator in self.operators:
            operator.open(context)

    def process(self, records: list[Any], start: int = 0) -> list[Any]:
        """Run ``records`` through the synchronous operators from position ``start``."""
        for operator in self._sync[start:]:
            records = operator.process_batch(records)
            if not records:
                break
        return records

    def _emit_from_each(self, produce: Callable[[StreamOperator], list[Any]]) -> list[Any]:
        """Call ``produce`` on each operator in chain order; its output runs through the rest."""
        out: list[Any] = []
        for position, operator in enumerate(self._sync):
            emitted = produce(operator)
            if emitted:
                out.extend(self.process(emitted, position + 1))
        return out

    def fire_processing_timers(self, now_ms: int) -> list[Any]:
        return self._emit_from_each(lambda operator: operator.on_processing_time(now_ms))

    def next_processing_timer(self) -> int | None:
        due = [t for op in self._sync if (t := op.next_processing_timer()) is not None]
        return min(due) if due else None

    def end_input(self) -> list[Any]:
        """Operators end in chain order, so each sees everything its predecessor emits."""
        return self._emit_from_each(lambda operator: operator.end_input())

    def close(self) -> None:
        errors = []
        for operator in self.operators:
            try:
                operator.close()
            except Exception as error:  # noqa: BLE001 - close every operator, report the first
                errors.append(error)
        if errors:
            raise errors[0]
