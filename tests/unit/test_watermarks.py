"""Watermarks: generation from a strategy, the per-task minimum over inputs, idleness."""

from __future__ import annotations

import random

import pytest

from tests.fixtures.operator_harness import ChainHarness, ManualClock
from weir.common import Duration, WatermarkStrategy
from weir.common.constants import MAX_LONG_VALUE, MIN_LONG_VALUE
from weir.graph.operators import MapSpec, TimestampsAndWatermarksSpec
from weir.taskmanager.network.events import Watermark, WatermarkStatus
from weir.taskmanager.operators.timestamps import (
    BoundedOutOfOrdernessWatermarks,
    IdlenessTimer,
    parse_interval_ms,
)
from weir.taskmanager.watermarks import StatusWatermarkValve, TaskEventTime

IDLE, ACTIVE = WatermarkStatus.IDLE, WatermarkStatus.ACTIVE


def test_bounded_out_of_orderness_trails_the_largest_timestamp():
    generator = BoundedOutOfOrdernessWatermarks(5)
    assert generator.current_watermark() == MIN_LONG_VALUE
    for ts in (10, 30, 20):
        generator.on_event(ts)
    assert generator.current_watermark() == 30 - 5 - 1


def test_idleness_needs_a_whole_timeout_without_records():
    timer = IdlenessTimer(100)
    assert not timer.check_if_idle(0)      # first quiet check starts the clock
    assert not timer.check_if_idle(99)
    assert timer.check_if_idle(100)
    timer.activity()
    assert not timer.check_if_idle(150)    # records arrived: active again, clock reset
    assert not timer.check_if_idle(200)
    assert timer.check_if_idle(300)


@pytest.mark.parametrize("text, millis", [("200", 200), ("50 ms", 50), ("1 s", 1000),
                                          ("2min", 120_000), (None, 200)])
def test_auto_watermark_interval_is_a_duration(text, millis):
    assert parse_interval_ms(text, 200) == millis


def test_auto_watermark_interval_rejects_nonsense():
    with pytest.raises(ValueError, match="pipeline.auto-watermark-interval"):
        parse_interval_ms("soon", 200)


def valve_min_oracle(watermarks: list[list[int]]) -> int:
    return min(max(ws, default=MIN_LONG_VALUE) for ws in watermarks)


def test_valve_outputs_the_minimum_over_channels_only_when_it_advances():
    rng = random.Random(7)
    valve = StatusWatermarkValve(3)
    seen: list[list[int]] = [[], [], []]
    last = MIN_LONG_VALUE
    for _ in range(300):
        channel = rng.randrange(3)
        mark = rng.randrange(1000)
        seen[channel].append(mark)
        events = valve.input_watermark(channel, mark)
        expected = valve_min_oracle(seen)
        if expected > last:
            assert events == [Watermark(expected)]
            last = expected
        else:
            assert events == []


def test_idle_channels_do_not_hold_the_watermark_back_until_they_resume_and_catch_up():
    valve = StatusWatermarkValve(2)
    assert valve.input_watermark(0, 100) == []           # channel 1 has no watermark yet
    assert valve.input_status(1, IDLE) == [Watermark(100)]
    assert valve.input_watermark(0, 200) == [Watermark(200)]
    assert valve.input_status(1, ACTIVE) == []           # behind (MIN): not aligned yet
    assert valve.input_watermark(0, 300) == [Watermark(300)]
    assert valve.input_watermark(1, 250) == []           # still behind the output
    assert valve.input_watermark(1, 320) == []           # caught up: aligned again
    assert valve.input_watermark(0, 400) == [Watermark(320)]


def test_when_every_channel_is_idle_the_valve_is_idle_at_the_largest_watermark():
    valve = StatusWatermarkValve(2)
    valve.input_watermark(0, 100)
    valve.input_watermark(1, 50)
    assert valve.input_status(0, IDLE) == []             # 50 (channel 1) is still the min
    assert valve.input_status(1, IDLE) == [Watermark(100), IDLE]
    assert valve.input_watermark(0, 500) == []            # idle channels are ignored
    assert valve.input_status(0, ACTIVE) == [ACTIVE]
    assert valve.input_watermark(0, 500) == [Watermark(500)]


def strategy(bound_ms: int, idle_ms: int | None = None) -> WatermarkStrategy:
    s = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(bound_ms)) \
        .with_timestamp_assigner(lambda event, _: event[1])
    return s.with_idleness(Duration.of_millis(idle_ms)) if idle_ms else s


def test_assigner_stamps_records_and_emits_periodic_watermarks_through_the_chain():
    harness = ChainHarness(TimestampsAndWatermarksSpec("ts", "ts", strategy(10)),
                           MapSpec("m", "m", lambda event: event[0]),
                           configuration={"pipeline.auto-watermark-interval": "50"})
    chain = harness.chain
    event_time = TaskEventTime(chain, 0)

    out = chain.process([("a", 100), ("b", 130), ("c", 90)])
    assert list(zip(out, out.timestamps)) == [("a", 100), ("b", 130), ("c", 90)]
    assert event_time.on_periodic(49).events == []          # not due yet
    assert event_time.on_periodic(50).events == [Watermark(119)]
    assert event_time.on_periodic(100).events == []         # nothing new
    chain.process([("d", 200)])
    assert event_time.on_periodic(150).events == [Watermark(189)]
    assert event_time.end_of_input().events == [Watermark(MAX_LONG_VALUE)]


def test_an_idle_generator_reports_idle_then_active_before_its_next_watermark():
    clock = ManualClock(0)
    harness = ChainHarness(TimestampsAndWatermarksSpec("ts", "ts", strategy(0, idle_ms=100)),
                           clock=clock, configuration={"pipeline.auto-watermark-interval": "50"})
    event_time = TaskEventTime(harness.chain, 0)
    harness.process([("a", 10)])
    assert event_time.on_periodic(50).events == [Watermark(9)]
    assert event_time.on_periodic(100).events == []           # quiet since 100
    assert event_time.on_periodic(150).events == []
    assert event_time.on_periodic(200).events == [IDLE]
    harness.process([("b", 20)])
    assert event_time.on_periodic(250).events == [ACTIVE, Watermark(19)]


def test_input_watermarks_stop_at_a_generator_but_the_final_one_passes():
    harness = ChainHarness(TimestampsAndWatermarksSpec("ts", "ts", strategy(0)))
    event_time = TaskEventTime(harness.chain, 1)
    assert event_time.on_watermark(0, Watermark(500)).events == []
    assert event_time.on_status(0, IDLE).events == []   # the generator decides the status
    assert event_time.end_of_input().events == [Watermark(MAX_LONG_VALUE)]


def test_a_task_without_generator_forwards_the_minimum_and_the_idle_status():
    harness = ChainHarness(MapSpec("m", "m", lambda x: x))
    event_time = TaskEventTime(harness.chain, 2)
    assert event_time.on_watermark(0, Watermark(10)).events == []
    assert event_time.on_watermark(1, Watermark(7)).events == [Watermark(7)]
    assert event_time.on_status(0, IDLE).events == []
    assert event_time.on_status(1, IDLE).events == [Watermark(10), IDLE]
    assert event_time.on_status(1, ACTIVE).events == [ACTIVE]
