"""Barrier alignment in a running StreamTask: which input channels it holds back, and when.

The task doubles numbers from two in-process input channels; the test reads what it
sends on, records and barriers in order. No Ray, no JobManager, no sockets.
"""

from __future__ import annotations

from typing import Any

from tests.unit.stream_tasks import TaskUnderTest, deployment, run
from weir.taskmanager.network.events import CheckpointBarrier


def barrier(checkpoint_id: int) -> CheckpointBarrier:
    return CheckpointBarrier(checkpoint_id, 0, "file:///unused")  # a map task writes no state


async def sent_on(under_test: TaskUnderTest, items: int) -> list[Any]:
    """The next ``items`` records and barriers the task sent on, in order."""
    received: list[Any] = []
    while len(received) < items:
        polled = under_test.output.poll()
        if polled is None:
            under_test.output_arrived.clear()
            await under_test.output_arrived.wait()
        elif isinstance(polled[1], (list, CheckpointBarrier)):
            received.append(polled[1])
    return received


def test_a_newer_barrier_holds_its_channel_back_while_the_given_up_alignment_goes_on():
    """Barrier 6 reaches channel 1 while channel 0 is held for checkpoint 5 (a savepoint
    triggered while a periodic checkpoint was pending): 5 is given up and channel 0 goes
    on, but what follows barrier 6 on channel 1 waits for barrier 6 on channel 0. Had it
    gone on, checkpoint 6 would hold it in the task's state while the source's position in
    the same checkpoint still has it to come: a job restored from 6 saw it twice."""
    async def scenario() -> tuple[list[Any], list[int]]:
        under_test = TaskUnderTest(deployment(channels=2, output=True, configuration={
            "execution.checkpointing.interval": "1 h"}))
        runner = await under_test.start()
        first, second = under_test.inputs
        await first.send(barrier(5))
        await second.send(barrier(6))
        await second.send([100])  # after barrier 6
        await first.send([1])  # after barrier 5, before barrier 6
        before = await sent_on(under_test, 1)
        assert before == [[2]], "what follows barrier 6 went on before 6 was aligned"
        await first.send(barrier(6))
        after = await sent_on(under_test, 2)
        runner.cancel()
        return after, list(under_test.gateway.acknowledged)

    assert run(scenario()) == ([barrier(6), [200]], [6])
