"""Timestamps through chained operators, timers of KeyedProcessFunction, side outputs."""

from __future__ import annotations

from tests.fixtures.operator_harness import ChainHarness, ManualClock
from weir.common.constants import MIN_LONG_VALUE
from weir.datastream import (
    KeyedProcessFunction,
    OutputTag,
    ProcessFunction,
    StreamExecutionEnvironment,
)

ODD = OutputTag("odd")
SMALL = OutputTag("small")


def specs_of(build) -> list:  # type: ignore[no-untyped-def]
    """The operator specs ``build(stream)`` adds after a source, in order."""
    env = StreamExecutionEnvironment.get_execution_environment()
    build(env.from_collection([]))
    return [t.spec for t in env._transformations[1:]]


def test_records_keep_their_timestamps_through_map_filter_flat_map():
    harness = ChainHarness(*specs_of(lambda s: s.map(lambda x: x * 10)
                                     .filter(lambda x: x != 20)
                                     .flat_map(lambda x: [x, x + 1])))
    out = harness.process([1, 2, 3], [100, 200, 300])
    assert out == [(10, 100), (11, 100), (30, 300), (31, 300)]
    assert harness.process([4]) == [(40, None), (41, None)]  # no timestamps: none added


class Router(ProcessFunction):
    """Even values to the main output, odd ones to a side output; small ones also (yielded)."""

    def process_element(self, value, ctx):
        if value % 2:
            ctx.output(ODD, (value, ctx.timestamp()))
        else:
            yield value, ctx.timestamp()
        if value < 3:
            yield SMALL, value


def test_process_function_side_outputs_by_ctx_output_and_by_yield():
    spec, = specs_of(lambda s: s.process(Router()))
    harness = ChainHarness(spec, side_outputs=("odd", "small"))
    harness.process([1, 2, 3, 4], [10, 20, 30, 40])
    assert harness.main() == [((2, 20), 20), ((4, 40), 40)]
    assert harness.side("odd") == [((1, 10), 10), ((3, 30), 30)]
    assert harness.side("small") == [(1, 10), (2, 20)]


def test_side_outputs_nobody_reads_are_dropped():
    spec, = specs_of(lambda s: s.process(Router()))
    harness = ChainHarness(spec)
    harness.process([1, 2], [10, 20])
    assert harness.emitted == [((2, 20), 20)]


class TimerProbe(KeyedProcessFunction):
    """Registers event-time timers at value and value + 100 (twice: de-duplicated), deletes the
    second when the value is negative-marked, and a processing-time timer at 1000."""

    def process_element(self, value, ctx):
        key, at = value
        service = ctx.timer_service()
        service.register_event_time_timer(at)
        service.register_event_time_timer(at)
        service.register_event_time_timer(at + 100)
        if key == "cancel":
            service.delete_event_time_timer(at + 100)
        service.register_processing_time_timer(1_000)
        return ()

    def on_timer(self, timestamp, ctx):
        yield (ctx.get_current_key(), timestamp, ctx.time_domain().name,
               ctx.timer_service().current_watermark(), ctx.timestamp())
        if ctx.get_current_key() == "late" and timestamp == 5:
            ctx.output(ODD, "from a timer")


def test_keyed_timers_fire_in_order_once_with_their_timestamp_and_domain(make_harness):
    spec, = specs_of(lambda s: s.key_by(lambda v: v[0]).process(TimerProbe()))
    clock = ManualClock(0)
    harness = make_harness(spec, clock=clock, side_outputs=("odd",))
    harness.process([("b", 50), ("a", 20), ("cancel", 30), ("late", 5)], [1, 2, 3, 4])
    harness.watermark(60)
    assert harness.main() == [(("late", 5, "EVENT_TIME", 60, 5), 5), (("a", 20, "EVENT_TIME", 60, 20), 20),
                     (("cancel", 30, "EVENT_TIME", 60, 30), 30),
                     (("b", 50, "EVENT_TIME", 60, 50), 50)]
    assert harness.side("odd") == [("from a timer", 5)]
    assert harness.watermark(60) == []  # fired once
    assert [r[:2] for r, _ in harness.watermark(149)] == [("late", 105), ("a", 120)]
    processing = harness.advance_clock(1_000)
    assert sorted(r[:3] for r, _ in processing) == [(k, 1_000, "PROCESSING_TIME")
                                                    for k in ("a", "b", "cancel", "late")]
    assert all(t is None for _, t in processing)  # processing-time outputs carry no timestamp
    assert [r[:2] for r, _ in harness.end_input()] == [("b", 150)]


def test_the_watermark_is_visible_to_process_functions():
    class SeeWatermark(ProcessFunction):
        def process_element(self, value, ctx):
            yield ctx.timer_service().current_watermark()

    spec, = specs_of(lambda s: s.process(SeeWatermark()))
    harness = ChainHarness(spec)
    assert harness.process([1]) == [(MIN_LONG_VALUE, None)]
    harness.watermark(77)
    assert harness.process([1], [80]) == [(77, 80)]
