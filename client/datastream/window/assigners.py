"""Window assigners (``pyflink.datastream.window``): which windows an element belongs to.

``assign_windows`` is a pure function of the element, its timestamp and (for
processing-time and count assigners) the context; the runtime calls it once
per element.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterable
from typing import Any, Generic, TypeVar

from weir.common.constants import MIN_LONG_VALUE
from weir.common.time import Time
from weir.datastream.functions import RuntimeContext
from weir.datastream.state import ValueStateDescriptor
from weir.datastream.window.triggers import (
    CountTrigger,
    EventTimeTrigger,
    NeverTrigger,
    ProcessingTimeTrigger,
    PurgingTrigger,
    Trigger,
)
from weir.datastream.window.windows import CountWindow, GlobalWindow, TimeWindow, Window

__all__ = [
    "CountSlidingWindowAssigner",
    "CountTumblingWindowAssigner",
    "DynamicEventTimeSessionWindows",
    "DynamicProcessingTimeSessionWindows",
    "EventTimeSessionWindows",
    "GlobalWindows",
    "MergingWindowAssigner",
    "ProcessingTimeSessionWindows",
    "SessionWindowTimeGapExtractor",
    "SlidingEventTimeWindows",
    "SlidingProcessingTimeWindows",
    "TumblingEventTimeWindows",
    "TumblingProcessingTimeWindows",
    "WindowAssigner",
]

T = TypeVar("T")
W = TypeVar("W", bound=Window)
W2 = TypeVar("W2", bound=Window)

NO_TIMESTAMP_MESSAGE = (
    "Record has no timestamp (Long.MIN_VALUE timestamp marker). Is the time characteristic "
    "set to 'ProcessingTime', or did you forget to call "
    "'data_stream.assign_timestamps_and_watermarks(...)'?")


class WindowAssigner(abc.ABC, Generic[T, W]):
    """Assigns zero or more windows to each element."""

    class WindowAssignerContext(abc.ABC):
        @abc.abstractmethod
        def get_current_processing_time(self) -> int: ...

        @abc.abstractmethod
        def get_runtime_context(self) -> RuntimeContext: ...

    @abc.abstractmethod
    def assign_windows(self, element: T, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> Collection[W]: ...

    @abc.abstractmethod
    def get_default_trigger(self, env: Any) -> Trigger: ...

    @abc.abstractmethod
    def is_event_time(self) -> bool: ...

    def get_window_serializer(self) -> None:
        """Windows are pickled; kept for PyFlink compatibility."""


class MergingWindowAssigner(WindowAssigner[T, W]):
    """An assigner whose windows merge (sessions)."""

    class MergeCallback(abc.ABC, Generic[W2]):
        @abc.abstractmethod
        def merge(self, to_be_merged: Iterable[W2], merge_result: W2) -> None: ...

    @abc.abstractmethod
    def merge_windows(self, windows: Iterable[W],
                      callback: MergingWindowAssigner.MergeCallback[W]) -> None: ...


def _millis(size: Time | int, what: str) -> int:
    millis = size if isinstance(size, int) else size.to_milliseconds()
    if millis <= 0:
        raise ValueError(f"{what} must be positive, got {millis} ms")
    return millis


def _check_timestamp(timestamp: int | None) -> int:
    if timestamp is None or timestamp <= MIN_LONG_VALUE:
        raise ValueError(NO_TIMESTAMP_MESSAGE)
    return timestamp


class _Tumbling(WindowAssigner[Any, TimeWindow]):
    def __init__(self, size: int, offset: int) -> None:
        if size <= 0 or abs(offset) >= size:
            raise ValueError(f"{type(self).__name__} parameters must satisfy abs(offset) < size "
                             f"and size > 0, got size {size} ms, offset {offset} ms")
        self.size = size
        self.offset = offset

    def _window_at(self, time: int) -> list[TimeWindow]:
        start = time - (time - self.offset) % self.size
        return [TimeWindow(start, start + self.size)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}, {self.offset})"


class TumblingEventTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping windows by event time, aligned to the epoch (plus offset)."""

    @staticmethod
    def of(size: Time, offset: Time | None = None) -> TumblingEventTimeWindows:
        return TumblingEventTimeWindows(_millis(size, "window size"),
                                        offset.to_milliseconds() if offset else 0)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        return self._window_at(_check_timestamp(timestamp))

    def get_default_trigger(self, env: Any) -> Trigger:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True


class TumblingProcessingTimeWindows(_Tumbling):
    """Fixed-size, non-overlapping windows by the processing-time clock."""

    @staticmethod
    def of(size: Time, offset: Time | None = None) -> TumblingProcessingTimeWindows:
        return TumblingProcessingTimeWindows(_millis(size, "window size"),
                                             offset.to_milliseconds() if offset else 0)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        return self._window_at(context.get_current_processing_time())

    def get_default_trigger(self, env: Any) -> Trigger:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False


class _Sliding(WindowAssigner[Any, TimeWindow]):
    def __init__(self, size: int, slide: int, offset: int) -> None:
        if size <= 0 or slide <= 0 or abs(offset) >= slide:
            raise ValueError(f"{type(self).__name__} parameters must satisfy abs(offset) < slide "
                             f"and size > 0, got size {size} ms, slide {slide} ms, "
                             f"offset {offset} ms")
        self.size = size
        self.slide = slide
        self.offset = offset

    def _windows_at(self, time: int) -> list[TimeWindow]:
        last_start = time - (time - self.offset) % self.slide
        return [TimeWindow(start, start + self.size)
                for start in range(last_start, time - self.size, -self.slide)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.size}, {self.slide}, {self.offset})"


class SlidingEventTimeWindows(_Sliding):
    """Windows of ``size`` starting every ``slide`` of event time; an element is in
    ``size / slide`` of them."""

    @staticmethod
    def of(size: Time, slide: Time, offset: Time | None = None) -> SlidingEventTimeWindows:
        return SlidingEventTimeWindows(_millis(size, "window size"), _millis(slide, "slide"),
                                       offset.to_milliseconds() if offset else 0)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        return self._windows_at(_check_timestamp(timestamp))

    def get_default_trigger(self, env: Any) -> Trigger:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True


class SlidingProcessingTimeWindows(_Sliding):
    """Sliding windows by the processing-time clock."""

    @staticmethod
    def of(size: Time, slide: Time, offset: Time | None = None) -> SlidingProcessingTimeWindows:
        return SlidingProcessingTimeWindows(_millis(size, "window size"), _millis(slide, "slide"),
                                            offset.to_milliseconds() if offset else 0)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        return self._windows_at(context.get_current_processing_time())

    def get_default_trigger(self, env: Any) -> Trigger:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False


class SessionWindowTimeGapExtractor(abc.ABC):
    """The session gap (ms) that an element opens."""

    @abc.abstractmethod
    def extract(self, element: Any) -> int: ...


class _Sessions(MergingWindowAssigner[Any, TimeWindow]):
    """Each element opens ``[time, time + gap)``; overlapping windows merge into one session."""

    def __init__(self, gap: int | SessionWindowTimeGapExtractor | Callable[[Any], int]) -> None:
        if isinstance(gap, int) and gap <= 0:
            raise ValueError(f"{type(self).__name__} parameters must satisfy 0 < gap, "
                             f"got {gap} ms")
        self.gap = gap

    def _gap_of(self, element: Any) -> int:
        gap = self.gap
        if isinstance(gap, int):
            return gap
        millis = gap.extract(element) if isinstance(gap, SessionWindowTimeGapExtractor) \
            else gap(element)
        if millis <= 0:
            raise ValueError(f"Dynamic session time gap must satisfy 0 < gap, got {millis} ms "
                             f"for {element!r}")
        return millis

    def merge_windows(self, windows: Iterable[TimeWindow],
                      callback: MergingWindowAssigner.MergeCallback[TimeWindow]) -> None:
        TimeWindow.merge_windows(windows, callback)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.gap!r})"


class EventTimeSessionWindows(_Sessions):
    """Sessions by event time: a session ends after ``gap`` without elements."""

    @staticmethod
    def with_gap(size: Time) -> EventTimeSessionWindows:
        return EventTimeSessionWindows(_millis(size, "session gap"))

    @staticmethod
    def with_dynamic_gap(extractor: SessionWindowTimeGapExtractor | Callable[[Any], int]
                         ) -> DynamicEventTimeSessionWindows:
        return DynamicEventTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        timestamp = _check_timestamp(timestamp)
        return [TimeWindow(timestamp, timestamp + self._gap_of(element))]

    def get_default_trigger(self, env: Any) -> Trigger:
        return EventTimeTrigger()

    def is_event_time(self) -> bool:
        return True


class DynamicEventTimeSessionWindows(EventTimeSessionWindows):
    """Event-time sessions whose gap each element chooses."""


class ProcessingTimeSessionWindows(_Sessions):
    """Sessions by the processing-time clock."""

    @staticmethod
    def with_gap(size: Time) -> ProcessingTimeSessionWindows:
        return ProcessingTimeSessionWindows(_millis(size, "session gap"))

    @staticmethod
    def with_dynamic_gap(extractor: SessionWindowTimeGapExtractor | Callable[[Any], int]
                         ) -> DynamicProcessingTimeSessionWindows:
        return DynamicProcessingTimeSessionWindows(extractor)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[TimeWindow]:
        now = context.get_current_processing_time()
        return [TimeWindow(now, now + self._gap_of(element))]

    def get_default_trigger(self, env: Any) -> Trigger:
        return ProcessingTimeTrigger()

    def is_event_time(self) -> bool:
        return False


class DynamicProcessingTimeSessionWindows(ProcessingTimeSessionWindows):
    """Processing-time sessions whose gap each element chooses."""


class GlobalWindows(WindowAssigner[Any, GlobalWindow]):
    """Every element of a key in one window that never ends; use with a trigger."""

    @staticmethod
    def create() -> GlobalWindows:
        return GlobalWindows()

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[GlobalWindow]:
        return [GlobalWindow.get()]

    def get_default_trigger(self, env: Any) -> Trigger:
        return NeverTrigger()

    def is_event_time(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "GlobalWindows()"


class _CountAssigner(WindowAssigner[Any, CountWindow]):
    """Counts each key's elements in keyed state and windows them by that count.

    As in PyFlink, a count window fires once it holds ``size`` elements; the
    default trigger purges it then, so no window outlives its firing.
    """

    def __init__(self, size: int, state_name: str) -> None:
        if size <= 0:
            raise ValueError(f"the size of a count window must be positive, got {size}")
        self.size = size
        self._count = ValueStateDescriptor(state_name)

    def _next_count(self, context: WindowAssigner.WindowAssignerContext) -> int:
        state = context.get_runtime_context().get_state(self._count)
        count = state.value() or 0
        state.update(count + 1)
        return count

    def get_default_trigger(self, env: Any) -> Trigger:
        return PurgingTrigger(CountTrigger(self.size))

    def is_event_time(self) -> bool:
        return False


class CountTumblingWindowAssigner(_CountAssigner):
    """Windows of ``window_size`` consecutive elements of a key."""

    def __init__(self, window_size: int) -> None:
        super().__init__(window_size, "tumble-count-assigner")

    @staticmethod
    def of(window_size: int) -> CountTumblingWindowAssigner:
        return CountTumblingWindowAssigner(window_size)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[CountWindow]:
        return [CountWindow(self._next_count(context) // self.size)]

    def __repr__(self) -> str:
        return f"CountTumblingWindowAssigner({self.size})"


class CountSlidingWindowAssigner(_CountAssigner):
    """Windows of ``window_size`` consecutive elements, one starting every ``window_slide``."""

    def __init__(self, window_size: int, window_slide: int) -> None:
        super().__init__(window_size, "slide-count-assigner")
        if window_slide <= 0:
            raise ValueError(f"the slide of a count window must be positive, got {window_slide}")
        self.slide = window_slide

    @staticmethod
    def of(window_size: int, window_slide: int) -> CountSlidingWindowAssigner:
        return CountSlidingWindowAssigner(window_size, window_slide)

    def assign_windows(self, element: Any, timestamp: int,
                       context: WindowAssigner.WindowAssignerContext) -> list[CountWindow]:
        count = self._next_count(context)
        last = count // self.slide
        first = max(0, -(-(count - self.size + 1) // self.slide))
        return [CountWindow(i) for i in range(last, first - 1, -1)]

    def __repr__(self) -> str:
        return f"CountSlidingWindowAssigner({self.size}, {self.slide})"
