"""Per-split watermarks of a source subtask: the multiplexer on a manual clock (minimum over
the active splits, idle splits left out until they produce again, splits added and
released), the watermark operator switched to it, and the reader contract's default."""

from __future__ import annotations

import asyncio

from tests.fixtures.operator_harness import ChainHarness, ManualClock
from weir.common import Duration, WatermarkStrategy
from weir.connector import SourceReader, SplitAwareSourceReader
from weir.graph.operators import MapSpec, TimestampsAndWatermarksSpec
from weir.taskmanager.network.events import Watermark, WatermarkStatus
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.operators.timestamps import (
    BoundedOutOfOrdernessWatermarks,
    IdlenessTimer,
    TimestampsAndWatermarksOperator,
    split_watermark_operator,
)
from weir.taskmanager.split_watermarks import SplitWatermarkMultiplexer
from weir.taskmanager.watermarks import TaskEventTime

IDLE, ACTIVE = WatermarkStatus.IDLE, WatermarkStatus.ACTIVE


def multiplexer(bound_ms: int = 0, idle_ms: int | None = None) -> SplitWatermarkMultiplexer:
    return SplitWatermarkMultiplexer(
        lambda: BoundedOutOfOrdernessWatermarks(bound_ms),
        None if idle_ms is None else lambda: IdlenessTimer(idle_ms))


def feed(splits: SplitWatermarkMultiplexer, split_id: str, *timestamps: int) -> None:
    output = splits.output(split_id)
    for timestamp in timestamps:
        output.generator.on_event(timestamp)
    if output.idleness is not None:
        output.idleness.activity()


def test_the_watermark_is_the_minimum_over_the_splits():
    splits = multiplexer(bound_ms=10)
    splits.set_splits(frozenset({"t-0", "t-1"}))
    feed(splits, "t-0", 100_000)
    watermark, idle = splits.combined(0)
    assert idle is False and watermark is not None and watermark < 0  # t-1 holds it back
    feed(splits, "t-1", 500, 300)
    assert splits.combined(1) == (489, False)
    feed(splits, "t-1", 2_000)
    assert splits.combined(2) == (1_989, False)


def test_an_idle_split_is_left_out_until_it_produces_again():
    splits = multiplexer(idle_ms=100)
    splits.set_splits(frozenset({"t-0", "t-1"}))
    feed(splits, "t-0", 1_000)
    feed(splits, "t-1", 50)
    assert splits.combined(0) == (49, False)
    feed(splits, "t-0", 1_100)
    assert splits.combined(50) == (49, False)    # t-1 quiet since 50
    feed(splits, "t-0", 1_200)
    assert splits.combined(150) == (1_199, False)  # t-1 idle: left out
    feed(splits, "t-1", 60)
    assert splits.combined(200) == (59, False)   # t-1 back: counted again


def test_when_every_split_is_idle_the_subtask_is_idle():
    splits = multiplexer(idle_ms=100)
    splits.set_splits(frozenset({"t-0", "t-1"}))
    feed(splits, "t-0", 10)
    assert splits.combined(0)[1] is False
    assert splits.combined(50)[1] is False
    assert splits.combined(150) == (None, True)
    feed(splits, "t-1", 20)
    assert splits.combined(200) == (19, False)


def test_a_split_that_never_produced_becomes_idle_and_stops_holding_back():
    splits = multiplexer(idle_ms=100)
    splits.set_splits(frozenset({"t-0", "t-1"}))
    feed(splits, "t-0", 500)
    assert splits.combined(0)[0] < 0  # type: ignore[operator]
    feed(splits, "t-0", 500)
    assert splits.combined(100) == (499, False)


def test_released_splits_no_longer_count_and_new_ones_hold_back_until_they_produce():
    splits = multiplexer()
    splits.set_splits(frozenset({"t-0", "t-1"}))
    feed(splits, "t-0", 900)
    feed(splits, "t-1", 100)
    assert splits.combined(0) == (99, False)
    splits.set_splits(frozenset({"t-0"}))          # t-1 finished
    assert splits.split_ids == ["t-0"]
    assert splits.combined(1) == (899, False)
    splits.set_splits(frozenset({"t-0", "t-2"}))   # t-2 discovered
    assert splits.combined(2)[0] < 0  # type: ignore[operator]
    feed(splits, "t-2", 950)
    assert splits.combined(3) == (899, False)


def test_without_splits_the_subtask_is_idle_only_with_idleness():
    assert multiplexer().combined(10_000) == (None, False)
    splits = multiplexer(idle_ms=100)
    assert splits.combined(0) == (None, False)
    assert splits.combined(100) == (None, True)


class SplitChain:
    """A chain that starts with the watermark operator, switched to per-split watermarks."""

    def __init__(self, operator: TimestampsAndWatermarksOperator, chain: OperatorChain) -> None:
        self.operator = operator
        self.chain = chain
        self.event_time = TaskEventTime(chain, 0)

    def run(self, split_id: str, *events: tuple[str, int]) -> None:
        self.operator.set_current_split(split_id)
        self.chain.process(list(events))

    def periodic(self, now_ms: int) -> list[object]:
        return self.event_time.on_periodic(now_ms).events


def split_chain(clock: ManualClock, idle_ms: int | None = None) -> SplitChain:
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)) \
        .with_timestamp_assigner(lambda event, _: event[1])
    if idle_ms is not None:
        strategy = strategy.with_idleness(Duration.of_millis(idle_ms))
    harness = ChainHarness(TimestampsAndWatermarksSpec("ts", "ts", strategy), clock=clock,
                           configuration={"pipeline.auto-watermark-interval": "50"})
    operator = harness.chain.operators[0]
    assert isinstance(operator, TimestampsAndWatermarksOperator)
    assert operator.use_split_watermarks() is not None
    return SplitChain(operator, harness.chain)


def test_the_operator_emits_the_minimum_over_its_splits():
    c = split_chain(ManualClock(0))
    c.operator.set_splits(frozenset({"t-0", "t-1"}))
    c.run("t-0", ("a", 100_000), ("b", 100_010))
    assert c.periodic(50) == []     # t-1 has produced nothing yet
    c.run("t-1", ("c", 10), ("d", 20))
    assert c.periodic(100) == [Watermark(19)]
    c.run("t-1", ("e", 60_000))
    assert c.periodic(150) == [Watermark(59_999)]
    c.operator.set_splits(frozenset({"t-0"}))           # t-1 finished
    assert c.periodic(200) == [Watermark(100_009)]


def test_the_operator_goes_idle_with_all_its_splits_and_back():
    c = split_chain(ManualClock(0), idle_ms=100)
    c.operator.set_splits(frozenset({"t-0", "t-1"}))
    c.run("t-0", ("a", 500))
    c.run("t-1", ("b", 300))
    assert c.periodic(50) == [Watermark(299)]
    c.run("t-0", ("c", 600))
    assert c.periodic(100) == []     # t-1 quiet since 100
    c.run("t-0", ("d", 700))
    assert c.periodic(200) == [Watermark(699)]  # t-1 idle
    assert c.periodic(250) == []     # t-0 quiet since 250
    assert c.periodic(300) == []
    assert c.periodic(350) == [IDLE]  # t-0 idle too
    c.run("t-1", ("e", 800))
    assert c.periodic(400) == [ACTIVE, Watermark(799)]


class _TwoSplits(SplitAwareSourceReader[int]):
    def __init__(self) -> None:
        self.polls = [[("s-0", [1, 2]), ("s-1", [3])], [("s-1", [4])], None]

    async def poll_split_batches(self, max_records: int) -> list[tuple[str, list[int]]] | None:
        return self.polls.pop(0)

    def assigned_splits(self) -> frozenset[str]:
        return frozenset({"s-0", "s-1"})


def test_poll_batch_of_a_split_aware_reader_joins_its_splits_batches():
    reader = _TwoSplits()

    async def drain() -> list[list[int] | None]:
        return [await reader.poll_batch(10) for _ in range(3)]

    assert asyncio.run(drain()) == [[1, 2, 3], [4], None]


class _OneSplit(SplitAwareSourceReader[int]):
    async def poll_split_batches(self, max_records: int) -> list[tuple[str, list[int]]] | None:
        return None

    def assigned_splits(self) -> frozenset[str]:
        return frozenset()


class _Plain(SourceReader[int]):
    async def poll_batch(self, max_records: int) -> list[int] | None:
        return None


def test_only_a_split_aware_reader_before_a_generator_gets_per_split_watermarks():
    with_generator = WatermarkStrategy.for_monotonous_timestamps()
    assigner_only = WatermarkStrategy.no_watermarks().with_timestamp_assigner(lambda e, _: e)

    def chain(strategy: WatermarkStrategy) -> OperatorChain:
        return OperatorChain([TimestampsAndWatermarksSpec("ts", "ts", strategy),
                              MapSpec("m", "m", lambda e: e)])

    watermarks = chain(with_generator)
    assert split_watermark_operator(_OneSplit(), watermarks.operators) is \
        watermarks.operators[0]
    assert split_watermark_operator(_OneSplit(), chain(assigner_only).operators) is None
    assert split_watermark_operator(_OneSplit(), chain(with_generator).operators[1:]) is None
    assert split_watermark_operator(_Plain(), chain(with_generator).operators) is None
    assert split_watermark_operator(None, chain(with_generator).operators) is None
