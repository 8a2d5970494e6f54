"""Windows on the cluster at parallelism 1, 2 and 4, against plain-Python oracles.

The records come from a ``PhasedSource``: phases of records shuffled within the
out-of-orderness bound, with pauses long enough for periodic watermarks, and a
few records per phase placed far behind the watermark of the previous phase.
The oracle replays the same phases with the watermark after each one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.event_time_sources import PhasedSource
from tests.fixtures.state_backends import BACKENDS, state_backend
from tests.fixtures.window_functions import SumCount
from tests.fixtures.window_oracle import event_time_oracle, sessions_oracle
from weir.common import Duration, Time, WatermarkStrategy
from weir.common.constants import MIN_LONG_VALUE
from weir.datastream import (
    OutputTag,
    ProcessAllWindowFunction,
    ProcessFunction,
    ProcessWindowFunction,
    StreamExecutionEnvironment,
    WindowFunction,
)
from weir.datastream.window import (
    CountTrigger,
    EventTimeSessionWindows,
    GlobalWindows,
    PurgingTrigger,
    SlidingEventTimeWindows,
    TimeWindow,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)

PARALLELISM = [1, 2, 4]
BOUND = 40
LATE = OutputTag("late")


def environment(parallelism: int, backend: str = "hashmap") -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_state_backend(state_backend(backend))
    env.get_config().set_string("pipeline.auto-watermark-interval", "20 ms")
    return env


def timestamp_of(event: tuple[str, int, int], record_timestamp: int) -> int:
    return event[2]


def phased_stream(env: StreamExecutionEnvironment, phases: list[list[tuple]]) -> Any:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(BOUND)) \
        .with_timestamp_assigner(timestamp_of)
    return env.from_source(PhasedSource(phases), strategy, "phases").set_parallelism(1)


def make_phases(seed: int, phases: int = 5, per_phase: int = 60, late_per_phase: int = 3,
                gap_ms: int = 7) -> tuple[list[list[tuple]], list[tuple]]:
    """Phases of (key, value, ts) and the oracle's script (a watermark after each phase)."""
    rng = random.Random(seed)
    out: list[list[tuple]] = []
    script: list[tuple] = []
    clock = 0
    newest = MIN_LONG_VALUE
    for _ in range(phases):
        watermark = newest - BOUND - 1
        batch = []
        for _ in range(per_phase):
            clock += rng.randrange(gap_ms)
            batch.append((f"k{rng.randrange(4)}", rng.randrange(100), clock))
        batch.sort(key=lambda e: e[2] + rng.uniform(0, BOUND))  # out of order within the bound
        if watermark > 0:
            for _ in range(late_per_phase):  # far behind the watermark
                late = (f"k{rng.randrange(4)}", rng.randrange(100),
                        max(0, watermark - rng.randrange(1, 400)))
                batch.insert(rng.randrange(len(batch) + 1), late)
        out.append(batch)
        script.extend(("record", *event) for event in batch)
        newest = max([newest] + [e[2] for e in batch])
        script.append(("watermark", newest - BOUND - 1))
    return out, script


def collect(stream: Any) -> list:
    with stream.execute_and_collect() as results:
        return list(results)


class WithTimestamp(ProcessFunction):
    """Tags each record with its event timestamp."""

    def process_element(self, value, ctx):
        yield value, ctx.timestamp()


class Describe(ProcessWindowFunction):
    def process(self, key, context, elements):
        window = context.window()
        values = sorted(e[1] if isinstance(e, tuple) and isinstance(e[0], str) else e
                        for e in elements)
        yield key, window.start, window.end, values


class SumWindow(WindowFunction):
    def apply(self, key, window, inputs):
        yield key, window.start, window.end, sum(e[1] for e in inputs)


def tumbling(ts: int) -> list[TimeWindow]:
    return [TimeWindow(ts - ts % 100, ts - ts % 100 + 100)]


def sliding(ts: int) -> list[TimeWindow]:
    return [TimeWindow(s, s + 100) for s in range(ts - ts % 30 - 90, ts + 1, 30)
            if s <= ts < s + 100]


CASES: dict[str, tuple[Callable[[Any], Any], Callable[[int], list[TimeWindow]],
                       Callable[..., Any]]] = {
    "tumbling-aggregate": (
        lambda k: k.window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
        .aggregate(SumCount(), window_function=Describe()),
        tumbling, lambda key, w, xs: (key, w.start, w.end, [(sum(xs), len(xs))])),
    "tumbling-reduce": (
        lambda k: k.window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
        .reduce(lambda a, b: (a[0], a[1] + b[1], max(a[2], b[2]))).map(lambda r: (r[0], r[1])),
        tumbling, lambda key, w, xs: (key, sum(xs))),
    "sliding-apply": (
        lambda k: k.window(SlidingEventTimeWindows.of(Time.milliseconds(100),
                                                      Time.milliseconds(30)))
        .apply(SumWindow()),
        sliding, lambda key, w, xs: (key, w.start, w.end, sum(xs))),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_event_time_windows_match_the_oracle(cluster, parallelism, case, backend):
    build, windows_of, evaluate = CASES[case]
    phases, script = make_phases(seed=parallelism * 31 + len(case))
    env = environment(parallelism, backend)
    stream = build(phased_stream(env, phases).key_by(lambda e: e[0])).process(WithTimestamp())
    got = collect(stream)
    expected, late, _ = event_time_oracle(script, windows_of, 0, evaluate)
    assert late, "the phases must hold records beyond the bound"
    assert sorted(got, key=repr) == sorted(expected, key=repr)


class Tag(ProcessFunction):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def process_element(self, value, ctx):
        yield self.tag, value, ctx.timestamp()


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_allowed_lateness_updates_results_and_later_records_go_to_the_side_output(
        cluster, parallelism, backend):
    lateness = 150
    phases, script = make_phases(seed=parallelism, late_per_phase=6)
    env = environment(parallelism, backend)
    windows = (phased_stream(env, phases).key_by(lambda e: e[0])
               .window(TumblingEventTimeWindows.of(Time.milliseconds(100)))
               .allowed_lateness(lateness)
               .side_output_late_data(LATE)
               .process(Describe()))
    main = windows.process(Tag("main"))
    late = windows.get_side_output(LATE).process(Tag("late"))
    got = collect(main.union(late))
    expected, expected_late, _ = event_time_oracle(
        script, tumbling, lateness, lambda key, w, xs: (key, w.start, w.end, sorted(xs)))
    assert sorted((r, t) for tag, r, t in got if tag == "main") == sorted(expected)
    assert sorted(((r[0], r[1]), t) for tag, r, t in got if tag == "late") == \
        sorted(expected_late)
    assert expected_late
    assert len(expected) > len({r[:3] for r, _ in expected}), "some windows must fire again"


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_session_windows_merge_across_out_of_order_records(cluster, parallelism, backend):
    rng = random.Random(parallelism)
    gap = 30
    events = []
    for key in ("a", "b", "c"):
        ts = 0
        for _ in range(30):
            ts += rng.choice([3, 8, 15, 45, 90])
            events.append((key, rng.randrange(100), ts))
    events.sort(key=lambda e: e[2] + rng.uniform(0, BOUND))  # out of order within the bound
    phases = [events[i:i + 30] for i in range(0, len(events), 30)]
    env = environment(parallelism, backend)
    stream = (phased_stream(env, phases).key_by(lambda e: e[0])
              .window(EventTimeSessionWindows.with_gap(Time.milliseconds(gap)))
              .process(Describe()).process(WithTimestamp()))
    expected = sessions_oracle(events, gap)
    assert sum(1 for (_, _, _, values), _ in expected if len(values) > 2) > 5
    assert sorted(collect(stream)) == sorted(expected)


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_count_windows_and_a_global_window_with_a_count_trigger(cluster, parallelism, backend):
    records = [(f"k{i % 3}", i, 0) for i in range(40)]
    env = environment(parallelism, backend)
    source = env.from_collection(records)
    counted = collect(source.key_by(lambda e: e[0]).count_window(4)
                      .reduce(lambda a, b: (a[0], a[1] + b[1], 0)))
    env = environment(parallelism, backend)
    top = collect(env.from_collection(records).key_by(lambda e: e[0])
                  .window(GlobalWindows.create()).trigger(PurgingTrigger.of(CountTrigger.of(5)))
                  .process(TopTwo()))

    per_key: dict[str, list[int]] = {}
    for key, value, _ in records:
        per_key.setdefault(key, []).append(value)
    assert sorted(counted) == sorted((k, sum(vs[i:i + 4]), 0) for k, vs in per_key.items()
                                     for i in range(0, len(vs) - 3, 4))
    assert sorted(top) == sorted((k, sorted(vs[i:i + 5])[-2:]) for k, vs in per_key.items()
                                 for i in range(0, len(vs) - 4, 5))


class TopTwo(ProcessWindowFunction):
    def process(self, key, context, elements):
        yield key, sorted(e[1] for e in elements)[-2:]


class EveryWindow(ProcessAllWindowFunction):
    def process(self, context, elements):
        yield context.window().start, len(elements), sum(e[1] for e in elements)


@pytest.mark.parametrize("parallelism", [2, 4])
def test_window_all_sees_every_subtask_of_a_parallel_stream(cluster, parallelism):
    phases, script = make_phases(seed=7, late_per_phase=0)
    env = environment(parallelism)
    spread = phased_stream(env, phases).rebalance().map(lambda e: e).set_parallelism(parallelism)
    got = collect(spread.window_all(TumblingEventTimeWindows.of(Time.milliseconds(100)))
                  .process(EveryWindow()))
    events = [action[1:] for action in script if action[0] == "record"]
    windows: dict[int, list[int]] = {}
    for _, value, ts in events:
        windows.setdefault(ts - ts % 100, []).append(value)
    assert sorted(got) == sorted((start, len(vs), sum(vs)) for start, vs in windows.items())


def test_processing_time_windows_count_every_record_once(cluster):
    records = [(f"k{i % 3}", i, 0) for i in range(300)]
    # three bursts, then a pause longer than a window before the input ends: processing-time
    # windows still open at the end of a bounded input do not fire (Flink's semantics)
    phases = [records[:100], records[100:200], records[200:], []]
    env = environment(2)
    stream = (env.from_source(PhasedSource(phases), WatermarkStrategy.no_watermarks(), "bursts")
              .set_parallelism(1)
              .key_by(lambda e: e[0])
              .window(TumblingProcessingTimeWindows.of(Time.milliseconds(150)))
              .process(Describe()))
    got = collect(stream)
    assert sorted(v for *_, values in got for v in values) == list(range(300))
    assert len({start for _, start, _, _ in got}) >= 3  # the bursts are 400 ms apart
    assert all(end - start == 150 and start % 150 == 0 for _, start, end, _ in got)
