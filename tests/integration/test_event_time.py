"""Event time across tasks: watermarks through unions and shuffles, idle sources, end of
input, event-time timers and side outputs, on the cluster."""

from __future__ import annotations

import collections
import threading
import time

import pytest

from tests.fixtures.event_time_sources import GatedSource, PhasedSource
from tests.fixtures.state_backends import BACKENDS, state_backend
from weir.common import Duration, Time, WatermarkStrategy
from weir.common.types import Row
from weir.datastream import (
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.datastream.window import TumblingEventTimeWindows

PARALLELISM = [1, 2, 4]


def environment(parallelism: int, backend: str = "hashmap") -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    env.set_state_backend(state_backend(backend))
    env.get_config().set_string("pipeline.auto-watermark-interval", "20 ms")
    return env


def by_timestamp_field(bound_ms: int = 0) -> WatermarkStrategy:
    return WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound_ms)) \
        .with_timestamp_assigner(lambda event, _: event[1])


def count_per_window(stream, size_ms: int = 100):
    return (stream.key_by(lambda e: e[0])
            .window(TumblingEventTimeWindows.of(Time.milliseconds(size_ms)))
            .reduce(lambda a, b: (a[0], a[1], a[2] + b[2]))
            .map(lambda r: (r[0], r[1] - r[1] % size_ms, r[2])))


def collect(stream) -> list:
    with stream.execute_and_collect() as results:
        return list(results)


@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_the_watermark_is_the_minimum_over_a_union_and_shuffles(cluster, parallelism):
    """A fast source far ahead in event time must not make a slow one's records late."""
    ahead = [[("ahead", 100_000 + 10 * i, 1) for i in range(p * 50, p * 50 + 50)]
             for p in range(4)]
    behind = [[("behind", 10 * i, 1) for i in range(p * 50, p * 50 + 50)] for p in range(4)]
    env = environment(parallelism)
    fast = env.from_source(PhasedSource(ahead, 0.05), by_timestamp_field(), "ahead")
    slow = env.from_source(PhasedSource(behind, 0.4), by_timestamp_field(), "behind")
    union = fast.union(slow).rebalance().map(lambda e: e)
    got = collect(count_per_window(union))

    expected = collections.Counter()
    for phase in ahead + behind:
        for key, ts, _ in phase:
            expected[(key, ts - ts % 100)] += 1
    assert sorted(got) == sorted((key, start, n) for (key, start), n in expected.items())


def test_an_idle_source_does_not_hold_back_windows(cluster, tmp_path):
    """With idleness, windows fire while a source that sends nothing stays open."""
    gate = tmp_path / "gate"
    env = environment(2)
    events = [("k", 10 * i, 1) for i in range(100)]
    busy = env.from_collection(events).assign_timestamps_and_watermarks(by_timestamp_field())
    idle = env.from_source(GatedSource([], str(gate)),
                           by_timestamp_field().with_idleness(Duration.of_millis(100)),
                           "idle").set_parallelism(1)
    opener = threading.Timer(30, gate.touch)  # fallback, so a failure cannot hang the suite
    opener.start()
    started = time.monotonic()
    try:
        with count_per_window(busy.union(idle)).execute_and_collect() as results:
            first = next(results)
            waited = time.monotonic() - started
            gate_was_open = gate.exists()
            gate.touch()
            rest = list(results)
    finally:
        opener.cancel()
    assert not gate_was_open and waited < 25, "windows waited for the idle source"
    assert sorted([first, *rest]) == [("k", start, 10) for start in range(0, 1000, 100)]


def test_the_end_of_input_fires_every_window(cluster):
    env = environment(2)
    events = [("k", 5_000_000, 1), ("j", 42, 1)]  # no watermark ever passes these windows
    stream = env.from_collection(events).assign_timestamps_and_watermarks(
        by_timestamp_field(bound_ms=10**9))
    assert sorted(collect(count_per_window(stream))) == [("j", 0, 1), ("k", 5_000_000, 1)]


class Reminders(KeyedProcessFunction):
    """Each record (key, ts, delay) sets an event-time timer at ts + delay, twice (one timer);
    a record with a negative delay deletes the timer at ts - delay instead."""

    def process_element(self, value, ctx):
        _, ts, delay = value
        service = ctx.timer_service()
        if delay < 0:
            service.delete_event_time_timer(ts - delay)
        else:
            service.register_event_time_timer(ts + delay)
            service.register_event_time_timer(ts + delay)
        return ()

    def on_timer(self, timestamp, ctx):
        yield ctx.get_current_key(), timestamp, ctx.time_domain().name


class Stamp(ProcessFunction):
    def process_element(self, value, ctx):
        yield (*value, ctx.timestamp())


@pytest.mark.parametrize("parallelism", PARALLELISM)
@pytest.mark.parametrize("backend", BACKENDS)
def test_event_time_timers_fire_once_in_order_with_their_timestamp(cluster, parallelism, backend):
    records = []
    for k in range(6):
        key = f"user-{k}"
        records += [(key, 100 * i, 30 + 7 * k) for i in range(8)]
        records += [(key, 50, -(100 * 3 + 30 + 7 * k) + 50)]  # deletes the timer at 330 + 7k
    env = environment(parallelism, backend)
    stream = (env.from_collection(records)  # one path per key: deletions follow registrations
              .assign_timestamps_and_watermarks(by_timestamp_field(bound_ms=1000))
              .set_parallelism(1)
              .key_by(lambda r: r[0]).process(Reminders()).process(Stamp()))
    got = collect(stream)

    per_key = collections.defaultdict(list)
    for key, timestamp, domain, stamped in got:
        assert domain == "EVENT_TIME" and stamped == timestamp
        per_key[key].append(timestamp)
    for k in range(6):
        expected = [100 * i + 30 + 7 * k for i in range(8) if i != 3]
        assert per_key[f"user-{k}"] == expected  # once each, in order, deleted one missing


SMALL = OutputTag("small")
ODD = OutputTag("odd")


class Split(ProcessFunction):
    def process_element(self, value, ctx):
        if value % 2:
            ctx.output(ODD, value)
        else:
            yield value
        if value < 10:
            yield SMALL, Row(value=value)


@pytest.mark.parametrize("parallelism", [1, 2])
def test_side_outputs_of_a_process_function_reach_their_own_consumers(cluster, parallelism):
    env = environment(parallelism)
    main = env.from_collection(list(range(100))).process(Split())
    odd = main.get_side_output(ODD).map(lambda v: ("odd", v))
    small = main.get_side_output(SMALL).map(lambda row: ("small", row.value))
    got = collect(main.map(lambda v: ("even", v)).union(odd, small))
    assert sorted(got) == sorted([("even", v) for v in range(0, 100, 2)]
                                 + [("odd", v) for v in range(1, 100, 2)]
                                 + [("small", v) for v in range(10)])


def test_a_source_with_a_watermark_strategy_drives_windows(cluster):
    n = 3000
    source = DataGeneratorSource(lambda i: (f"k{i % 5}", 7 * i, 1), n)
    env = environment(2)
    strategy = WatermarkStrategy.for_monotonous_timestamps() \
        .with_timestamp_assigner(lambda event, _: event[1])
    got = collect(count_per_window(env.from_source(source, strategy, "generated"), 1000))
    expected = collections.Counter((f"k{i % 5}", 7 * i - 7 * i % 1000) for i in range(n))
    assert sorted(got) == sorted((k, s, c) for (k, s), c in expected.items())
