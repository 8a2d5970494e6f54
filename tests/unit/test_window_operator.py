"""The window operator in-process on a manual clock, against plain-Python oracles.

Each scenario feeds records (shuffled within an out-of-orderness bound, plus
some far beyond it) and watermarks, and compares everything the operator emits,
with timestamps, to what an independent simulation of Flink's window semantics
emits from the same script.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.operator_harness import ChainHarness, ManualClock
from tests.fixtures.window_functions import SumCount
from tests.fixtures.window_oracle import event_time_oracle, sessions_oracle
from weir.common import Time
from weir.common.constants import MIN_LONG_VALUE
from weir.datastream import (
    OutputTag,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
    WindowFunction,
)
from weir.datastream.window import (
    ContinuousEventTimeTrigger,
    CountTrigger,
    CountWindow,
    EventTimeSessionWindows,
    GlobalWindows,
    ProcessingTimeSessionWindows,
    PurgingTrigger,
    SlidingEventTimeWindows,
    TimeWindow,
    Trigger,
    TriggerResult,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)

LATE = OutputTag("late")


def window_spec(build: Callable[[Any], Any]) -> Any:
    """The operator spec the API makes for ``build(keyed stream)``."""
    env = StreamExecutionEnvironment.get_execution_environment()
    keyed = env.from_collection([]).key_by(lambda event: event[0])
    return build(keyed)._transformation("test").spec


def values_of(elements) -> list:
    """The values of (key, value) records; pre-aggregated results as they are."""
    return sorted(e[1] if isinstance(e, tuple) and isinstance(e[0], str) else e
                  for e in elements)


class Describe(ProcessWindowFunction):
    """(key, window start, window end, sorted values) of a time window."""

    def process(self, key, context, elements):
        window = context.window()
        yield key, window.start, window.end, values_of(elements)


class Values(ProcessWindowFunction):
    """(key, sorted values) of any window."""

    def process(self, key, context, elements):
        yield key, values_of(elements)


class SumWindow(WindowFunction):
    def apply(self, key, window, inputs):
        yield key, window.start, window.end, sum(e[1] for e in inputs)


def add_pairs(a, b):
    return a[0], a[1] + b[1]


# how: (build the windowed result, evaluate a pane in the oracle from its values)
HOWS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, TimeWindow, list[int]], Any]]] = {
    "reduce": (lambda w: w.reduce(add_pairs), lambda k, w, xs: (k, sum(xs))),
    "aggregate": (lambda w: w.aggregate(SumCount()), lambda k, w, xs: (sum(xs), len(xs))),
    "process": (lambda w: w.process(Describe()), lambda k, w, xs: (k, w.start, w.end, sorted(xs))),
    "apply": (lambda w: w.apply(SumWindow()), lambda k, w, xs: (k, w.start, w.end, sum(xs))),
    "reduce+process": (lambda w: w.reduce(add_pairs, Describe()),
                       lambda k, w, xs: (k, w.start, w.end, [sum(xs)])),
    "aggregate+process": (lambda w: w.aggregate(SumCount(), window_function=Describe()),
                          lambda k, w, xs: (k, w.start, w.end, [(sum(xs), len(xs))])),
}


def make_script(seed: int, bound: int, n: int = 400, late_every: int = 37) -> list[tuple]:
    """Records of 5 keys shuffled within ``bound``, watermarks trailing by the bound, and now
    and then a record far behind the watermark."""
    rng = random.Random(seed)
    events = [(f"k{rng.randrange(5)}", rng.randrange(100), i * 7) for i in range(n)]
    shuffled = sorted(events, key=lambda e: e[2] + rng.uniform(0, bound))
    script: list[tuple] = []
    newest = MIN_LONG_VALUE
    for i, (key, value, ts) in enumerate(shuffled):
        if i % late_every == late_every - 1:
            ts = max(0, newest - bound - 200 - rng.randrange(300))  # beyond the bound
        script.append(("record", key, value, ts))
        newest = max(newest, ts)
        if i % 10 == 9:
            script.append(("watermark", newest - bound - 1))
    return script


def run_script(harness: ChainHarness, script: list[tuple], batch: int = 4) -> None:
    pending: list[tuple] = []

    def flush() -> None:
        if pending:
            harness.process([(k, v) for _, k, v, _ in pending], [t for *_, t in pending])
            pending.clear()
    for action in script:
        if action[0] == "watermark":
            flush()
            harness.watermark(action[1])
        else:
            pending.append(action)
            if len(pending) == batch:
                flush()
    flush()
    harness.end_input()


def pairs_to_values(harness_main: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return sorted(harness_main, key=repr)


ASSIGNERS = {
    "tumbling": (lambda: TumblingEventTimeWindows.of(Time.milliseconds(100)),
                 lambda ts: [TimeWindow(ts - ts % 100, ts - ts % 100 + 100)]),
    "tumbling-offset": (lambda: TumblingEventTimeWindows.of(Time.milliseconds(100),
                                                            Time.milliseconds(30)),
                        lambda ts: [TimeWindow(ts - (ts - 30) % 100, ts - (ts - 30) % 100 + 100)]),
    "sliding": (lambda: SlidingEventTimeWindows.of(Time.milliseconds(100), Time.milliseconds(40)),
                lambda ts: [TimeWindow(s, s + 100)
                            for s in range(ts - ts % 40 - 80, ts + 1, 40) if s <= ts < s + 100]),
}


@pytest.mark.parametrize("assigner", sorted(ASSIGNERS))
@pytest.mark.parametrize("how", sorted(HOWS))
def test_event_time_windows_match_the_oracle(assigner, how, make_harness):
    make_assigner, windows_of = ASSIGNERS[assigner]
    build, evaluate = HOWS[how]
    spec = window_spec(lambda keyed: build(keyed.window(make_assigner())))
    harness = make_harness(spec)
    script = make_script(seed=zlib.crc32(f"{assigner}/{how}".encode()), bound=60)
    run_script(harness, script)
    expected, _, dropped = event_time_oracle(script, windows_of, 0, evaluate)
    assert sorted(harness.main(), key=repr) == sorted(expected, key=repr)
    assert dropped > 0 and harness.chain.operators[0].num_late_records_dropped == dropped
    assert harness.context.metrics["numLateRecordsDropped"] == dropped


@pytest.mark.parametrize("lateness", [0, 150, 400])
def test_allowed_lateness_refires_windows_and_late_records_go_to_the_side_output(
        lateness, make_harness):
    spec = window_spec(lambda keyed: keyed.window(TumblingEventTimeWindows.of(
        Time.milliseconds(100))).allowed_lateness(lateness).side_output_late_data(LATE)
        .process(Describe()))
    harness = make_harness(spec, side_outputs=("late",))
    script = make_script(seed=lateness, bound=50, late_every=11)
    run_script(harness, script)
    expected, late, _ = event_time_oracle(script, ASSIGNERS["tumbling"][1], lateness,
                                          HOWS["process"][1])
    assert sorted(harness.main(), key=repr) == sorted(expected, key=repr)
    assert sorted(harness.side("late")) == sorted(late)
    assert late, "the script must have records beyond the allowed lateness"
    assert harness.chain.operators[0].num_late_records_dropped == 0  # side output, not dropped
    if lateness:
        refired = len(expected) - len({(r[0], r[1]) for r, _ in expected})
        assert refired > 0, "late records within the lateness must fire windows again"


@pytest.mark.parametrize("how", ["process", "aggregate+process"])
def test_session_windows_merge_across_out_of_order_records(how, make_harness):
    rng = random.Random(3)
    gap = 50
    events = []
    for key in ("a", "b", "c"):
        ts = 0
        for _ in range(40):  # bursts separated by gaps longer or shorter than the session gap
            ts += rng.choice([5, 10, 20, 60, 120])
            events.append((key, rng.randrange(100), ts))
    bound = 100
    arrival = sorted(events, key=lambda e: e[2] + rng.uniform(0, bound))
    script: list[tuple] = []
    newest = MIN_LONG_VALUE
    for i, (key, value, ts) in enumerate(arrival):
        script.append(("record", key, value, ts))
        newest = max(newest, ts)
        if i % 8 == 7:
            script.append(("watermark", newest - bound - 1))
    build, _ = HOWS[how]
    spec = window_spec(lambda keyed: build(keyed.window(
        EventTimeSessionWindows.with_gap(Time.milliseconds(gap)))))
    harness = make_harness(spec)
    run_script(harness, script)
    expected = sessions_oracle(events, gap)
    sessions_of_several = sum(1 for (_, _, _, v), _ in expected if len(v) > 1)
    assert sessions_of_several > 5
    if how == "aggregate+process":
        expected = [((k, s, e, [(sum(v), len(v))]), t) for (k, s, e, v), t in expected]
    assert sorted(harness.main(), key=repr) == sorted(expected, key=repr)
    operator = harness.chain.operators[0]
    assert not operator.backend.snapshot().entries  # every session cleaned up
    assert len(operator.event_timers) == 0


def test_count_trigger_on_global_windows_fires_every_n_records_per_key(make_harness):
    spec = window_spec(lambda keyed: keyed.window(GlobalWindows.create())
                       .trigger(PurgingTrigger.of(CountTrigger.of(3))).process(Values()))
    harness = make_harness(spec)
    records = [("a", i) for i in range(8)] + [("b", i) for i in range(4)]
    harness.process(records)
    harness.end_input()
    assert sorted(r for r, _ in harness.main()) == [("a", [0, 1, 2]), ("a", [3, 4, 5]),
                                                    ("b", [0, 1, 2])]


def test_count_trigger_without_purge_keeps_the_elements(make_harness):
    spec = window_spec(lambda keyed: keyed.window(GlobalWindows.create())
                       .trigger(CountTrigger.of(2)).process(Values()))
    harness = make_harness(spec)
    harness.process([("a", i) for i in range(5)])
    assert [r[1] for r, _ in harness.main()] == [[0, 1], [0, 1, 2, 3]]


def test_count_windows_tumble_and_slide_as_in_pyflink(make_harness):
    tumbling = make_harness(window_spec(lambda keyed: keyed.count_window(3).process(Values())))
    tumbling.process([("a", i) for i in range(7)] + [("b", 9)])
    tumbling.end_input()
    assert sorted(r for r, _ in tumbling.main()) == [("a", [0, 1, 2]), ("a", [3, 4, 5])]

    sliding = make_harness(window_spec(lambda keyed: keyed.count_window(3, 2).process(Values())))
    sliding.process([("a", i) for i in range(8)])
    assert [r[1] for r, _ in sliding.main()] == [[0, 1, 2], [2, 3, 4], [4, 5, 6]]
    contents = sliding.chain.operators[0].backend.namespaced_table("window-contents")
    assert {w: dict(panes.items()) for w, panes in contents.items()} == {
        CountWindow(3): {"a": [("a", 6), ("a", 7)]}}  # fired ones were purged


def test_continuous_event_time_trigger_fires_early_results_and_the_final_one(make_harness):
    spec = window_spec(lambda keyed: keyed.window(TumblingEventTimeWindows.of(Time.seconds(1)))
                       .trigger(ContinuousEventTimeTrigger.of(Time.milliseconds(300)))
                       .reduce(add_pairs))
    harness = make_harness(spec)
    harness.process([("a", 1), ("a", 2)], [100, 150])
    assert harness.watermark(299) == []
    assert harness.watermark(300) == [(("a", 3), 999)]
    harness.process([("a", 10)], [400])
    assert harness.watermark(600) == [(("a", 13), 999)]
    assert harness.watermark(1000) == [(("a", 13), 999)] * 2  # at 900, and at the end
    operator = harness.chain.operators[0]
    assert len(operator.event_timers) == 0
    assert not operator.backend.snapshot().entries


class FireOnFlush(Trigger):
    """A custom trigger: fire and purge when a record says "flush", else keep collecting."""

    def on_element(self, element, timestamp, window, ctx):
        return TriggerResult.FIRE_AND_PURGE if element[1] == "flush" else TriggerResult.CONTINUE

    def on_processing_time(self, time, window, ctx):
        return TriggerResult.CONTINUE

    def on_event_time(self, time, window, ctx):
        return TriggerResult.CONTINUE

    def clear(self, window, ctx):
        pass


def test_custom_trigger_decides_when_windows_fire(make_harness):
    class Collect(ProcessWindowFunction):
        def process(self, key, context, elements):
            yield key, [e[1] for e in elements]

    spec = window_spec(lambda keyed: keyed.window(GlobalWindows.create()).trigger(FireOnFlush())
                       .process(Collect()))
    harness = make_harness(spec)
    harness.process([("a", "x"), ("b", "y"), ("a", "flush"), ("a", "z"), ("b", "flush")])
    assert [r for r, _ in harness.main()] == [("a", ["x", "flush"]), ("b", ["y", "flush"])]


def test_processing_time_windows_fire_on_the_clock(make_harness):
    clock = ManualClock(1_000)
    spec = window_spec(lambda keyed: keyed.window(
        TumblingProcessingTimeWindows.of(Time.seconds(1))).aggregate(SumCount()))
    harness = make_harness(spec, clock=clock)
    harness.process([("a", 1), ("b", 2), ("a", 3)])
    clock.now_ms = 1_500
    harness.process([("a", 4)])
    assert harness.advance_clock(1_998) == []
    assert sorted(harness.advance_clock(1_999)) == [((2, 1), 1_999), ((8, 3), 1_999)]
    clock.now_ms = 2_100
    harness.process([("a", 5)])
    assert harness.advance_clock(3_500) == [((5, 1), 2_999)]


def test_processing_time_sessions_merge_on_the_clock(make_harness):
    clock = ManualClock(0)
    spec = window_spec(lambda keyed: keyed.window(
        ProcessingTimeSessionWindows.with_gap(Time.milliseconds(100))).process(Describe()))
    harness = make_harness(spec, clock=clock)
    for now, value in [(0, 1), (50, 2), (120, 3), (400, 4)]:
        harness.advance_clock(now)
        harness.process([("a", value)])
    harness.advance_clock(1_000)
    assert sorted(r for r, _ in harness.main()) == [("a", 0, 220, [1, 2, 3]),
                                                    ("a", 400, 500, [4])]


def test_window_all_evaluates_the_whole_stream_in_one_window(make_harness):
    from weir.datastream import ProcessAllWindowFunction

    class Everything(ProcessAllWindowFunction):
        def process(self, context, elements):
            yield context.window().start, sorted(e[1] for e in elements)

    env = StreamExecutionEnvironment.get_execution_environment()
    stream = env.from_collection([]).window_all(
        TumblingEventTimeWindows.of(Time.milliseconds(10))).process(Everything())
    transformation = stream._transformation("test")
    assert transformation.fixed_parallelism == 1
    harness = make_harness(transformation.spec)
    harness.process([("a", 1), ("b", 2), ("c", 3)], [1, 5, 12])
    harness.end_input()
    assert [r for r, _ in harness.main()] == [(0, [1, 2]), (10, [3])]


def test_event_time_windows_need_timestamps(make_harness):
    spec = window_spec(lambda keyed: keyed.window(
        TumblingEventTimeWindows.of(Time.seconds(1))).reduce(add_pairs))
    harness = make_harness(spec)
    with pytest.raises(ValueError, match="assign_timestamps_and_watermarks"):
        harness.process([("a", 1)])


def test_a_merging_assigner_needs_a_trigger_that_can_merge():
    env = StreamExecutionEnvironment.get_execution_environment()
    windowed = env.from_collection([]).key_by(lambda e: e).window(
        EventTimeSessionWindows.with_gap(Time.seconds(1)))
    with pytest.raises(TypeError, match="cannot be used with a trigger"):
        windowed.trigger(FireOnFlush())


def test_a_late_arriving_record_bridges_two_sessions_into_one(make_harness):
    spec = window_spec(lambda keyed: keyed.window(
        EventTimeSessionWindows.with_gap(Time.milliseconds(30))).aggregate(SumCount(), Describe()))
    harness = make_harness(spec)
    harness.process([("a", 1), ("a", 2), ("b", 5)], [0, 50, 10])  # a: [0, 30) and [50, 80)
    assert harness.watermark(20) == []
    harness.process([("a", 3)], [25])                              # [25, 55) touches both
    assert harness.watermark(70) == [(("b", 10, 40, [(5, 1)]), 39)]
    harness.end_input()
    assert harness.main()[-1] == (("a", 0, 80, [(6, 3)]), 79)
    operator = harness.chain.operators[0]
    assert len(operator.event_timers) == 0 and not operator.backend.snapshot().entries
