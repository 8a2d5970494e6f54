"""User function interfaces (``pyflink.datastream.functions``).

Every function may be given as a plain callable or as an instance of the
matching class. Classes get ``open(runtime_context)`` before the first record
and ``close()`` after the last, on the TaskManager that runs them.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from weir.datastream.output_tag import OutputTag
    from weir.datastream.state import (
        AggregatingState,
        AggregatingStateDescriptor,
        ListState,
        ListStateDescriptor,
        MapState,
        MapStateDescriptor,
        ReducingState,
        ReducingStateDescriptor,
        ValueState,
        ValueStateDescriptor,
    )
    from weir.datastream.window import Window

__all__ = [
    "AggregateFunction",
    "AllWindowFunction",
    "FilterFunction",
    "FlatMapFunction",
    "Function",
    "KeySelector",
    "KeyedProcessFunction",
    "MapFunction",
    "ProcessAllWindowFunction",
    "ProcessFunction",
    "ProcessWindowFunction",
    "ReduceFunction",
    "RuntimeContext",
    "SinkFunction",
    "TimeDomain",
    "TimerService",
    "WindowFunction",
]

IN = TypeVar("IN")
OUT = TypeVar("OUT")
ACC = TypeVar("ACC")


class RuntimeContext(abc.ABC):
    """What a function knows about the subtask that runs it, and its keyed state."""

    @abc.abstractmethod
    def get_task_name(self) -> str: ...

    @abc.abstractmethod
    def get_number_of_parallel_subtasks(self) -> int: ...

    @abc.abstractmethod
    def get_max_number_of_parallel_subtasks(self) -> int: ...

    @abc.abstractmethod
    def get_index_of_this_subtask(self) -> int: ...

    @abc.abstractmethod
    def get_attempt_number(self) -> int: ...

    @abc.abstractmethod
    def get_job_parameter(self, key: str, default_value: str) -> str: ...

    @abc.abstractmethod
    def get_state(self, state_descriptor: ValueStateDescriptor) -> ValueState: ...

    @abc.abstractmethod
    def get_list_state(self, state_descriptor: ListStateDescriptor) -> ListState: ...

    @abc.abstractmethod
    def get_map_state(self, state_descriptor: MapStateDescriptor) -> MapState: ...

    @abc.abstractmethod
    def get_reducing_state(self, state_descriptor: ReducingStateDescriptor) -> ReducingState: ...

    @abc.abstractmethod
    def get_aggregating_state(
            self, state_descriptor: AggregatingStateDescriptor) -> AggregatingState: ...


class Function:
    """Base of every user function class."""

    def open(self, runtime_context: RuntimeContext) -> None:
        """Called once per subtask before the first record."""

    def close(self) -> None:
        """Called once per subtask after the last record (also on cancel)."""


class MapFunction(Function, Generic[IN, OUT]):
    @abc.abstractmethod
    def map(self, value: IN) -> OUT: ...


class FlatMapFunction(Function, Generic[IN, OUT]):
    @abc.abstractmethod
    def flat_map(self, value: IN) -> Iterable[OUT]: ...


class FilterFunction(Function, Generic[IN]):
    @abc.abstractmethod
    def filter(self, value: IN) -> bool: ...


class ReduceFunction(Function, Generic[IN]):
    @abc.abstractmethod
    def reduce(self, value1: IN, value2: IN) -> IN: ...


class KeySelector(Function, Generic[IN]):
    @abc.abstractmethod
    def get_key(self, value: IN) -> Any: ...


class AggregateFunction(Function, Generic[IN, ACC, OUT]):
    """Incremental aggregation: one accumulator per key (or window)."""

    @abc.abstractmethod
    def create_accumulator(self) -> ACC: ...

    @abc.abstractmethod
    def add(self, value: IN, accumulator: ACC) -> ACC: ...

    @abc.abstractmethod
    def get_result(self, accumulator: ACC) -> OUT: ...

    def merge(self, acc_a: ACC, acc_b: ACC) -> ACC:
        raise NotImplementedError(f"{type(self).__name__} does not implement merge()")


class TimeDomain(enum.Enum):
    EVENT_TIME = 0
    PROCESSING_TIME = 1


class TimerService(abc.ABC):
    """Timers of the current key; one timer per (key, timestamp)."""

    @abc.abstractmethod
    def current_processing_time(self) -> int: ...

    @abc.abstractmethod
    def current_watermark(self) -> int: ...

    @abc.abstractmethod
    def register_processing_time_timer(self, timestamp: int) -> None: ...

    @abc.abstractmethod
    def register_event_time_timer(self, timestamp: int) -> None: ...

    @abc.abstractmethod
    def delete_processing_time_timer(self, timestamp: int) -> None: ...

    @abc.abstractmethod
    def delete_event_time_timer(self, timestamp: int) -> None: ...


class ProcessFunction(Function, Generic[IN, OUT]):
    """Processes each record; ``process_element`` yields the outputs."""

    class Context(abc.ABC):
        @abc.abstractmethod
        def timestamp(self) -> int | None: ...

        @abc.abstractmethod
        def timer_service(self) -> TimerService: ...

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag`` (yielding
            ``(output_tag, value)`` does the same, as in PyFlink)."""

    @abc.abstractmethod
    def process_element(self, value: IN, ctx: ProcessFunction.Context) -> Iterable[OUT] | None: ...


class KeyedProcessFunction(Function, Generic[IN, OUT]):
    """Processes each record of a keyed stream with keyed state and timers.

    ``process_element`` and ``on_timer`` yield their outputs (or return an
    iterable, or None).
    """

    class Context(abc.ABC):
        @abc.abstractmethod
        def timestamp(self) -> int | None: ...

        @abc.abstractmethod
        def timer_service(self) -> TimerService: ...

        @abc.abstractmethod
        def get_current_key(self) -> Any: ...

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""

    class OnTimerContext(Context):
        @abc.abstractmethod
        def time_domain(self) -> TimeDomain: ...

    @abc.abstractmethod
    def process_element(self, value: IN,
                        ctx: KeyedProcessFunction.Context) -> Iterable[OUT] | None: ...

    def on_timer(self, timestamp: int,
                 ctx: KeyedProcessFunction.OnTimerContext) -> Iterable[OUT] | None:
        return None


class WindowFunction(Function, Generic[IN, OUT]):
    """Evaluates a window of a keyed stream: ``apply`` gets the key, the window and its
    elements (or the single pre-aggregated value) and yields the outputs."""

    @abc.abstractmethod
    def apply(self, key: Any, window: Window, inputs: Iterable[IN]) -> Iterable[OUT] | None: ...


class AllWindowFunction(Function, Generic[IN, OUT]):
    """``WindowFunction`` for ``window_all``: no key."""

    @abc.abstractmethod
    def apply(self, window: Window, inputs: Iterable[IN]) -> Iterable[OUT] | None: ...


class _WindowContext(abc.ABC):
    """What a process window function knows about the window being evaluated."""

    @abc.abstractmethod
    def window(self) -> Window: ...

    @abc.abstractmethod
    def current_processing_time(self) -> int: ...

    @abc.abstractmethod
    def current_watermark(self) -> int: ...

    @abc.abstractmethod
    def window_state(self) -> Any:
        """Keyed state scoped to this key and window (get_state, get_list_state, ...)."""

    @abc.abstractmethod
    def global_state(self) -> Any:
        """Keyed state scoped to this key, shared by all its windows."""

    @abc.abstractmethod
    def output(self, output_tag: OutputTag, value: Any) -> None:
        """Emit ``value`` to the side output ``output_tag``."""


class ProcessWindowFunction(Function, Generic[IN, OUT]):
    """Evaluates a window of a keyed stream with access to the window and its state."""

    class Context(_WindowContext):
        pass

    @abc.abstractmethod
    def process(self, key: Any, context: ProcessWindowFunction.Context,
                elements: Iterable[IN]) -> Iterable[OUT] | None: ...

    def clear(self, context: ProcessWindowFunction.Context) -> None:
        """The window is discarded: delete its window state here."""


class ProcessAllWindowFunction(Function, Generic[IN, OUT]):
    """``ProcessWindowFunction`` for ``window_all``: no key."""

    class Context(_WindowContext):
        pass

    @abc.abstractmethod
    def process(self, context: ProcessAllWindowFunction.Context,
                elements: Iterable[IN]) -> Iterable[OUT] | None: ...

    def clear(self, context: ProcessAllWindowFunction.Context) -> None:
        """The window is discarded: delete its window state here."""


class SinkFunction(Function, Generic[IN]):
    """A user sink for ``add_sink``: ``invoke`` is called once per record."""

    @abc.abstractmethod
    def invoke(self, value: IN, context: Any) -> None: ...


def function_call(function: Any, method: str) -> Callable[..., Any]:
    """The callable to run for ``function``: its ``method`` if it is a Function
    object, else the callable itself."""
    if isinstance(function, Function):
        return getattr(function, method)
    if callable(function):
        return function
    raise TypeError(f"expected a callable or a {method}() function object, "
                    f"got {type(function).__name__}")
