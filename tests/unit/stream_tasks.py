"""StreamTasks on their own, for unit tests: a task of vertex ``double`` reads in-process input
channels the test writes to, may write to a gate the test reads, and reports to a gateway
that records what it hears. No Ray, no JobManager, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import cloudpickle

import weir.datastream  # noqa: F401 - imported before the graph specs (import order of weir)
from weir.graph.deployment import InputEdge, OutputEdge, TaskDeployment
from weir.graph.operators import MapSpec, OperatorSpec
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.network.environment import LocalOutputChannel, NetworkEnvironment
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.task import StreamTask

__all__ = ["DOUBLE", "TASKMANAGER", "RecordingGateway", "TaskUnderTest", "deployment", "run"]

TASKMANAGER = "taskmanager-0"
DOUBLE: list[OperatorSpec] = [MapSpec(name="double", uid="double", function=lambda n: 2 * n)]


def run(coroutine: Coroutine[Any, Any, Any], limit_s: float = 5) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(limit_s):  # a task that missed its cancellation never ends
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

    async def until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._changed.clear()
            await self._changed.wait()


def deployment(specs: Sequence[OperatorSpec] = DOUBLE, *, channels: int = 1, attempt: int = 0,
               output: bool = False, configuration: dict[str, str] | None = None
               ) -> TaskDeployment:
    """Subtask 0 of ``double`` running ``specs``, reading ``channels`` input channels (one
    per producer subtask of ``numbers``), with one output to subtask 0 of ``sink`` (on this
    TaskManager) when ``output``. No buffer timeout passes while a test runs: the task waits
    for input, not for a flush."""
    outputs = (OutputEdge(consumer_vertex_id="sink", input_index=0, partitioner=pb.FORWARD,
                          key_selector=b"", consumer_parallelism=1, max_parallelism=128,
                          consumers=((0, TASKMANAGER, "127.0.0.1", 0),)),) if output else ()
    return TaskDeployment(
        job_id="job", attempt=attempt, vertex_id="double", vertex_name="double",
        subtask_index=0, parallelism=1, max_parallelism=128,
        operator_chain=cloudpickle.dumps(list(specs)), is_source=False,
        inputs=(InputEdge(producer_vertex_id="numbers", input_index=0,
                          producer_subtasks=tuple(range(channels))),),
        outputs=outputs,
        configuration={"execution.buffer-timeout": "60000", **(configuration or {})})


class TaskUnderTest:
    """A task of ``deployment`` on ``network``, reporting to ``gateway``; the test writes its
    input channels (``inputs``, after ``open_inputs``) and reads its output (``output``:
    the gate of ``sink``, which the test polls or not; ``output_arrived`` is set when a
    buffer arrives there)."""

    def __init__(self, deployment: TaskDeployment, network: NetworkEnvironment | None = None,
                 gateway: RecordingGateway | None = None) -> None:
        self.deployment = deployment
        self.network = network or NetworkEnvironment()
        self.gateway = gateway or RecordingGateway()
        self.task = StreamTask(deployment, self.network, self.gateway,  # type: ignore[arg-type]
                               TASKMANAGER)
        self.inputs: list[LocalOutputChannel] = []
        self.output_arrived = asyncio.Event()
        self.output = InputGate(1, self.output_arrived.set)
        if deployment.outputs:
            self.network.register_input(("job", deployment.attempt, "sink", 0, 0, 0),
                                        self.output, 0)

    async def open_inputs(self) -> None:
        edge = self.deployment.inputs[0]
        for producer in edge.producer_subtasks:
            channel = await self.network.open_output(
                self.deployment.channel_key(edge, producer), "127.0.0.1", 0, local=True)
            assert isinstance(channel, LocalOutputChannel)
            self.inputs.append(channel)

    async def start(self) -> asyncio.Task[None]:
        """Run the task until it is RUNNING and its inputs are open; its runner."""
        runner = asyncio.get_running_loop().create_task(self.task.run())
        await self.open_inputs()
        await self.gateway.until(lambda: pb.TASK_RUNNING in self.gateway.states)
        return runner
