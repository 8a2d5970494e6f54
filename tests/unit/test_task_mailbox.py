"""A StreamTask's mailbox loop on its own: typed control messages and cancellation.

The task reads one in-process input channel and reports to a gateway that records what it
hears; no Ray, no JobManager, no sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import cloudpickle
import pytest

import weir.datastream  # noqa: F401 - imported before the graph specs (import order of weir)
from weir.graph.deployment import InputEdge, TaskDeployment
from weir.graph.operators import MapSpec
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.mailbox import (
    NotifyCheckpointAborted,
    NotifyCheckpointComplete,
    TriggerCheckpoint,
)
from weir.taskmanager.network.environment import LocalOutputChannel, NetworkEnvironment
from weir.taskmanager.network.events import END_OF_PARTITION, CheckpointBarrier
from weir.taskmanager.task import StreamTask

INPUT = InputEdge(producer_vertex_id="numbers", input_index=0, producer_subtasks=(0,))


def run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(5):  # a task that missed its cancellation never ends
            return await coroutine
    return asyncio.run(bounded())


class RecordingGateway:
    """Stands in for the JobManagerGateway: keeps what the task reports, in order."""

    def __init__(self) -> None:
        self.states: list[pb.ExecutionState] = []
        self.acknowledged: list[int] = []
        self.input_ended = False
        self._changed = asyncio.Event()

    async def update_task_state(self, deployment: TaskDeployment, state: pb.ExecutionState,
                                failure_cause: str = "", records_in: int = 0,
                                records_out: int = 0) -> None:
        self.states.append(state)
        self._changed.set()

    async def report_end_of_input(self, deployment: TaskDeployment, records_in: int,
                                  records_out: int) -> None:
        self.input_ended = True
        self._changed.set()

    async def acknowledge_checkpoint(self, ack: pb.AcknowledgeCheckpoint) -> None:
        self.acknowledged.append(ack.checkpoint_id)
        self._changed.set()

    async def until(self, condition: Any) -> None:
        while not condition():
            self._changed.clear()
            await self._changed.wait()


async def running_task(configuration: dict[str, str]
                       ) -> tuple[StreamTask, asyncio.Task[None], LocalOutputChannel,
                                  RecordingGateway]:
    """A map task parked in its idle wait, and the channel that feeds it."""
    deployment = TaskDeployment(
        job_id="job", attempt=0, vertex_id="double", vertex_name="double", subtask_index=0,
        parallelism=1, max_parallelism=128,
        operator_chain=cloudpickle.dumps([MapSpec(name="double", uid="double",
                                                  function=lambda n: 2 * n)]),
        is_source=False, inputs=(INPUT,), outputs=(),
        # no flush is due while the test runs: the task waits for input, not for a timeout
        configuration={"execution.buffer-timeout": "60000", **configuration})
    network = NetworkEnvironment()
    gateway = RecordingGateway()
    task = StreamTask(deployment, network, gateway, "taskmanager-0")  # type: ignore[arg-type]
    runner = asyncio.get_running_loop().create_task(task.run())
    channel = await network.open_output(deployment.channel_key(INPUT, 0), "127.0.0.1", 0,
                                        local=True)
    assert isinstance(channel, LocalOutputChannel)
    await gateway.until(lambda: pb.TASK_RUNNING in gateway.states)
    return task, runner, channel, gateway


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
