"""Two-input operators: the records of connected streams, each batch with the input it came on.

The task knows each input channel's job edge (``input_index``) and hands a two-input head
operator every batch through ``process_input``; the operator's spec says which edges
carry its first input. Watermarks and barriers need nothing here: the task combines them
over all channels of both inputs (the minimum watermark; alignment over every channel).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from weir.datastream.functions import CoProcessFunction, KeyedCoProcessFunction
from weir.graph.operators import (
    CoFlatMapSpec,
    CoMapSpec,
    CoProcessSpec,
    FlatMapSpec,
    KeyedCoProcessSpec,
    MapSpec,
    TwoInputSpec,
)
from weir.taskmanager.operators.base import OperatorContext, StreamOperator
from weir.taskmanager.operators.keyed import KeyedOperator, KeyedProcessOperator, _KeyedContext
from weir.taskmanager.operators.stateless import (
    FlatMapOperator,
    MapOperator,
    ProcessOperator,
    UserFunctionOperator,
    _ProcessContext,
)

__all__ = ["CoFlatMapOperator", "CoMapOperator", "CoProcessOperator", "KeyedCoProcessOperator",
           "TwoInputOperator", "init_two_input"]


class TwoInputOperator(StreamOperator):
    """An operator with two inputs; it is always the head of its chain.

    ``process_batch1`` gets the batches of the first input, ``process_batch2`` those of
    the second; ``process_batch`` (one input) is never called.
    """

    first_input_edges: int

    def process_input(self, input_index: int, records: list[Any],
                      keys: list[Any] | None = None) -> list[Any]:
        """A batch that came on job edge ``input_index``; returns the outputs. ``keys``:
        its records' keys, when a hash partitioner sent them (keyed operators use them)."""
        if input_index < self.first_input_edges:
            return self.process_batch1(records)
        return self.process_batch2(records)

    def process_batch1(self, records: list[Any]) -> list[Any]:
        raise NotImplementedError

    def process_batch2(self, records: list[Any]) -> list[Any]:
        raise NotImplementedError


def init_two_input(operator: TwoInputOperator, spec: TwoInputSpec) -> None:
    """Set what every two-input operator takes from its spec (its constructor calls this)."""
    operator.first_input_edges = spec.first_input_edges
    operator.function = spec.function  # type: ignore[attr-defined]


class CoMapOperator(UserFunctionOperator, TwoInputOperator):
    """A CoMapFunction on two non-keyed inputs: each input's batch as ``map`` runs it."""

    def __init__(self, spec: CoMapSpec) -> None:
        StreamOperator.__init__(self, spec)
        init_two_input(self, spec)
        self._first = MapOperator(MapSpec(spec.name, spec.uid, spec.function.map1))
        self._second = MapOperator(MapSpec(spec.name, spec.uid, spec.function.map2))

    def process_batch1(self, records: list[Any]) -> list[Any]:
        return self._first.process_batch(records)

    def process_batch2(self, records: list[Any]) -> list[Any]:
        return self._second.process_batch(records)


class CoFlatMapOperator(UserFunctionOperator, TwoInputOperator):
    """A CoFlatMapFunction on two non-keyed inputs: each input's batch as ``flat_map``
    runs it."""

    def __init__(self, spec: CoFlatMapSpec) -> None:
        StreamOperator.__init__(self, spec)
        init_two_input(self, spec)
        self._first = FlatMapOperator(FlatMapSpec(spec.name, spec.uid, spec.function.flat_map1))
        self._second = FlatMapOperator(FlatMapSpec(spec.name, spec.uid,
                                                   spec.function.flat_map2))

    def process_batch1(self, records: list[Any]) -> list[Any]:
        return self._first.process_batch(records)

    def process_batch2(self, records: list[Any]) -> list[Any]:
        return self._second.process_batch(records)


class _CoProcessContext(_ProcessContext, CoProcessFunction.Context):
    pass


class CoProcessOperator(ProcessOperator, TwoInputOperator):
    """A CoProcessFunction (or CoMap/CoFlatMap function) on two non-keyed inputs."""

    def __init__(self, spec: CoProcessSpec) -> None:
        StreamOperator.__init__(self, spec)
        init_two_input(self, spec)

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        self._ctx = _CoProcessContext(self)

    def process_batch1(self, records: list[Any]) -> list[Any]:
        return self.output.process_each(records, self.function.process_element1, self._ctx)

    def process_batch2(self, records: list[Any]) -> list[Any]:
        return self.output.process_each(records, self.function.process_element2, self._ctx)


class _KeyedCoContext(_KeyedContext, KeyedCoProcessFunction.OnTimerContext):
    def collect_at(self, timestamp: int, function: Callable[..., Iterable[Any] | None],
                   *args: Any) -> None:
        """Collect what ``function(*args)`` emits (and the side outputs it emits meanwhile)
        at ``timestamp`` instead of the current record's: an interval join's results carry
        the larger of their two elements' timestamps (``weir.datastream.interval_join``), as
        Flink's ``TimestampedCollector.setAbsoluteTimestamp`` does."""
        output = self._operator.output
        current = output.timestamp
        output.timestamp = timestamp
        try:
            output.collect(function(*args))
        finally:
            output.timestamp = current


class KeyedCoProcessOperator(KeyedProcessOperator, TwoInputOperator):
    """A KeyedCoProcessFunction (or CoProcessFunction, CoMap/CoFlatMap function) on two
    keyed inputs: records of either input with the same key share its state and timers."""

    def __init__(self, spec: KeyedCoProcessSpec) -> None:
        KeyedOperator.__init__(self, spec, spec.key_selector1)
        init_two_input(self, spec)
        self._key_selector2 = spec.key_selector2

    def open(self, context: OperatorContext) -> None:
        super().open(context)
        self._ctx = _KeyedCoContext(self)

    def process_input(self, input_index: int, records: list[Any],
                      keys: list[Any] | None = None) -> list[Any]:
        first = input_index < self.first_input_edges
        process = self.function.process_element1 if first else self.function.process_element2
        if keys is not None:
            return self.process_keyed(records, keys, process, self._ctx)
        key_of = self.key_selector if first else self._key_selector2
        return self.process_keyed(records, map(key_of, records), process, self._ctx)
