"""A StreamTask's mailbox loop on its own: typed control messages and cancellation.

The task reads one in-process input channel and reports to a gateway that records what it
hears; no Ray, no JobManager, no sockets.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.stream_tasks import RecordingGateway, TaskUnderTest, deployment, run
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.mailbox import (
    NotifyCheckpointAborted,
    NotifyCheckpointComplete,
    TriggerCheckpoint,
)
from weir.taskmanager.network.environment import LocalOutputChannel
from weir.taskmanager.network.events import END_OF_PARTITION, CheckpointBarrier
from weir.taskmanager.task import StreamTask


async def running_task(configuration: dict[str, str]
                       ) -> tuple[StreamTask, asyncio.Task[None], LocalOutputChannel,
                                  RecordingGateway]:
    """A map task parked in its idle wait, and the channel that feeds it."""
    under_test = TaskUnderTest(deployment(configuration=configuration))
    runner = await under_test.start()
    return under_test.task, runner, under_test.inputs[0], under_test.gateway


@pytest.mark.parametrize("wake_up", ["records", "control message"])
def test_a_task_cancelled_as_it_wakes_up_stops(wake_up):
    # asyncio.wait_for (Python 3.11) returned the wake-up and dropped a cancellation that
    # arrived in the same loop iteration: the task ran on and cancel_job waited forever.
    async def scenario() -> list[pb.ExecutionState]:
        task, runner, channel, gateway = await running_task({})
        if wake_up == "records":
            await channel.send([1, 2])  # does not suspend: the channel holds credit
        else:
            task.post(NotifyCheckpointAborted(1))
        runner.cancel()
        # not `await runner`: the time limit would cancel the runner again and hide a miss
        await asyncio.wait([runner], timeout=2)
        return list(gateway.states)  # a copy: asyncio.run cancels a runner still running

    assert run(scenario()) == [pb.TASK_RUNNING, pb.TASK_CANCELED]


def test_a_task_whose_input_ended_checkpoints_on_trigger_and_finishes_on_the_final_checkpoint():
    async def scenario() -> tuple[list[int], list[pb.ExecutionState]]:
        task, runner, channel, gateway = await running_task(
            {"execution.checkpointing.interval": "1 s"})
        await channel.send(END_OF_PARTITION)
        await gateway.until(lambda: gateway.input_ended)
        task.post(TriggerCheckpoint(CheckpointBarrier(4, 0, "file:///unused")))
        await gateway.until(lambda: gateway.acknowledged)
        task.post(NotifyCheckpointComplete(3, final=False))
        task.post(NotifyCheckpointComplete(4, final=True))
        await runner
        return list(gateway.acknowledged), list(gateway.states)

    assert run(scenario()) == ([4], [pb.TASK_RUNNING, pb.TASK_FINISHED])
