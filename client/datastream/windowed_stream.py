"""``WindowedStream`` and ``AllWindowedStream`` (``pyflink.datastream.data_stream``).

Pure API composition: every windowed operation becomes one window operator
(``WindowSpec``) whose contents are a state descriptor (reducing, aggregating
or list state) and whose output comes from a ``WindowEvaluation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation
from weir.datastream._window_functions import WindowEvaluation
from weir.datastream.functions import (
    AggregateFunction,
    AllWindowFunction,
    ProcessAllWindowFunction,
    ProcessWindowFunction,
    ReduceFunction,
    WindowFunction,
    function_call,
)
from weir.datastream.output_tag import OutputTag
from weir.datastream.state import (
    AggregatingStateDescriptor,
    ListStateDescriptor,
    ReducingStateDescriptor,
    StateDescriptor,
)
from weir.datastream.window import MergingWindowAssigner, Trigger, WindowAssigner
from weir.graph.operators import WindowSpec

if TYPE_CHECKING:
    from weir.datastream.data_stream import DataStream, KeyedStream

__all__ = ["AllWindowedStream", "WindowedStream"]

WINDOW_STATE_NAME = "window-contents"


class WindowedStream:
    """A keyed stream split into windows; evaluate them with reduce, aggregate, apply or process."""

    def __init__(self, keyed_stream: KeyedStream, window_assigner: WindowAssigner) -> None:
        if not isinstance(window_assigner, WindowAssigner):
            raise TypeError(f"window() takes a WindowAssigner, got {type(window_assigner).__name__}")
        self._keyed_stream = keyed_stream
        self._window_assigner = window_assigner
        self._allowed_lateness = 0
        self._late_data_output_tag: OutputTag | None = None
        self._window_trigger: Trigger | None = None
        self._keyed = True

    def get_execution_environment(self) -> Any:
        return self._keyed_stream._env

    def trigger(self, trigger: Trigger) -> WindowedStream:
        """Sets the trigger that decides when windows are evaluated."""
        if not isinstance(trigger, Trigger):
            raise TypeError(f"trigger() takes a Trigger, got {type(trigger).__name__}")
        if isinstance(self._window_assigner, MergingWindowAssigner) and not trigger.can_merge():
            raise TypeError("A merging window assigner cannot be used with a trigger that does "
                            "not support merging.")
        self._window_trigger = trigger
        return self

    def allowed_lateness(self, time_ms: int | Time | Duration) -> WindowedStream:
        """Keep windows (and update their results) for elements up to ``time_ms`` late.

        Only event-time windows have lateness; for others this is ignored, as in Flink.
        """
        millis = time_ms if isinstance(time_ms, int) else time_ms.to_milliseconds()
        if millis < 0:
            raise ValueError(f"the allowed lateness must not be negative, got {millis} ms")
        self._allowed_lateness = millis if self._window_assigner.is_event_time() else 0
        return self

    def side_output_late_data(self, output_tag: OutputTag) -> WindowedStream:
        """Send elements too late for every window to this side output instead of dropping them."""
        if not isinstance(output_tag, OutputTag):
            raise TypeError(f"side_output_late_data() takes an OutputTag, got "
                            f"{type(output_tag).__name__}")
        self._late_data_output_tag = output_tag
        return self

    def reduce(self, reduce_function: Callable[[Any, Any], Any] | ReduceFunction,
               window_function: Any = None,
               output_type: TypeInformation | None = None) -> DataStream:
        """Reduce each window incrementally; emit the result (or pass it to ``window_function``)."""
        if not callable(function_call(reduce_function, "reduce")):
            raise TypeError("reduce() takes a function or a ReduceFunction")
        contents = ReducingStateDescriptor(WINDOW_STATE_NAME, reduce_function)
        return self._result(contents, WindowEvaluation(self._checked(window_function), True),
                            "Reduce")

    def aggregate(self, aggregate_function: AggregateFunction, window_function: Any = None,
                  accumulator_type: TypeInformation | None = None,
                  output_type: TypeInformation | None = None) -> DataStream:
        """Aggregate each window incrementally: one accumulator per window, not its elements."""
        if not isinstance(aggregate_function, AggregateFunction):
            raise TypeError("aggregate() takes an AggregateFunction (create_accumulator, add, "
                            "get_result, merge)")
        contents = AggregatingStateDescriptor(WINDOW_STATE_NAME, aggregate_function)
        return self._result(contents, WindowEvaluation(self._checked(window_function), True),
                            "Aggregate")

    def apply(self, window_function: WindowFunction | AllWindowFunction,
              output_type: TypeInformation | None = None) -> DataStream:
        """Evaluate each window with all its elements (they are kept until it fires)."""
        function = self._checked(window_function)
        if function is None:
            raise TypeError("apply() takes a window function")
        return self._result(ListStateDescriptor(WINDOW_STATE_NAME),
                            WindowEvaluation(function, False), "Apply")

    def process(self, process_window_function: ProcessWindowFunction | ProcessAllWindowFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        """Evaluate each window with all its elements and a context (window, time, state)."""
        function = self._checked(process_window_function)
        if not isinstance(function, (ProcessWindowFunction, ProcessAllWindowFunction)):
            raise TypeError("process() takes a " + ("ProcessWindowFunction" if self._keyed
                                                    else "ProcessAllWindowFunction"))
        return self._result(ListStateDescriptor(WINDOW_STATE_NAME),
                            WindowEvaluation(function, False), "Process")

    def _checked(self, function: Any) -> Any:
        if function is None:
            return None
        allowed = (WindowFunction, ProcessWindowFunction) if self._keyed else \
            (AllWindowFunction, ProcessAllWindowFunction)
        if not isinstance(function, allowed):
            raise TypeError(f"window_function must be a {' or a '.join(a.__name__ for a in allowed)}"
                            f", got {type(function).__name__}")
        return function

    def _result(self, contents: StateDescriptor, evaluation: WindowEvaluation,
                what: str) -> DataStream:
        assigner = self._window_assigner
        trigger = self._window_trigger or assigner.get_default_trigger(
            self.get_execution_environment())
        late_tag = self._late_data_output_tag
        name = f"{'Window' if self._keyed else 'AllWindow'}({assigner!r}, {trigger!r}, {what})"
        spec = WindowSpec(name, "", self._keyed_stream.get_key_selector(), assigner, trigger,
                          self._allowed_lateness, late_tag.tag_id if late_tag else None,
                          contents, evaluation)
        return self._keyed_stream._stream(spec)


class AllWindowedStream(WindowedStream):
    """A whole (non-keyed) stream split into windows, evaluated by one subtask."""

    def __init__(self, data_stream: DataStream, window_assigner: WindowAssigner) -> None:
        super().__init__(data_stream.key_by(_null_key), window_assigner)
        self._keyed = False

    def _result(self, contents: StateDescriptor, evaluation: WindowEvaluation,
                what: str) -> DataStream:
        stream = super()._result(contents, evaluation, what)
        stream._transformation("window_all").fixed_parallelism = 1
        return stream


def _null_key(value: Any) -> int:
    """Every element of ``window_all`` has the same key."""
    return 0
