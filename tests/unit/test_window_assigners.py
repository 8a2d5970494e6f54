"""Window assignment is a pure function: checked against the definition, brute force."""

from __future__ import annotations

import pickle

import pytest

import weir.datastream  # noqa: F401 - import order of weir
from weir.common import Time
from weir.datastream.window import (
    CountSlidingWindowAssigner,
    CountTumblingWindowAssigner,
    CountWindow,
    EventTimeSessionWindows,
    GlobalWindow,
    GlobalWindows,
    NeverTrigger,
    ProcessingTimeSessionWindows,
    ProcessingTimeTrigger,
    PurgingTrigger,
    SlidingEventTimeWindows,
    SlidingProcessingTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from weir.datastream.window.assigners import WindowAssigner


class FixedClock(WindowAssigner.WindowAssignerContext):
    def __init__(self, now: int) -> None:
        self.now = now

    def get_current_processing_time(self) -> int:
        return self.now

    def get_runtime_context(self):  # type: ignore[no-untyped-def]
        raise AssertionError("time assigners do not use state")


def brute_force_windows(timestamp: int, size: int, slide: int, offset: int) -> list[TimeWindow]:
    """Every window [start, start + size) with start = offset + n * slide holding timestamp."""
    first = offset + (timestamp - 2 * size - offset) // slide * slide
    starts = range(first, timestamp + size, slide)
    return sorted(TimeWindow(s, s + size) for s in starts if s <= timestamp < s + size)


TIMESTAMPS = [0, 1, 59_999, 60_000, 60_001, 1_700_000_012_345, -1, -60_000, -60_001]


@pytest.mark.parametrize("offset_s", [0, 15, -20])
def test_tumbling_event_time_windows_hold_each_timestamp_once(offset_s):
    assigner = TumblingEventTimeWindows.of(Time.minutes(1), Time.seconds(offset_s))
    for ts in TIMESTAMPS:
        assert assigner.assign_windows("x", ts, FixedClock(0)) == \
            brute_force_windows(ts, 60_000, 60_000, offset_s * 1000)
    assert assigner.is_event_time()


@pytest.mark.parametrize("size, slide, offset", [(60, 5, 0), (60, 5, 3), (10, 3, 0), (5, 10, 0)])
def test_sliding_event_time_windows_match_the_definition(size, slide, offset):
    assigner = SlidingEventTimeWindows.of(Time.seconds(size), Time.seconds(slide),
                                          Time.seconds(offset))
    for ts in TIMESTAMPS:
        got = assigner.assign_windows("x", ts, FixedClock(0))
        assert sorted(got) == brute_force_windows(ts, size * 1000, slide * 1000, offset * 1000)


def test_processing_time_assigners_use_the_clock_not_the_timestamp():
    clock = FixedClock(125_000)
    tumbling = TumblingProcessingTimeWindows.of(Time.minutes(1))
    sliding = SlidingProcessingTimeWindows.of(Time.minutes(1), Time.seconds(30))
    assert tumbling.assign_windows("x", 5, clock) == [TimeWindow(120_000, 180_000)]
    assert sorted(sliding.assign_windows("x", None, clock)) == \
        [TimeWindow(90_000, 150_000), TimeWindow(120_000, 180_000)]
    assert not tumbling.is_event_time()
    assert isinstance(tumbling.get_default_trigger(None), ProcessingTimeTrigger)


def test_session_windows_open_a_gap_long_window_and_merge_when_they_touch():
    events = EventTimeSessionWindows.with_gap(Time.seconds(5))
    assert events.assign_windows("x", 1000, FixedClock(0)) == [TimeWindow(1000, 6000)]
    processing = ProcessingTimeSessionWindows.with_gap(Time.seconds(5))
    assert processing.assign_windows("x", 1000, FixedClock(42)) == [TimeWindow(42, 5042)]

    merges = []
    windows = [TimeWindow(0, 5), TimeWindow(20, 25), TimeWindow(4, 9), TimeWindow(9, 12),
               TimeWindow(30, 31)]
    TimeWindow.merge_windows(windows, lambda group, result: merges.append((sorted(group), result)))
    assert merges == [([TimeWindow(0, 5), TimeWindow(4, 9), TimeWindow(9, 12)], TimeWindow(0, 12))]


def test_dynamic_session_gap_comes_from_each_element():
    assigner = EventTimeSessionWindows.with_dynamic_gap(lambda element: element["gap"])
    assert assigner.assign_windows({"gap": 7}, 100, FixedClock(0)) == [TimeWindow(100, 107)]
    with pytest.raises(ValueError, match="0 < gap"):
        assigner.assign_windows({"gap": 0}, 100, FixedClock(0))


def test_event_time_assigners_reject_records_without_timestamps():
    with pytest.raises(ValueError, match="assign_timestamps_and_watermarks"):
        TumblingEventTimeWindows.of(Time.seconds(1)).assign_windows("x", None, FixedClock(0))


@pytest.mark.parametrize("make, message", [
    (lambda: TumblingEventTimeWindows.of(Time.seconds(0)), "must be positive"),
    (lambda: TumblingEventTimeWindows.of(Time.seconds(5), Time.seconds(5)), "abs\\(offset\\)"),
    (lambda: SlidingEventTimeWindows.of(Time.seconds(5), Time.seconds(2), Time.seconds(3)),
     "abs\\(offset\\) < slide"),
    (lambda: EventTimeSessionWindows.with_gap(Time.seconds(0)), "must be positive"),
    (lambda: CountTumblingWindowAssigner.of(0), "must be positive"),
])
def test_invalid_window_parameters_are_rejected_with_the_rule(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_global_windows_put_everything_in_one_window_that_never_fires_by_itself():
    assigner = GlobalWindows.create()
    assert assigner.assign_windows("x", 5, FixedClock(0)) == [GlobalWindow.get()]
    assert isinstance(assigner.get_default_trigger(None), NeverTrigger)


class _CountContext(FixedClock):
    """Count assigners keep each key's count in keyed state."""

    def __init__(self) -> None:
        super().__init__(0)
        self.count: int | None = None
        outer = self

        class _State:
            def value(self) -> int | None:
                return outer.count

            def update(self, value: int) -> None:
                outer.count = value

        class _Runtime:
            def get_state(self, descriptor):  # type: ignore[no-untyped-def]
                return _State()

        self.runtime = _Runtime()

    def get_runtime_context(self):  # type: ignore[no-untyped-def]
        return self.runtime


def test_count_windows_number_consecutive_elements():
    tumbling = CountTumblingWindowAssigner.of(3)
    context = _CountContext()
    assert [tumbling.assign_windows(i, None, context) for i in range(7)] == \
        [[CountWindow(0)]] * 3 + [[CountWindow(1)]] * 3 + [[CountWindow(2)]]
    assert isinstance(tumbling.get_default_trigger(None), PurgingTrigger)

    sliding = CountSlidingWindowAssigner.of(3, 2)  # windows of elements [0-2], [2-4], [4-6] ...
    context = _CountContext()
    got = [sorted(w.id for w in sliding.assign_windows(i, None, context)) for i in range(7)]
    assert got == [[0], [0], [0, 1], [1], [1, 2], [2], [2, 3]]


def test_windows_are_values_that_survive_pickling():
    for window in (TimeWindow(5, 10), CountWindow(3), GlobalWindow.get()):
        copy = pickle.loads(pickle.dumps(window))
        assert copy == window and hash(copy) == hash(window) and type(copy) is type(window)
    assert TimeWindow(0, 10).max_timestamp() == 9
    assert TimeWindow(0, 10).intersects(TimeWindow(10, 12))
    assert TimeWindow(0, 10).cover(TimeWindow(5, 20)) == TimeWindow(0, 20)
    assert repr(TimeWindow(1, 2)) == "TimeWindow(start=1, end=2)"
