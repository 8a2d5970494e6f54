"""The JobMaster's restart on a manual clock, with stand-ins for the TaskManagers and the slot
pool: it redeploys once every task of the failed attempt is terminal (woken by the last task
state; a TaskManager that has not stopped them within the cancellation timeout and its grace
is killed) and the restart delay has passed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.unit.checkpoint_doubles import MemoryCheckpointStore
from tests.unit.manual_clock import ManualScheduler
from weir.checkpoint import CheckpointSettings
from weir.config import TaskCancellation
from weir.graph.deployment import TaskDeployment, TaskManagerInfo
from weir.jobmanager.job_master import CANCELLATION_GRACE_S, JobMaster
from weir.jobmanager.job_status import IllegalTransitionError
from weir.jobmanager.restart_strategy import FixedDelayRestartStrategy
from weir.jobmanager.scheduler import SlotAssignment, assign_slots
from weir.jobmanager.subtasks import SubtaskStates
from weir.proto import jobmanager_pb2 as pb

RESTART_DELAY_S = 2.0
CANCELLATION_TIMEOUT_S = 20.0


def source_graph(parallelism: int) -> pb.JobGraph:
    graph = pb.JobGraph(name="job")
    graph.vertices.add(id="src", name="src", parallelism=parallelism, max_parallelism=128,
                       is_source=True)
    return graph


class FakeTaskManager:
    """Takes deployments and cancellations; the test reports the tasks' states."""

    def __init__(self) -> None:
        self.deployed: list[TaskDeployment] = []
        self.cancelled: list[tuple[str, int]] = []  # (job id, up to attempt)

    async def deploy_task(self, deployment: TaskDeployment) -> None:
        self.deployed.append(deployment)

    async def cancel_job(self, job_id: str, attempt: int) -> None:
        self.cancelled.append((job_id, attempt))

    def attempts(self) -> list[int]:
        return [d.attempt for d in self.deployed]


@dataclass
class SlotPool:
    gateways: dict[str, Any] = field(default_factory=lambda: {"tm-0": FakeTaskManager()})
    killed: list[str] = field(default_factory=list)

    def allocate(self, graph: pb.JobGraph) -> tuple[SlotAssignment, dict[str, TaskManagerInfo]]:
        return (assign_slots(graph, {"tm-0": 4}),
                {"tm-0": TaskManagerInfo("tm-0", "127.0.0.1", 0, 4)})

    def release(self, assignment: SlotAssignment) -> None:
        pass

    async def wait_for_slots(self, graph: pb.JobGraph, timeout_s: float) -> None:
        pass

    def kill_taskmanager(self, name: str) -> None:
        self.killed.append(name)


async def running_job(scheduler: ManualScheduler) -> tuple[JobMaster, SlotPool]:
    """Two source subtasks RUNNING in attempt 0 on tm-0; one restart allowed."""
    graph, pool = source_graph(2), SlotPool()
    master = JobMaster("job", graph, pool, {}, CheckpointSettings(), MemoryCheckpointStore(),
                       FixedDelayRestartStrategy(1, int(RESTART_DELAY_S * 1000)),
                       on_terminal=lambda master: None, scheduler=scheduler,
                       clock=lambda: scheduler.now, wall_clock=lambda: 1_700_000_000.0,
                       cancellation=TaskCancellation(CANCELLATION_TIMEOUT_S))
    await master.start(*pool.allocate(graph))
    for subtask in (0, 1):
        report(master, subtask, pb.TASK_RUNNING)
    return master, pool


def report(master: JobMaster, subtask: int, state: int, attempt: int = 0) -> None:
    master.update_task(pb.TaskExecutionStateUpdate(
        task=pb.TaskId(job_id="job", attempt=attempt, vertex_id="src", subtask=subtask),
        state=state, failure_cause="boom" if state == pb.TASK_FAILED else ""))


def test_the_restart_waits_for_the_last_task_state_then_for_the_delay() -> None:
    async def scenario() -> None:
        scheduler = ManualScheduler()
        master, pool = await running_job(scheduler)
        taskmanager = pool.gateways["tm-0"]
        report(master, 0, pb.TASK_FAILED)
        assert master.state == pb.RESTARTING
        await scheduler.advance(RESTART_DELAY_S + 1)  # past the delay: subtask 1 is cancelling
        assert taskmanager.cancelled == [("job", 0)] and taskmanager.attempts() == [0, 0]

        report(master, 1, pb.TASK_CANCELED)  # long before the cancel timeout
        await scheduler.advance(RESTART_DELAY_S - 0.1)
        assert taskmanager.attempts() == [0, 0]  # the delay counts from the last state
        await scheduler.advance(0.1)
        assert taskmanager.attempts() == [0, 0, 1, 1]
        assert master.state == pb.RUNNING and master.attempt == 1
        assert pool.killed == []
    asyncio.run(scenario())


def test_a_taskmanager_that_never_stops_its_tasks_is_killed_after_the_cancellation_timeout(
        ) -> None:
    async def scenario() -> None:
        scheduler = ManualScheduler()
        master, pool = await running_job(scheduler)
        taskmanager = pool.gateways["tm-0"]
        report(master, 0, pb.TASK_FAILED)
        await scheduler.advance(CANCELLATION_TIMEOUT_S + CANCELLATION_GRACE_S - 0.1)
        assert pool.killed == [] and taskmanager.attempts() == [0, 0]
        await scheduler.advance(0.1)
        assert pool.killed == ["tm-0"]  # its tasks failed with it: the restart goes on
        await scheduler.advance(RESTART_DELAY_S)
        assert taskmanager.attempts() == [0, 0, 1, 1] and master.state == pb.RUNNING
        report(master, 1, pb.TASK_CANCELED, attempt=0)  # late, from the old attempt
        assert master.state == pb.RUNNING and pool.killed == ["tm-0"]
    asyncio.run(scenario())


def test_a_cancelled_job_ends_once_the_killed_taskmanager_took_its_tasks_along() -> None:
    async def scenario() -> None:
        scheduler = ManualScheduler()
        master, pool = await running_job(scheduler)
        master.cancel()
        await scheduler.advance(0)
        assert pool.gateways["tm-0"].cancelled == [("job", 0)]
        report(master, 0, pb.TASK_CANCELED)
        await scheduler.advance(CANCELLATION_TIMEOUT_S + CANCELLATION_GRACE_S - 0.1)
        assert pool.killed == [] and master.state == pb.CANCELING
        await scheduler.advance(0.1)
        assert pool.killed == ["tm-0"] and master.state == pb.CANCELED
    asyncio.run(scenario())


def test_subtask_states_follow_the_task_lifecycle_and_signal_when_all_are_terminal() -> None:
    async def scenario() -> None:
        scheduler = ManualScheduler()
        states = SubtaskStates()
        states.reset({("src", 0): "tm-0", ("src", 1): "tm-1"})
        waiting = asyncio.ensure_future(states.wait_all_terminal(10.0, scheduler))
        assert states.update(("src", 0), pb.TASK_FINISHED) is not None
        with pytest.raises(IllegalTransitionError):
            states.update(("src", 1), pb.TASK_CREATED)
        assert states.update(("src", 0), pb.TASK_FAILED) is None  # late: already terminal
        assert states.update(("other", 0), pb.TASK_RUNNING) is None
        await scheduler.advance(0)
        assert not waiting.done() and not states.all_terminal

        assert states.mark_lost("tm-1")
        await scheduler.advance(0)
        assert waiting.done() and await waiting
        assert states.all_terminal and not states.all_finished
        assert states.live_taskmanagers() == set()

        states.reset({("src", 0): "tm-0"})  # the next attempt
        waiting = asyncio.ensure_future(states.wait_all_terminal(10.0, scheduler))
        await scheduler.advance(10.0)
        assert waiting.done() and not waiting.result()  # timed out on the manual clock
    asyncio.run(scenario())
