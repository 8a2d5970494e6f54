"""Joins in the API and in-process: the job graph an interval join and a window join make,
the errors a join built wrong gets (each saying what to fix), and the interval join run on
the operator harness over every state backend against a plain-Python oracle (bounds,
exclusive bounds, late elements, result timestamps, snapshot and restore, cleanup)."""

from __future__ import annotations

import collections
import random

import cloudpickle
import pytest

from tests.unit.test_job_graph import job_graph, numbers, vertices
from weir.common import Duration, Time
from weir.common.constants import MIN_LONG_VALUE
from weir.datastream import (
    CoGroupFunction,
    FlatJoinFunction,
    JoinFunction,
    OutputTag,
    ProcessJoinFunction,
    StreamExecutionEnvironment,
)
from weir.datastream.window import (
    EventTimeTrigger,
    TumblingEventTimeWindows,
    TumblingProcessingTimeWindows,
)
from weir.graph.operators import KeyedCoProcessSpec, MapSpec, WindowSpec
from weir.proto import jobmanager_pb2 as pb


class Pairs(ProcessJoinFunction):
    """Each pair with the context's three timestamps."""

    def process_element(self, left, right, ctx):
        yield (left, right, ctx.get_left_timestamp(), ctx.get_right_timestamp(),
               ctx.get_timestamp())


class Sum(JoinFunction):
    def join(self, first, second):
        return first + second


class Both(FlatJoinFunction):
    def join(self, first, second):
        yield first
        yield second


class Count(CoGroupFunction):
    def co_group(self, first, second):
        yield len(list(first)), len(list(second))


@pytest.fixture
def env() -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    return env


def keyed(env, modulus=3):
    return numbers(env).key_by(lambda x: x % modulus)


def first(record):
    return record[0]


def head_spec(graph: pb.JobGraph, name: str):
    return cloudpickle.loads(vertices(graph)[name].operator_chain)[0]


# ------------------------------------------------------------------ job graphs


def test_an_interval_join_is_a_keyed_co_process_on_both_keyed_inputs(env):
    keyed(env).interval_join(keyed(env, 5)).between(Time.seconds(-1), Duration.of_millis(5)) \
        .process(Pairs()).print()
    graph = job_graph(env)
    join = vertices(graph)["Interval Join -> Sink: Print to Std. Out"]
    assert [pb.Partitioner.Name(e.partitioner) for e in join.inputs] == ["HASH", "HASH"]
    spec = head_spec(graph, "Interval Join -> Sink: Print to Std. Out")
    assert isinstance(spec, KeyedCoProcessSpec)
    assert (spec.key_selector1(7), spec.key_selector2(7)) == (1, 2)


def test_a_window_join_tags_both_inputs_chained_to_them_and_windows_their_union(env):
    env.from_collection([1, 2, 3]).join(numbers(env)).where(lambda x: x).equal_to(lambda x: x) \
        .window(TumblingEventTimeWindows.of(Time.seconds(1))).apply(Sum()).print()
    graph = job_graph(env)
    names = sorted(vertices(graph))
    # Each tagger runs at its input's parallelism, chained to it (the collection source has 1):
    assert names[:2] == ["Source: Collection Source -> Map", "Source: numbers -> Map"]
    window = vertices(graph)[names[2]]
    assert names[2].startswith("Window(") and names[2].endswith("-> Sink: Print to Std. Out")
    assert [pb.Partitioner.Name(e.partitioner) for e in window.inputs] == ["HASH", "HASH"]
    spec = head_spec(graph, names[2])
    assert isinstance(spec, WindowSpec)
    assert spec.key_selector((0, 7)) == 7 and spec.key_selector((1, 8)) == 8
    tagger = cloudpickle.loads(vertices(graph)[names[1]].operator_chain)[1]
    assert isinstance(tagger, MapSpec) and tagger.function(5) == (1, 5)


def test_co_group_and_join_functions_evaluate_a_window_of_tagged_elements(env):
    window = TumblingEventTimeWindows.of(Time.seconds(1))
    elements = [(0, 1), (1, 10), (0, 2), (1, 20), (1, 30)]
    for streams, function, expected in [
            (numbers(env).join(numbers(env)), Sum(), [11, 21, 31, 12, 22, 32]),
            (numbers(env).join(numbers(env)), lambda a, b: a * b, [10, 20, 30, 20, 40, 60]),
            (numbers(env).join(numbers(env)), Both(), [1, 10, 1, 20, 1, 30, 2, 10, 2, 20, 2, 30]),
            (numbers(env).co_group(numbers(env)), Count(), [(2, 3)])]:
        stream = streams.where(lambda x: x).equal_to(lambda x: x).window(window).apply(function)
        evaluation = stream._transformation("test").spec.evaluation.function
        assert list(evaluation.apply(0, None, elements)) == expected
    co_group = numbers(env).co_group(numbers(env)).where(lambda x: x).equal_to(lambda x: x) \
        .window(window).apply(Count())._transformation("test").spec.evaluation.function
    assert list(co_group.apply(0, None, [(1, 5)])) == [(0, 1)]  # called with one side empty


# ---------------------------------------------------------------------- errors


def test_an_interval_join_needs_two_keyed_streams(env):
    with pytest.raises(TypeError, match="call key_by\\(\\) on both streams first"):
        numbers(env).interval_join(keyed(env))
    with pytest.raises(TypeError, match="call key_by\\(\\) on the other stream too"):
        keyed(env).interval_join(numbers(env))


def test_interval_join_bounds_are_checked(env):
    join = keyed(env).interval_join(keyed(env))
    with pytest.raises(ValueError, match="lower_bound <= upper_bound, got 5 ms > 4 ms"):
        join.between(5, 4)
    with pytest.raises(TypeError, match="must be a Time, a Duration or milliseconds"):
        join.between(1.5, 4)
    with pytest.raises(ValueError, match="only supported in event time"):
        join.in_processing_time().between(Time.seconds(-1), Time.seconds(1))
    joined = join.in_event_time().between(-1, 1)
    with pytest.raises(TypeError, match="process\\(\\) takes a ProcessJoinFunction"):
        joined.process(lambda left, right: (left, right))
    with pytest.raises(TypeError, match="takes an OutputTag"):
        joined.side_output_left_late_data("late")


def test_a_window_join_built_out_of_order_says_how_to_build_it(env):
    joined = numbers(env).join(numbers(env))
    with pytest.raises(AttributeError, match=r"EqualTo has no apply\(\): build a join as "
                                             r"ds1.join\(ds2\).where"):
        joined.where(lambda x: x).equal_to(lambda x: x).apply(Sum())
    with pytest.raises(AttributeError, match=r"JoinedStreams has no equal_to\(\)"):
        joined.equal_to(lambda x: x)
    with pytest.raises(AttributeError, match=r"Where has no window\(\): build a co_group"):
        numbers(env).co_group(numbers(env)).where(lambda x: x).window(
            TumblingEventTimeWindows.of(Time.seconds(1)))


def test_a_window_join_checks_its_parts(env):
    where = numbers(env).join(numbers(env)).where(lambda x: x)
    with pytest.raises(TypeError, match="window\\(\\) takes a WindowAssigner"):
        where.equal_to(lambda x: x).window(Time.seconds(1))
    window = where.equal_to(lambda x: x).window(TumblingProcessingTimeWindows.of(
        Time.seconds(1)))
    with pytest.raises(TypeError, match="apply\\(\\) takes a JoinFunction or a FlatJoinFunction"):
        window.apply(Count())
    with pytest.raises(TypeError, match="trigger\\(\\) takes a Trigger"):
        window.trigger(EventTimeTrigger)
    with pytest.raises(TypeError, match="apply\\(\\) takes a CoGroupFunction"):
        numbers(env).co_group(numbers(env)).where(lambda x: x).equal_to(lambda x: x) \
            .window(TumblingEventTimeWindows.of(Time.seconds(1))).apply(Sum())
    with pytest.raises(TypeError, match="join\\(\\) takes a DataStream"):
        numbers(env).join([1, 2])
    with pytest.raises(ValueError, match="different execution environments"):
        numbers(env).co_group(numbers(StreamExecutionEnvironment.get_execution_environment()))
    with pytest.raises(TypeError, match="The keys for the two inputs are not equal"):
        numbers(env).join(numbers(env)).where(lambda x: x, "int").equal_to(lambda x: x, "str")


# ------------------------------------------------- interval join, in-process

LATE_LEFT = OutputTag("late-left")
LATE_RIGHT = OutputTag("late-right")


def interval_spec(lower: int, upper: int, lower_exclusive=False, upper_exclusive=False):
    env = StreamExecutionEnvironment.get_execution_environment()
    left, right = (numbers(env).key_by(first) for _ in range(2))
    joined = left.interval_join(right).between(lower, upper) \
        .side_output_left_late_data(LATE_LEFT).side_output_right_late_data(LATE_RIGHT)
    if lower_exclusive:
        joined.lower_bound_exclusive()
    if upper_exclusive:
        joined.upper_bound_exclusive()
    return joined.process(Pairs())._transformation("test").spec


def random_script(seed: int, steps: int = 150):
    """Batches of either input and rising watermarks: ("watermark", w) or
    (side, [((key, n), timestamp), ...]); some elements come behind the watermark.
    The oracle also takes ("restore",): the operator was restored from a snapshot there."""
    rng = random.Random(seed)
    script, now, n, watermark = [], 0, 0, MIN_LONG_VALUE
    for _ in range(steps):
        if rng.random() < 0.2:
            watermark = max(watermark, now - rng.randint(2, 12))  # watermarks only rise
            script.append(("watermark", watermark))
            continue
        batch = []
        for _ in range(rng.randint(1, 6)):
            now += rng.randint(0, 4)
            n += 1
            batch.append(((rng.randint(0, 3), n), now - rng.randint(0, 16)))
        script.append((rng.randint(0, 1), batch))
    return script


def interval_oracle(script, lower: int, upper: int):
    """Flink's interval join, pair by pair: ``(main, late_left, late_right)`` with
    timestamps. Two elements of one key join when neither was late (behind the watermark
    when it came), the right one's timestamp is within [left + lower, left + upper], and
    the one that came first was still buffered when the second came: no watermark between
    their arrivals reached its cleanup time (left: t + upper, or t when upper <= 0; right:
    t - lower, or t when lower >= 0)."""
    arrivals, late, watermarks = [], ([], []), []
    watermark = MIN_LONG_VALUE
    for step in script:
        if step[0] == "restore":  # a restored operator has no watermark until the next one
            watermark = MIN_LONG_VALUE
        elif step[0] == "watermark":
            watermark = step[1]
            watermarks.append(watermark)
        else:
            side, batch = step
            for record, timestamp in batch:
                if watermark != MIN_LONG_VALUE and timestamp < watermark:
                    late[side].append((record, timestamp))
                else:
                    arrivals.append((side, record, timestamp, len(watermarks)))
    main = []
    for side_l, left, t_left, came_l in arrivals:
        for side_r, right, t_right, came_r in arrivals:
            if side_l != 0 or side_r != 1 or left[0] != right[0]:
                continue
            if not t_left + lower <= t_right <= t_left + upper:
                continue
            if came_l <= came_r:
                cleanup = t_left + upper if upper > 0 else t_left
            else:
                cleanup = t_right - lower if lower < 0 else t_right
            if any(w >= cleanup for w in watermarks[min(came_l, came_r):max(came_l, came_r)]):
                continue
            result = max(t_left, t_right)
            main.append(((left, right, t_left, t_right, result), result))
    return main, late[0], late[1]


def run_script(harness, script):
    for step in script:
        if step[0] == "watermark":
            harness.watermark(step[1])
        else:
            side, batch = step
            harness.process_input(side, [r for r, _ in batch], [t for _, t in batch])


@pytest.mark.parametrize(("lower", "upper", "lower_exclusive", "upper_exclusive"), [
    (-5, 5, False, False), (0, 8, False, False), (-6, -2, False, True), (2, 9, True, True),
    (-3, 0, True, False), (0, 0, False, False)])
@pytest.mark.parametrize("seed", range(2))
def test_interval_join_matches_flinks_semantics(make_harness, seed, lower, upper,
                                                lower_exclusive, upper_exclusive):
    script = random_script(seed)
    harness = make_harness(interval_spec(lower, upper, lower_exclusive, upper_exclusive),
                           side_outputs=(LATE_LEFT.tag_id, LATE_RIGHT.tag_id))
    run_script(harness, script)
    main, late_left, late_right = interval_oracle(
        script, lower + lower_exclusive, upper - upper_exclusive)
    assert main, "the script joins nothing"
    assert late_left or late_right, "the script has no late elements"
    assert collections.Counter(harness.main()) == collections.Counter(main)
    assert harness.side(LATE_LEFT.tag_id) == late_left
    assert harness.side(LATE_RIGHT.tag_id) == late_right


def test_interval_join_state_survives_a_snapshot_and_is_cleaned_up(make_harness):
    script = random_script(5)
    cut = len(script) // 2
    harness = make_harness(interval_spec(-4, 6))
    run_script(harness, script[:cut])
    snapshot = harness.snapshot()
    assert any(entries for state in snapshot.values() for entries in state.entries.values())
    restored = make_harness(interval_spec(-4, 6), restored=snapshot)
    run_script(restored, script[cut:])
    main, _, _ = interval_oracle([*script[:cut], ("restore",), *script[cut:]], -4, 6)
    assert collections.Counter(harness.main() + restored.main()) == collections.Counter(main)
    restored.end_input()  # the final watermark fires every cleanup timer
    assert not any(entries for state in restored.snapshot().values()
                   for entries in state.entries.values())


def test_interval_join_needs_timestamps(make_harness):
    harness = make_harness(interval_spec(-1, 1))
    with pytest.raises(ValueError, match="interval join needs event timestamps"):
        harness.process_input(0, [(1, 1)])
