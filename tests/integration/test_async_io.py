"""Async I/O jobs at parallelism 1, 2 and 4 against plain-Python oracles. The "service" is an
in-process coroutine that sleeps a little (a different time per record, so requests finish
out of order) and reports how many requests of its subtask were in flight when it began."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import pytest

from weir.common import Duration, Time, WatermarkStrategy
from weir.common.job_client import JobExecutionException
from weir.datastream import (
    AsyncDataStream,
    AsyncFunction,
    AsyncRetryStrategy,
    RuntimeContext,
    StreamExecutionEnvironment,
    WindowFunction,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.window import TumblingEventTimeWindows

PARALLELISM = [1, 2, 4]
MODES = ["ordered", "unordered"]
N = 2_000
CAPACITY = 8


class SlowSquare(AsyncFunction):
    """``[(subtask, x, x * x, in flight when it began)]`` after 1-4 ms; no answer at all
    for multiples of ``never`` (their timeout() answers ``(subtask, x, "timeout")``); for
    multiples of ``flaky`` the first call raises ConnectionError."""

    def __init__(self, never: int = 0, flaky: int = 0) -> None:
        self.never = never
        self.flaky = flaky

    def open(self, runtime_context: RuntimeContext) -> None:
        self.subtask = runtime_context.get_index_of_this_subtask()
        self.in_flight = 0
        self.failed: set[int] = set()

    async def async_invoke(self, value: int) -> list[Any]:
        self.in_flight += 1
        seen = self.in_flight
        try:
            if self.never and value % self.never == 0:
                await asyncio.Event().wait()
            await asyncio.sleep((1 + value * 7919 % 4) / 1000)
            if self.flaky and value % self.flaky == 0 and value not in self.failed:
                self.failed.add(value)
                raise ConnectionError(f"service unavailable for {value}")
            return [(self.subtask, value, value * value, seen)]
        finally:
            self.in_flight -= 1

    def timeout(self, value: int) -> list[Any]:
        return [(self.subtask, value, "timeout")]


def environment(parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def numbers(env: StreamExecutionEnvironment, count: int):
    return env.from_source(NumberSequenceSource(0, count - 1),
                           WatermarkStrategy.no_watermarks(), "numbers")


def async_wait(mode: str, stream, function: AsyncFunction, timeout: Time, **kwargs: Any):
    wait = AsyncDataStream.ordered_wait if mode == "ordered" else AsyncDataStream.unordered_wait
    return wait(stream, function, timeout, **kwargs)


def collect(stream) -> list[Any]:
    with stream.execute_and_collect() as results:
        return list(results)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_every_result_once_in_flight_bounded_by_capacity(cluster, parallelism, mode):
    env = environment(parallelism)
    rows = collect(async_wait(mode, numbers(env, N), SlowSquare(), Time.seconds(30),
                              capacity=CAPACITY))
    assert sorted((x, square) for _, x, square, _ in rows) == [(x, x * x) for x in range(N)]
    in_flight = [seen for *_, seen in rows]
    # Requests overlap (the mailbox never waits for one), and never more than capacity.
    assert max(in_flight) == CAPACITY
    if mode == "ordered":  # each subtask's results in its input order
        per_subtask = collections.defaultdict(list)
        for subtask, x, _, _ in rows:
            per_subtask[subtask].append(x)
        assert all(xs == sorted(xs) for xs in per_subtask.values())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("parallelism", [2])
def test_timeouts_call_timeout_and_retries_recover_flaky_requests(cluster, parallelism, mode):
    env = environment(parallelism)
    strategy = AsyncRetryStrategy.fixed_delay(
        2, 5, None, lambda error: isinstance(error, ConnectionError))
    wait = (AsyncDataStream.ordered_wait_with_retry if mode == "ordered"
            else AsyncDataStream.unordered_wait_with_retry)
    rows = collect(wait(numbers(env, 500), SlowSquare(never=37, flaky=5),
                        Time.milliseconds(500), strategy, CAPACITY)
                   .map(lambda row: row[1:3]))
    expected = [(x, "timeout") if x % 37 == 0 else (x, x * x) for x in range(500)]
    assert sorted(rows, key=lambda row: row[0]) == expected


def per_window_counts(records: int, keys: int, window_ms: int) -> collections.Counter:
    return collections.Counter((x % keys, x - x % window_ms) for x in range(records))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("parallelism", PARALLELISM)
def test_watermarks_never_overtake_results(cluster, parallelism, mode):
    # Event time = the number; watermarks every 5 ms. A result that a watermark overtook
    # would be late for its window downstream and dropped: every count must be exact.
    records, keys, window_ms = 3_000, 4, 100
    env = environment(parallelism)
    env.get_config().set_string("pipeline.auto-watermark-interval", "5 ms")
    strategy = WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_millis(0)) \
        .with_timestamp_assigner(lambda x, _: x)
    stream = env.from_source(NumberSequenceSource(0, records - 1), strategy, "numbers")
    counts = (async_wait(mode, stream, SlowSquare(), Time.seconds(30), capacity=CAPACITY)
              .map(lambda row: (row[1] % keys, 1))
              .key_by(lambda pair: pair[0])
              .window(TumblingEventTimeWindows.of(Time.milliseconds(window_ms)))
              .reduce(lambda a, b: (a[0], a[1] + b[1]), window_function=WithStart()))
    got = collections.Counter({(key, start): n for key, start, n in collect(counts)})
    assert got == per_window_counts(records, keys, window_ms)


class WithStart(WindowFunction):
    """``(key, window start, count)``."""

    def apply(self, key, window, inputs):
        for _, n in inputs:
            yield key, window.start, n


class NotAList(AsyncFunction):
    async def async_invoke(self, value: int) -> Any:
        return value


def test_a_function_that_returns_no_list_fails_the_job_saying_so(cluster):
    env = environment(1)
    stream = AsyncDataStream.unordered_wait(numbers(env, 10), NotAList(), Time.seconds(5))
    with pytest.raises(JobExecutionException, match="must return a list of results, got int"):
        collect(stream)
