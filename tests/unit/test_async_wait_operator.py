"""The async wait operator in a real operator chain on a real event loop, against a fake
in-process service whose requests complete when the test says (no sleeps decide results).

The driver does what the task's mailbox loop does: it feeds batches and watermarks, and
takes the chain's async output whenever the operator signals some.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import pytest

from tests.unit.stream_tasks import run
from weir.checkpoint.redistribution import RedistributedState
from weir.common import Time
from weir.common.constants import MAX_LONG_VALUE
from weir.datastream import AsyncDataStream, AsyncFunction, AsyncRetryStrategy
from weir.datastream.async_retry_predicates import (
    empty_result_predicate,
    exception_type_predicate,
)
from weir.datastream.async_retry_strategies import NO_RETRY_STRATEGY
from weir.graph.operators import AsyncWaitSpec, MapSpec
from weir.keygroups import assign_key_to_parallel_operator
from weir.taskmanager.operators.async_wait import AsyncWaitState
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.records import TimestampedBatch


class GatedService:
    """A fake service: a request for ``value`` waits until the test releases it; it counts
    calls and requests in flight."""

    def __init__(self) -> None:
        self.gates: dict[Any, asyncio.Event] = {}
        self.calls: dict[Any, int] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.started = asyncio.Event()

    def gate(self, value: Any) -> asyncio.Event:
        return self.gates.setdefault(value, asyncio.Event())

    def release(self, *values: Any) -> None:
        for value in values:
            self.gate(value).set()

    async def lookup(self, value: Any) -> list[Any]:
        self.calls[value] = self.calls.get(value, 0) + 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.started.set()
        try:
            await self.gate(value).wait()
        finally:
            self.in_flight -= 1
        return [f"r{value}"]


class Lookup(AsyncFunction):
    def __init__(self, service: GatedService) -> None:
        self.service = service

    async def async_invoke(self, value: Any) -> list[Any]:
        return await self.service.lookup(value)


class ChainDriver:
    """An operator chain [async wait, then ``map``] driven as a task drives it; ``out`` holds
    ``("r", record, timestamp)`` and ``("w", watermark)`` in emission order."""

    def __init__(self, function: AsyncFunction, *, ordered: bool = True, capacity: int = 100,
                 timeout_ms: int = 0, retry: AsyncRetryStrategy = NO_RETRY_STRATEGY,
                 state: Any = None, key_selector: Any = None,
                 subtask: tuple[int, int] = (0, 1)) -> None:
        self.chain = OperatorChain([
            AsyncWaitSpec("async", "async", function, timeout_ms, capacity, retry, ordered,
                          key_selector),
            MapSpec("tag", "tag", function=lambda record: record)])
        self.chain.initialize_state({"op-0": state} if state is not None else {})
        self.out: list[tuple[Any, ...]] = []
        self.ready = asyncio.Event()
        self.chain.open(OperatorContext(
            task_name="async", subtask_index=subtask[0], parallelism=subtask[1],
            max_parallelism=128, attempt=0,
            configuration={}, clock_ms=lambda: 0, request_timer_wakeup=lambda timestamp: None,
            reporter=None,  # type: ignore[arg-type] - no sinks here
            notify_async_output=self.ready.set))

    async def recover(self) -> None:
        await self.chain.recover()

    def feed(self, records: list[Any], timestamps: list[int] | None = None) -> None:
        batch = records if timestamps is None else TimestampedBatch(records, timestamps)
        assert self.chain.process(batch) == []  # nothing completes synchronously

    def watermark(self, watermark: int) -> None:
        out, leaving = self.chain.advance_watermark(watermark)
        assert (out, leaving) == ([], None)  # held by the async operator

    def take(self) -> list[tuple[Any, ...]]:
        """What the task would send now."""
        got: list[tuple[Any, ...]] = []
        while True:
            records, watermark = self.chain.take_async_output()
            if not records and watermark is None:
                break
            stamps = (records.timestamps if isinstance(records, TimestampedBatch)
                      else [None] * len(records))
            got.extend(("r", r, t) for r, t in zip(records, stamps))
            if watermark is not None:
                got.append(("w", watermark))
        self.out.extend(got)
        return got

    async def settle(self) -> list[tuple[Any, ...]]:
        """Let the loop run the requests that can run, then take what completed."""
        for _ in range(5):
            await asyncio.sleep(0)
        self.ready.clear()
        return self.take()

    async def drain(self) -> list[tuple[Any, ...]]:
        """End of input: take outputs until nothing is queued."""
        got: list[tuple[Any, ...]] = []
        while self.chain.has_pending_async:
            await self.ready.wait()
            self.ready.clear()
            got.extend(self.take())
        return got


def records_of(out: list[tuple[Any, ...]]) -> list[Any]:
    return [item[1] for item in out if item[0] == "r"]


def test_ordered_results_keep_input_order_whatever_order_requests_complete():
    async def scenario() -> tuple[list[Any], list[Any]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=True)
        driver.feed([1, 2, 3, 4])
        service.release(4, 3)
        early = await driver.settle()  # 1 and 2 still in flight: nothing may leave
        service.release(1)
        after_first = await driver.settle()
        service.release(2)
        await driver.drain()
        return early + after_first, records_of(driver.out)

    early, final = run(scenario())
    assert early == [("r", "r1", None)]
    assert final == ["r1", "r2", "r3", "r4"]


def test_unordered_results_leave_as_they_complete():
    async def scenario() -> list[list[Any]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=False)
        driver.feed([1, 2, 3])
        waves = []
        for value in (3, 1, 2):
            service.release(value)
            waves.append(records_of(await driver.settle()))
        return waves

    assert run(scenario()) == [["r3"], ["r1"], ["r2"]]


def test_unordered_results_never_cross_a_watermark():
    # r3 came after the watermark: it leaves after it, even when it completes first; the
    # watermark waits for r1 and r2, which came before it.
    async def scenario() -> list[list[Any]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=False)
        driver.feed([1, 2], [10, 11])
        driver.watermark(12)
        driver.feed([3], [13])
        waves = []
        for value in (3, 2, 1):
            service.release(value)
            waves.append(await driver.settle())
        return waves

    assert run(scenario()) == [
        [],
        [("r", "r2", 11)],
        [("r", "r1", 10), ("w", 12), ("r", "r3", 13)],
    ]


@pytest.mark.parametrize("ordered", [True, False])
def test_a_watermark_with_nothing_before_it_leaves_at_once_and_end_of_input_drains(ordered):
    async def scenario() -> list[tuple[Any, ...]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=ordered)
        driver.watermark(5)
        got = await driver.settle()
        driver.feed([1], [6])
        driver.watermark(MAX_LONG_VALUE)
        service.release(1)
        return got + await driver.drain()

    assert run(scenario()) == [("w", 5), ("r", "r1", 6), ("w", MAX_LONG_VALUE)]


@pytest.mark.parametrize("ordered", [True, False])
def test_capacity_bounds_requests_in_flight_and_blocks_input(ordered):
    async def scenario() -> tuple[int, bool, list[Any], bool]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=ordered, capacity=3)
        driver.feed(list(range(10)))
        await driver.settle()
        blocked = driver.chain.input_blocked
        for value in range(10):  # one at a time, so each release frees one slot
            service.release(value)
            await driver.settle()
            assert service.in_flight <= 3
        return (service.max_in_flight, blocked, records_of(driver.out),
                driver.chain.input_blocked)

    max_in_flight, blocked, results, blocked_at_end = run(scenario())
    assert max_in_flight == 3
    assert blocked and not blocked_at_end
    assert sorted(results) == sorted(f"r{v}" for v in range(10))


class SlowOrTimeout(AsyncFunction):
    """Never answers for "slow"; its timeout() gives a fallback result."""

    def __init__(self, fallback: bool) -> None:
        self.fallback = fallback

    async def async_invoke(self, value: Any) -> list[Any]:
        if value == "slow":
            await asyncio.Event().wait()
        return [value]

    def timeout(self, value: Any) -> list[Any]:
        if not self.fallback:
            return super().timeout(value)
        return [f"timeout:{value}"]


def test_a_request_past_its_timeout_gets_the_results_of_timeout():
    async def scenario() -> list[Any]:
        driver = ChainDriver(SlowOrTimeout(fallback=True), timeout_ms=50)
        driver.feed(["fast", "slow", "also fast"])
        return records_of(await driver.drain())

    assert run(scenario()) == ["fast", "timeout:slow", "also fast"]


def test_a_timeout_fails_the_task_by_default():
    async def scenario() -> None:
        driver = ChainDriver(SlowOrTimeout(fallback=False), timeout_ms=50)
        driver.feed(["slow"])
        await driver.drain()

    with pytest.raises(TimeoutError, match="timed out for input: slow"):
        run(scenario())


class Flaky(AsyncFunction):
    """Answers ``[]`` (or raises ConnectionError, for odd values) on the first ``bad[value]``
    calls for ``value``; counts calls."""

    def __init__(self, bad: dict[int, int]) -> None:
        self.bad = bad
        self.calls: dict[int, int] = {}

    async def async_invoke(self, value: int) -> list[Any]:
        self.calls[value] = self.calls.get(value, 0) + 1
        if self.calls[value] <= self.bad.get(value, 0):
            if value % 2:
                raise ConnectionError(f"service unavailable for {value}")
            return []
        return [value]


def test_retries_follow_the_fixed_delay_strategy():
    # fixed_delay(3): a request is made at most 1 + 3 times; value 4 stays empty after that
    # and its last (empty) result is the result.
    strategy = AsyncRetryStrategy.fixed_delay(
        3, 1, empty_result_predicate,
        functools.partial(exception_type_predicate, expected_error_type=ConnectionError))
    function = Flaky({1: 2, 2: 3, 4: 10})

    async def scenario() -> list[Any]:
        driver = ChainDriver(function, retry=strategy, timeout_ms=10_000)
        driver.feed([1, 2, 3, 4])
        return records_of(await driver.drain())

    assert run(scenario()) == [1, 2, 3]
    assert function.calls == {1: 3, 2: 4, 3: 1, 4: 4}


def test_an_error_the_strategy_does_not_retry_fails_the_task():
    strategy = AsyncRetryStrategy.fixed_delay(3, 1, empty_result_predicate, None)

    async def scenario() -> None:
        driver = ChainDriver(Flaky({1: 1}), retry=strategy, timeout_ms=10_000)
        driver.feed([1])
        await driver.drain()

    with pytest.raises(ConnectionError, match="service unavailable for 1"):
        run(scenario())


class NotAList(AsyncFunction):
    async def async_invoke(self, value: Any) -> Any:
        return value


def test_results_that_are_not_a_list_fail_the_task_saying_so():
    async def scenario() -> None:
        driver = ChainDriver(NotAList())
        driver.feed([1])
        await driver.drain()

    with pytest.raises(TypeError, match="must return a list of results, got int"):
        run(scenario())


class NotAsync(AsyncFunction):
    def async_invoke(self, value: Any) -> list[Any]:  # type: ignore[override]
        return [value]


def test_an_async_invoke_that_is_not_async_def_is_refused_when_the_job_is_built():
    from weir.datastream import StreamExecutionEnvironment

    env = StreamExecutionEnvironment.get_execution_environment()
    stream = env.from_collection([1, 2])
    with pytest.raises(TypeError, match="'async_invoke' of class 'NotAsync' must be declared "
                                        "as 'async def'"):
        AsyncDataStream.ordered_wait(stream, NotAsync(), Time.seconds(1))
    with pytest.raises(ValueError, match="needs a timeout"):
        AsyncDataStream.unordered_wait_with_retry(
            stream, Lookup(GatedService()), Time.milliseconds(0),
            AsyncRetryStrategy.fixed_delay(2, 10, empty_result_predicate, None))
    with pytest.raises(ValueError, match="capacity must be a positive integer"):
        AsyncDataStream.unordered_wait(stream, Lookup(GatedService()), Time.seconds(1), 0)


@pytest.mark.parametrize("ordered", [True, False])
def test_a_checkpoint_holds_queued_records_and_a_restore_makes_their_requests_again(ordered):
    # 1 left before the checkpoint; 2 completed but waits behind 3 (ordered) or was not
    # taken yet; 3 and 4 are in flight; 5 waits for room (capacity 3). The restored
    # operator asks again for exactly 2..5 and emits them, the watermark in its place.
    async def before() -> tuple[Any, list[Any]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=ordered, capacity=3)
        driver.feed([1, 2, 3])
        driver.watermark(7)
        driver.feed([4, 5])
        service.release(1)
        emitted = await driver.settle()
        service.release(2)
        await asyncio.sleep(0)
        state = driver.chain.snapshot_state(1)["op-0"]
        driver.chain.close()
        return state, emitted

    async def after(state: Any) -> tuple[list[Any], dict[Any, int]]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), ordered=ordered, capacity=3, state=state)
        await driver.recover()
        service.release(2, 3, 4, 5)
        return await driver.drain(), service.calls

    state, emitted = run(before())
    assert emitted == [("r", "r1", None)]
    assert isinstance(state, AsyncWaitState)
    out, calls = run(after(state))
    assert calls == {2: 1, 3: 1, 4: 1, 5: 1}
    assert sorted(records_of(out)) == ["r2", "r3", "r4", "r5"]
    position = out.index(("w", 7))
    assert sorted(records_of(out[:position])) == ["r2", "r3"]
    if ordered:
        assert records_of(out) == ["r2", "r3", "r4", "r5"]


def test_a_rescaled_restore_takes_the_records_of_every_part_and_drops_their_watermarks():
    parts = RedistributedState([AsyncWaitState([(1, 10), 11, (2, 12)]), None,
                                AsyncWaitState([(3, 13)])])

    async def scenario() -> list[Any]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), state=parts)
        await driver.recover()
        service.release(1, 2, 3)
        return await driver.drain()

    assert run(scenario()) == [("r", "r1", 10), ("r", "r2", 12), ("r", "r3", 13)]


@pytest.mark.parametrize("subtask", [0, 1])
def test_a_rescaled_restore_on_a_keyed_stream_keeps_the_records_of_its_own_keys(subtask):
    # Key groups of 0..39 at max parallelism 128 and parallelism 2 (stable_hash of an int).
    owner = {v: assign_key_to_parallel_operator(v, 128, 2) for v in range(40)}
    parts = RedistributedState([AsyncWaitState([(v, None) for v in range(20)]),
                                AsyncWaitState([(v, None) for v in range(20, 40)])])

    async def scenario() -> list[Any]:
        service = GatedService()
        driver = ChainDriver(Lookup(service), state=parts, key_selector=lambda v: v,
                             subtask=(subtask, 2))
        await driver.recover()
        service.release(*range(40))
        return records_of(await driver.drain())

    assert run(scenario()) == [f"r{v}" for v in range(40) if owner[v] == subtask]


def test_the_exponential_backoff_strategy_doubles_up_to_its_maximum():
    strategy = AsyncRetryStrategy.exponential_backoff(5, 10, 100, 2.0, empty_result_predicate,
                                                      None)
    assert [strategy.get_backoff_time_millis(n) for n in range(1, 7)] == [10, 20, 40, 80, 100,
                                                                          100]
    assert [strategy.can_retry(n) for n in (1, 5, 6)] == [True, True, False]
    with pytest.raises(ValueError, match="max_attempts must be greater than zero"):
        AsyncRetryStrategy.fixed_delay(0, 10, None, None)
