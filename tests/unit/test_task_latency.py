"""What bounds a record's wait inside a task: partly filled buffers leave as soon as the task
has nothing more to do, and a slow chain passes its batches on in time-bounded slices.

The tasks run on their own (``tests.unit.stream_tasks``) with a buffer timeout of 60 s unless
a test sets one, so nothing here is sent because a timeout passed."""

from __future__ import annotations

import time

import pytest

from tests.unit.stream_tasks import TaskUnderTest, deployment, run
from weir.graph.operators import MapSpec
from weir.taskmanager.network.events import END_OF_PARTITION
from weir.taskmanager.slicing import FIRST_SLICE, MIN_BOUND_S, BatchSlicer


async def next_output(under_test: TaskUnderTest) -> list[int]:
    """The next buffer the task sent to its output."""
    while (polled := under_test.output.poll()) is None:
        under_test.output_arrived.clear()
        await under_test.output_arrived.wait()
    return polled[1]


def test_a_partly_filled_buffer_leaves_when_the_task_has_no_more_input():
    async def scenario() -> tuple[list[int], float]:
        under_test = TaskUnderTest(deployment(output=True))
        runner = await under_test.start()
        sent = time.monotonic()
        await under_test.inputs[0].send([1, 2, 3])  # 3 records: far from a full buffer
        buffer = await next_output(under_test)
        waited = time.monotonic() - sent
        await under_test.inputs[0].send(END_OF_PARTITION)
        await runner
        return buffer, waited

    buffer, waited = run(scenario())
    assert buffer == [2, 4, 6]
    assert waited < 1.0, "the buffer waited for the 60 s timeout"


def test_a_slow_function_passes_records_on_before_its_batch_is_done():
    per_record_s = 0.01
    done: list[float] = []

    def slow_double(n: int) -> int:
        time.sleep(per_record_s)
        done.append(time.monotonic())
        return 2 * n

    async def scenario() -> tuple[list[int], int]:
        under_test = TaskUnderTest(deployment(
            [MapSpec(name="slow", uid="slow", function=slow_double)], output=True,
            configuration={"execution.buffer-timeout": "50"}))
        runner = await under_test.start()
        await under_test.inputs[0].send(list(range(100)))  # one second of work
        first = await next_output(under_test)
        processed_by_then = len(done)
        rest = []
        while len(first) + len(rest) < 100:
            rest.extend(await next_output(under_test))
        await under_test.inputs[0].send(END_OF_PARTITION)
        await runner
        return first + rest, processed_by_then

    records, processed_by_then = run(scenario(), limit_s=10)
    assert records == [2 * n for n in range(100)]  # in order, nothing lost
    # The first slice went on while most of the batch was still to do; with 50 ms slices of
    # 10 ms records, it held about FIRST_SLICE records, not the whole batch.
    assert processed_by_then <= FIRST_SLICE + 10, processed_by_then


def test_the_slicer_keeps_whole_batches_for_a_fast_chain_and_cuts_for_a_slow_one():
    slicer = BatchSlicer(0.1)
    assert slicer.size == FIRST_SLICE  # nothing known yet
    slicer.observe(1000, 0.001)  # 1 µs a record
    assert slicer.size >= 100_000
    for _ in range(10):
        slicer.observe(50, 0.1)  # the chain became slow: 2 ms a record
    assert 45 <= slicer.size <= 55
    instant = BatchSlicer(0.1)
    instant.observe(10, 0.0)  # below the clock's resolution: no limit, and no division by 0
    assert instant.size == 1 << 30


@pytest.mark.parametrize("timeout_s", [0.0, -1.0])
def test_a_zero_timeout_still_slices_by_a_millisecond(timeout_s):
    slicer = BatchSlicer(timeout_s)
    slicer.observe(100, 100 * 0.00001)  # 10 µs a record
    assert slicer.size == int(MIN_BOUND_S / 0.00001)
