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
        BroadcastState,
        ListState,
        ListStateDescriptor,
        MapState,
        MapStateDescriptor,
        ReadOnlyBroadcastState,
        ReducingState,
        ReducingStateDescriptor,
        State,
        StateDescriptor,
        ValueState,
        ValueStateDescriptor,
    )
    from weir.datastream.window import Window
    from weir.metrics import MetricGroup

__all__ = [
    "AggregateFunction",
    "AllWindowFunction",
    "AsyncFunction",
    "AsyncRetryPredicate",
    "AsyncRetryStrategy",
    "BaseBroadcastProcessFunction",
    "BroadcastProcessFunction",
    "CoFlatMapFunction",
    "CoGroupFunction",
    "CoMapFunction",
    "CoProcessFunction",
    "FilterFunction",
    "FlatJoinFunction",
    "FlatMapFunction",
    "Function",
    "JoinFunction",
    "KeySelector",
    "KeyedBroadcastProcessFunction",
    "KeyedCoProcessFunction",
    "KeyedProcessFunction",
    "MapFunction",
    "Partitioner",
    "ProcessAllWindowFunction",
    "ProcessFunction",
    "ProcessJoinFunction",
    "ProcessWindowFunction",
    "ReduceFunction",
    "RuntimeContext",
    "SinkFunction",
    "TimeDomain",
    "TimerService",
    "WindowFunction",
]

IN = TypeVar("IN")
IN1 = TypeVar("IN1")
IN2 = TypeVar("IN2")
OUT = TypeVar("OUT")
KEY = TypeVar("KEY")
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
    def get_metrics_group(self) -> MetricGroup:
        """The metric group of the operator running this function (PyFlink's): its
        ``counter``, ``gauge``, ``meter`` and ``distribution`` are exported with the
        operator's metrics."""

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


class CoMapFunction(Function, Generic[IN1, IN2, OUT]):
    """Maps the records of two connected streams: ``map1`` for the first, ``map2`` for the
    second; both feed one output stream."""

    @abc.abstractmethod
    def map1(self, value: IN1) -> OUT: ...

    @abc.abstractmethod
    def map2(self, value: IN2) -> OUT: ...


class CoFlatMapFunction(Function, Generic[IN1, IN2, OUT]):
    """``CoMapFunction`` with any number of outputs per record."""

    @abc.abstractmethod
    def flat_map1(self, value: IN1) -> Iterable[OUT] | None: ...

    @abc.abstractmethod
    def flat_map2(self, value: IN2) -> Iterable[OUT] | None: ...


class CoProcessFunction(Function, Generic[IN1, IN2, OUT]):
    """Processes the records of two connected streams; ``process_element1`` and
    ``process_element2`` yield the outputs."""

    class Context(abc.ABC):
        @abc.abstractmethod
        def timestamp(self) -> int | None: ...

        @abc.abstractmethod
        def timer_service(self) -> TimerService: ...

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""

    @abc.abstractmethod
    def process_element1(self, value: IN1,
                         ctx: CoProcessFunction.Context) -> Iterable[OUT] | None: ...

    @abc.abstractmethod
    def process_element2(self, value: IN2,
                         ctx: CoProcessFunction.Context) -> Iterable[OUT] | None: ...


class KeyedCoProcessFunction(Function, Generic[KEY, IN1, IN2, OUT]):
    """Processes two connected keyed streams: both inputs share the keyed state and timers
    of the current key."""

    class Context(abc.ABC):
        @abc.abstractmethod
        def get_current_key(self) -> Any: ...

        @abc.abstractmethod
        def timestamp(self) -> int | None: ...

        @abc.abstractmethod
        def timer_service(self) -> TimerService: ...

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""

    class OnTimerContext(Context):
        @abc.abstractmethod
        def time_domain(self) -> TimeDomain: ...

    @abc.abstractmethod
    def process_element1(self, value: IN1,
                         ctx: KeyedCoProcessFunction.Context) -> Iterable[OUT] | None: ...

    @abc.abstractmethod
    def process_element2(self, value: IN2,
                         ctx: KeyedCoProcessFunction.Context) -> Iterable[OUT] | None: ...

    def on_timer(self, timestamp: int,
                 ctx: KeyedCoProcessFunction.OnTimerContext) -> Iterable[OUT] | None:
        return None


class BaseBroadcastProcessFunction(Function):
    """Base of the functions of a stream connected with a ``BroadcastStream``.

    ``process_broadcast_element`` sees every record of the broadcast stream on every
    subtask and may change the broadcast state (``Context``); ``process_element`` sees the
    other stream's records and may only read it (``ReadOnlyContext``). Every subtask must
    change the broadcast state in the same way, so that the copies stay identical.
    """

    class BaseContext(abc.ABC):
        @abc.abstractmethod
        def timestamp(self) -> int | None: ...

        @abc.abstractmethod
        def current_processing_time(self) -> int: ...

        @abc.abstractmethod
        def current_watermark(self) -> int: ...

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""

    class Context(BaseContext):
        @abc.abstractmethod
        def get_broadcast_state(self, state_descriptor: MapStateDescriptor) -> BroadcastState:
            ...

    class ReadOnlyContext(BaseContext):
        @abc.abstractmethod
        def get_broadcast_state(self, state_descriptor: MapStateDescriptor
                                ) -> ReadOnlyBroadcastState: ...


class BroadcastProcessFunction(BaseBroadcastProcessFunction, Generic[IN1, IN2, OUT]):
    """For a non-keyed stream connected with a ``BroadcastStream``."""

    class Context(BaseBroadcastProcessFunction.Context, abc.ABC):
        pass

    class ReadOnlyContext(BaseBroadcastProcessFunction.ReadOnlyContext, abc.ABC):
        pass

    @abc.abstractmethod
    def process_element(self, value: IN1, ctx: BroadcastProcessFunction.ReadOnlyContext
                        ) -> Iterable[OUT] | None: ...

    @abc.abstractmethod
    def process_broadcast_element(self, value: IN2, ctx: BroadcastProcessFunction.Context
                                  ) -> Iterable[OUT] | None: ...


class KeyedBroadcastProcessFunction(BaseBroadcastProcessFunction, Generic[KEY, IN1, IN2, OUT]):
    """For a keyed stream connected with a ``BroadcastStream``: ``process_element`` also has
    keyed state and timers; ``process_broadcast_element`` reaches every key's state with
    ``ctx.apply_to_keyed_state``."""

    class Context(BaseBroadcastProcessFunction.Context, abc.ABC):
        @abc.abstractmethod
        def apply_to_keyed_state(self, state_descriptor: StateDescriptor,
                                 function: Callable[[Any, State], None]) -> None:
            """Call ``function(key, state)`` for every key of this subtask that has state
            ``state_descriptor``."""

    class ReadOnlyContext(BaseBroadcastProcessFunction.ReadOnlyContext, abc.ABC):
        @abc.abstractmethod
        def timer_service(self) -> TimerService: ...

        @abc.abstractmethod
        def get_current_key(self) -> Any: ...

    class OnTimerContext(ReadOnlyContext, abc.ABC):
        @abc.abstractmethod
        def time_domain(self) -> TimeDomain: ...

    @abc.abstractmethod
    def process_element(self, value: IN1, ctx: KeyedBroadcastProcessFunction.ReadOnlyContext
                        ) -> Iterable[OUT] | None: ...

    @abc.abstractmethod
    def process_broadcast_element(self, value: IN2, ctx: KeyedBroadcastProcessFunction.Context
                                  ) -> Iterable[OUT] | None: ...

    def on_timer(self, timestamp: int, ctx: KeyedBroadcastProcessFunction.OnTimerContext
                 ) -> Iterable[OUT] | None:
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


class Partitioner(Function):
    """Picks the partition (downstream subtask) of a key, for ``partition_custom``."""

    @abc.abstractmethod
    def partition(self, key: Any, num_partitions: int) -> int:
        """The partition of ``key``: an int in ``[0, num_partitions)``."""


class AsyncFunction(Function, Generic[IN, OUT]):
    """Async I/O (``AsyncDataStream.ordered_wait`` / ``unordered_wait``): ``async_invoke``
    runs as a coroutine on the TaskManager's event loop, many requests at a time; it must
    await its I/O, never block."""

    @abc.abstractmethod
    async def async_invoke(self, value: IN) -> list[OUT]:
        """The results of ``value``; raise to fail the job (or to retry, as the retry
        strategy's exception predicate says)."""

    def timeout(self, value: IN) -> list[OUT]:
        """The results of ``value`` when ``async_invoke`` did not finish within the timeout;
        by default the job fails."""
        raise TimeoutError(f"Async function call has timed out for input: {value}")


class AsyncRetryPredicate(abc.ABC, Generic[OUT]):
    """When an async request is retried: on a result, on an exception (None: never)."""

    @abc.abstractmethod
    def result_predicate(self) -> Callable[[list[OUT]], bool] | None: ...

    @abc.abstractmethod
    def exception_predicate(self) -> Callable[[Exception], bool] | None: ...


class AsyncRetryStrategy(abc.ABC, Generic[OUT]):
    """How often and after which delay an async request is retried. Attempts count from 1:
    after attempt n the request is retried when ``can_retry(n)`` and the predicate says so,
    after ``get_backoff_time_millis(n)``."""

    @abc.abstractmethod
    def can_retry(self, current_attempts: int) -> bool: ...

    @abc.abstractmethod
    def get_backoff_time_millis(self, current_attempts: int) -> int: ...

    @abc.abstractmethod
    def get_retry_predicate(self) -> AsyncRetryPredicate[OUT]: ...

    @staticmethod
    def no_restart() -> AsyncRetryStrategy[Any]:
        from weir.datastream import async_retry_strategies
        return async_retry_strategies.NO_RETRY_STRATEGY

    @staticmethod
    def fixed_delay(max_attempts: int, backoff_time_millis: int,
                    result_predicate: Callable[[list[OUT]], bool] | None,
                    exception_predicate: Callable[[Exception], bool] | None
                    ) -> AsyncRetryStrategy[OUT]:
        from weir.datastream.async_retry_strategies import FixedDelayRetryStrategy
        return FixedDelayRetryStrategy(max_attempts, backoff_time_millis, result_predicate,
                                       exception_predicate)

    @staticmethod
    def exponential_backoff(max_attempts: int, initial_delay: int, max_retry_delay: int,
                            multiplier: float,
                            result_predicate: Callable[[list[OUT]], bool] | None,
                            exception_predicate: Callable[[Exception], bool] | None
                            ) -> AsyncRetryStrategy[OUT]:
        from weir.datastream.async_retry_strategies import ExponentialBackoffDelayRetryStrategy
        return ExponentialBackoffDelayRetryStrategy(max_attempts, initial_delay,
                                                    max_retry_delay, multiplier,
                                                    result_predicate, exception_predicate)


class JoinFunction(Function, Generic[IN1, IN2, OUT]):
    """Joins a pair of a window join (``ds1.join(ds2)...apply``): ``join`` returns the one
    result of each pair of elements with equal keys in the same window."""

    @abc.abstractmethod
    def join(self, first: IN1, second: IN2) -> OUT: ...


class FlatJoinFunction(Function, Generic[IN1, IN2, OUT]):
    """``JoinFunction`` with any number of results per pair: ``join`` yields them."""

    @abc.abstractmethod
    def join(self, first: IN1, second: IN2) -> Iterable[OUT] | None: ...


class CoGroupFunction(Function, Generic[IN1, IN2, OUT]):
    """Evaluates a window of a co-group (``ds1.co_group(ds2)...apply``): ``co_group`` gets
    the elements of both inputs with one key in one window (either may be empty) and yields
    the results."""

    @abc.abstractmethod
    def co_group(self, first: Iterable[IN1], second: Iterable[IN2]) -> Iterable[OUT] | None: ...


class ProcessJoinFunction(Function, Generic[IN1, IN2, OUT]):
    """Processes each joined pair of an interval join (``KeyedStream.interval_join``);
    ``process_element`` yields the results, which carry the pair's timestamp (the larger of
    the two elements')."""

    class Context(abc.ABC):
        @abc.abstractmethod
        def get_left_timestamp(self) -> int:
            """The timestamp of the left element of the pair."""

        @abc.abstractmethod
        def get_right_timestamp(self) -> int:
            """The timestamp of the right element of the pair."""

        @abc.abstractmethod
        def get_timestamp(self) -> int:
            """The timestamp of the pair: the larger of its elements'."""

        @abc.abstractmethod
        def output(self, output_tag: OutputTag, value: Any) -> None:
            """Emit ``value`` to the side output ``output_tag``."""

    @abc.abstractmethod
    def process_element(self, left: IN1, right: IN2,
                        ctx: ProcessJoinFunction.Context) -> Iterable[OUT] | None: ...

def function_call(function: Any, method: str) -> Callable[..., Any]:
    """The callable to run for ``function``: its ``method`` if it is a Function
    object, else the callable itself."""
    if isinstance(function, Function):
        return getattr(function, method)
    if callable(function):
        return function
    raise TypeError(f"expected a callable or a {method}() function object, "
                    f"got {type(function).__name__}")
