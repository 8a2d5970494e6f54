"""The RuntimeContext user functions see: task facts and, on keyed streams, keyed state."""

from __future__ import annotations

from weir.datastream.functions import RuntimeContext
from weir.datastream.state import (
    AggregatingState,
    AggregatingStateDescriptor,
    ListState,
    ListStateDescriptor,
    MapState,
    MapStateDescriptor,
    ReducingState,
    ReducingStateDescriptor,
    StateDescriptor,
    ValueState,
    ValueStateDescriptor,
)
from weir.metrics import MetricGroup
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.state.backend import KeyedStateBackend

__all__ = ["StreamingRuntimeContext"]


class StreamingRuntimeContext(RuntimeContext):
    def __init__(self, context: OperatorContext, backend: KeyedStateBackend | None) -> None:
        self._context = context
        self._backend = backend

    def get_task_name(self) -> str:
        return self._context.task_name

    def get_number_of_parallel_subtasks(self) -> int:
        return self._context.parallelism

    def get_max_number_of_parallel_subtasks(self) -> int:
        return self._context.max_parallelism

    def get_index_of_this_subtask(self) -> int:
        return self._context.subtask_index

    def get_attempt_number(self) -> int:
        return self._context.attempt

    def get_job_parameter(self, key: str, default_value: str) -> str:
        return self._context.configuration.get(key, default_value)

    def get_metrics_group(self) -> MetricGroup:
        return self._context.metric_group

    def _state(self, kind: str, descriptor: StateDescriptor):  # type: ignore[no-untyped-def]
        if self._backend is None:
            raise RuntimeError("Keyed state can only be used on a 'keyed stream', i.e., after a "
                               "'key_by()' operation.")
        return self._backend.get_state(kind, descriptor)

    def get_state(self, state_descriptor: ValueStateDescriptor) -> ValueState:
        return self._state("value", state_descriptor)

    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState:
        return self._state("list", state_descriptor)

    def get_map_state(self, state_descriptor: MapStateDescriptor) -> MapState:
        return self._state("map", state_descriptor)

    def get_reducing_state(self, state_descriptor: ReducingStateDescriptor) -> ReducingState:
        return self._state("reducing", state_descriptor)

    def get_aggregating_state(
            self, state_descriptor: AggregatingStateDescriptor) -> AggregatingState:
        return self._state("aggregating", state_descriptor)
