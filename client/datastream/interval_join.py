"""The interval join of two keyed streams, as Java Flink has it (PyFlink has none):
``left.interval_join(right).between(lower, upper).process(ProcessJoinFunction)``.

Composed from the runtime's primitives, as Flink composes it: the two keyed streams
connected, with a keyed co-process function (Flink's ``IntervalJoinOperator``). Each side's
elements wait in keyed state, bucketed by timestamp; an element joins the other side's
elements whose timestamps lie in its interval, and an event-time timer drops its bucket
once the watermark passed the last time an element of the other side could still join it.
Elements behind the watermark are late: dropped, or sent to a side output. Results carry
the larger of their two elements' timestamps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeAlias, cast

from weir.common.constants import MIN_LONG_VALUE
from weir.common.time import Duration, Time
from weir.common.typeinfo import TypeInformation
from weir.datastream.data_stream import DataStream, KeyedStream
from weir.datastream.functions import (
    KeyedCoProcessFunction,
    ProcessJoinFunction,
    RuntimeContext,
)
from weir.datastream.output_tag import OutputTag
from weir.datastream.state import ValueState, ValueStateDescriptor

__all__ = ["IntervalJoin", "IntervalJoined"]

BUFFERS = "interval-join-buffers"
NO_TIMESTAMP_MESSAGE = (
    "an interval join needs event timestamps on both inputs: give each a WatermarkStrategy "
    "with a timestamp assigner (from_source or assign_timestamps_and_watermarks)")

Bound: TypeAlias = Time | Duration | int
Buckets: TypeAlias = dict[int, list[Any]]  # one side's buffered elements by timestamp


def _millis(bound: Bound, what: str) -> int:
    if isinstance(bound, (Time, Duration)):
        return bound.to_milliseconds()
    if isinstance(bound, int) and not isinstance(bound, bool):
        return bound
    raise TypeError(f"{what} must be a Time, a Duration or milliseconds, "
                    f"got {type(bound).__name__}")


class IntervalJoin:
    """Two keyed streams to join by event time (``KeyedStream.interval_join``): ``between``
    sets the interval."""

    def __init__(self, left: KeyedStream, right: KeyedStream) -> None:
        if not isinstance(right, KeyedStream):
            raise TypeError("interval_join() joins two keyed streams: call key_by() on the "
                            f"other stream too, got {type(right).__name__}")
        if left._env is not right._env:
            raise ValueError("cannot join streams of different execution environments")
        self._left = left
        self._right = right
        self._event_time = True

    def in_event_time(self) -> IntervalJoin:
        """Join by event time (the default, and the only time an interval join supports)."""
        self._event_time = True
        return self

    def in_processing_time(self) -> IntervalJoin:
        """Accepted as in Flink, where ``between`` then fails: interval joins are event
        time only."""
        self._event_time = False
        return self

    def between(self, lower_bound: Bound, upper_bound: Bound) -> IntervalJoined:
        """Join a left element at ``t`` with the right elements at ``t + lower_bound`` to
        ``t + upper_bound`` (both inclusive unless made exclusive)."""
        if not self._event_time:
            raise ValueError("interval joins are only supported in event time: drop "
                             "in_processing_time()")
        lower = _millis(lower_bound, "lower_bound")
        upper = _millis(upper_bound, "upper_bound")
        if lower > upper:
            raise ValueError(f"between() needs lower_bound <= upper_bound, got {lower} ms > "
                             f"{upper} ms")
        return IntervalJoined(self._left, self._right, lower, upper)


class IntervalJoined:
    """An interval join with its bounds; ``process`` gives the joined stream."""

    def __init__(self, left: KeyedStream, right: KeyedStream, lower_bound: int,
                 upper_bound: int) -> None:
        self._left = left
        self._right = right
        self._lower_bound = lower_bound
        self._upper_bound = upper_bound
        self._lower_bound_inclusive = True
        self._upper_bound_inclusive = True
        self._left_late_tag: OutputTag | None = None
        self._right_late_tag: OutputTag | None = None

    def lower_bound_exclusive(self) -> IntervalJoined:
        """Leave out right elements at exactly ``t + lower_bound``."""
        self._lower_bound_inclusive = False
        return self

    def upper_bound_exclusive(self) -> IntervalJoined:
        """Leave out right elements at exactly ``t + upper_bound``."""
        self._upper_bound_inclusive = False
        return self

    def side_output_left_late_data(self, output_tag: OutputTag) -> IntervalJoined:
        """Send left elements behind the watermark to this side output (else dropped)."""
        self._left_late_tag = _checked_tag(output_tag, "side_output_left_late_data")
        return self

    def side_output_right_late_data(self, output_tag: OutputTag) -> IntervalJoined:
        """Send right elements behind the watermark to this side output (else dropped)."""
        self._right_late_tag = _checked_tag(output_tag, "side_output_right_late_data")
        return self

    def process(self, process_join_function: ProcessJoinFunction,
                output_type: TypeInformation | None = None) -> DataStream:
        """Call ``process_join_function`` on every joined pair; its results carry the pair's
        timestamp (the larger of its elements')."""
        if not isinstance(process_join_function, ProcessJoinFunction):
            raise TypeError("process() takes a ProcessJoinFunction, got "
                            f"{type(process_join_function).__name__}")
        # Exclusive bounds move by 1 ms, so that the operator compares inclusively.
        lower = self._lower_bound + (0 if self._lower_bound_inclusive else 1)
        upper = self._upper_bound - (0 if self._upper_bound_inclusive else 1)
        function = _IntervalJoinFunction(process_join_function, lower, upper,
                                         self._left_late_tag, self._right_late_tag)
        return self._left.connect(self._right).process(function).name("Interval Join")


def _checked_tag(output_tag: OutputTag, method: str) -> OutputTag:
    if not isinstance(output_tag, OutputTag):
        raise TypeError(f"{method}() takes an OutputTag, got {type(output_tag).__name__}")
    return output_tag


class _CollectingContext(Protocol):
    """What the runtime's keyed two-input context adds for the interval join: outputs at a
    timestamp other than the current record's."""

    def collect_at(self, timestamp: int, function: Callable[..., Iterable[Any] | None],
                   *args: Any) -> None: ...


class _ProcessJoinContext(ProcessJoinFunction.Context):
    """The pair being processed; side outputs go through the co-process context."""

    def __init__(self) -> None:
        self.left_timestamp = MIN_LONG_VALUE
        self.right_timestamp = MIN_LONG_VALUE
        self.context: KeyedCoProcessFunction.Context | None = None

    def get_left_timestamp(self) -> int:
        return self.left_timestamp

    def get_right_timestamp(self) -> int:
        return self.right_timestamp

    def get_timestamp(self) -> int:
        return max(self.left_timestamp, self.right_timestamp)

    def output(self, output_tag: OutputTag, value: Any) -> None:
        assert self.context is not None
        self.context.output(output_tag, value)


class _IntervalJoinFunction(KeyedCoProcessFunction):
    """Flink's ``IntervalJoinOperator`` as a keyed co-process function (module docstring).

    ``lower``/``upper`` are the inclusive bounds of the right element's timestamp relative
    to the left one's. An element at ``t`` is buffered under ``t`` and its bucket dropped at
    its cleanup time: left ``t + upper`` (``t`` when ``upper <= 0``), right ``t - lower``
    (``t`` when ``lower >= 0``). Each side's cleanup time is a one-to-one function of the
    bucket timestamp, so one (deduplicated) timer per key and time serves both sides: the
    timer at ``T`` drops the left bucket and the right bucket whose cleanup time is ``T``.

    Both sides' buckets of a key are one value, ``({ts: left elements}, {ts: right
    elements})``, rather than Flink's two map states: every backend stores a map state's
    entries of a key as one value anyway, so this costs one state read and one write per
    element (and per timer) instead of one per map-state call.
    """

    def __init__(self, function: ProcessJoinFunction, lower: int, upper: int,
                 left_late_tag: OutputTag | None, right_late_tag: OutputTag | None) -> None:
        self.function = function
        self.lower = lower
        self.upper = upper
        self.late_tags = (left_late_tag, right_late_tag)

    def open(self, runtime_context: RuntimeContext) -> None:
        self.buffers: ValueState = runtime_context.get_state(ValueStateDescriptor(BUFFERS))
        self.pair = _ProcessJoinContext()
        self.function.open(runtime_context)

    def close(self) -> None:
        self.function.close()

    def process_element1(self, value: Any, ctx: KeyedCoProcessFunction.Context) -> None:
        self._join(value, ctx, True)

    def process_element2(self, value: Any, ctx: KeyedCoProcessFunction.Context) -> None:
        self._join(value, ctx, False)

    def _join(self, value: Any, ctx: KeyedCoProcessFunction.Context, is_left: bool) -> None:
        """Buffer ``value``, join it with the other side's buffered elements in its interval,
        and register its bucket's cleanup timer; a late element only goes to its side
        output, if there is one."""
        timestamp = ctx.timestamp()
        if timestamp is None:
            raise ValueError(NO_TIMESTAMP_MESSAGE)
        timers = ctx.timer_service()
        watermark = timers.current_watermark()
        if watermark != MIN_LONG_VALUE and timestamp < watermark:
            late_tag = self.late_tags[0 if is_left else 1]
            if late_tag is not None:
                ctx.output(late_tag, value)
            return
        buffers: tuple[Buckets, Buckets] = self.buffers.value() or ({}, {})
        if is_left:
            (ours, other), lower, upper = buffers, self.lower, self.upper
        else:
            (other, ours), lower, upper = buffers, -self.upper, -self.lower
        bucket = ours.get(timestamp)
        if bucket is None:
            ours[timestamp] = [value]
        else:
            bucket.append(value)
        self.buffers.update(buffers)
        first, last = timestamp + lower, timestamp + upper
        collect_at = cast(_CollectingContext, ctx).collect_at
        process, pair = self.function.process_element, self.pair
        pair.context = ctx
        for other_timestamp, elements in other.items():
            if other_timestamp < first or other_timestamp > last:
                continue
            if is_left:
                pair.left_timestamp, pair.right_timestamp = timestamp, other_timestamp
            else:
                pair.left_timestamp, pair.right_timestamp = other_timestamp, timestamp
            result_timestamp = max(timestamp, other_timestamp)
            for element in elements:
                if is_left:
                    collect_at(result_timestamp, process, value, element, pair)
                else:
                    collect_at(result_timestamp, process, element, value, pair)
        timers.register_event_time_timer(timestamp + upper if upper > 0 else timestamp)

    def on_timer(self, timestamp: int, ctx: KeyedCoProcessFunction.OnTimerContext) -> None:
        buffers = self.buffers.value()
        if buffers is None:
            return
        left, right = buffers
        left.pop(timestamp if self.upper <= 0 else timestamp - self.upper, None)
        right.pop(timestamp + self.lower if self.lower <= 0 else timestamp, None)
        if left or right:
            self.buffers.update(buffers)
        else:
            self.buffers.clear()
