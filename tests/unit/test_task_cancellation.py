"""Cancelled tasks stop, wherever they wait: for credit under backpressure, for a barrier that
one input never delivers, in a sink's write; a cancellation that user code swallowed is
repeated; a task deployed after its attempt was cancelled never runs; the watchdog's
decision to end the TaskManager, on a manual clock; and the options that bound it all.

Each task is a real StreamTask on in-process channels (tests/unit/stream_tasks.py).
"""

from __future__ import annotations

import asyncio
import queue

import pytest

from tests.unit.stream_tasks import RecordingGateway, TaskUnderTest, deployment, run
from weir.config import ConfigError, TaskCancellation
from weir.graph.deployment import DeployedTask
from weir.graph.operators import CollectSinkSpec
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager.cancellation import (
    TaskCancelerWatchdog,
    WatchdogVerdict,
    cancel_until_stopped,
    judge,
)
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import CheckpointBarrier
from weir.taskmanager.task_table import TaskTable

STOP_WITHIN_S = 1.0  # from the cancel until the task reported CANCELED
INTERVAL_S = 30.0  # task.cancellation.interval: no second cancel needed unless said


async def cancel_within_bound(runner: asyncio.Task[None], interval_s: float = INTERVAL_S
                              ) -> None:
    async with asyncio.timeout(STOP_WITHIN_S):
        await cancel_until_stopped([runner], interval_s)


def test_a_task_waiting_for_credit_under_backpressure_stops_when_cancelled() -> None:
    async def scenario() -> tuple[int, list[pb.ExecutionState]]:
        # One credit per channel, one record per buffer: the second buffer waits for the
        # credit that the consumer, which never polls, never returns.
        under_test = TaskUnderTest(
            deployment(output=True, configuration={"taskmanager.network.buffer-records": "1"}),
            NetworkEnvironment(initial_credits=1))
        runner = await under_test.start()
        await under_test.inputs[0].send([1, 2])
        await under_test.output_arrived.wait()  # [2] went out; [4] waits for credit
        await cancel_within_bound(runner)
        return under_test.output.queued, under_test.gateway.states

    assert run(scenario()) == (1, [pb.TASK_RUNNING, pb.TASK_CANCELED])


def test_a_task_aligning_barriers_stops_when_cancelled() -> None:
    async def scenario() -> tuple[int, object, list[pb.ExecutionState]]:
        under_test = TaskUnderTest(deployment(
            channels=2, output=True,
            configuration={"execution.checkpointing.interval": "1 s",
                           "taskmanager.network.buffer-records": "1"}))
        runner = await under_test.start()
        first, second = under_test.inputs
        await first.send(CheckpointBarrier(1, 0, "file:///unused"))  # never on `second`
        await first.send([7])  # held back until the barrier arrived on every channel
        await second.send([8])
        await under_test.output_arrived.wait()
        await cancel_within_bound(runner)
        output = under_test.output
        return output.queued, output.poll(), under_test.gateway.states

    # Only the record of the channel without a barrier went through.
    assert run(scenario()) == (1, (0, [16]), [pb.TASK_RUNNING, pb.TASK_CANCELED])


class StalledOutputGateway(RecordingGateway):
    """A JobManager that never answers a task's output report (as a slow sink's store that
    never acknowledges a write); ``swallow`` cancellations of the wait are ignored, as user
    code that catches ``CancelledError`` would."""

    def __init__(self, swallow: int = 0) -> None:
        super().__init__()
        self.writing = asyncio.Event()
        self.cancellations = 0
        self._swallow = swallow

    async def report_output(self, output: pb.TaskOutput) -> None:
        self.writing.set()
        while True:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancellations += 1
                if self.cancellations > self._swallow:
                    raise


async def stalled_sink_task(gateway: StalledOutputGateway) -> asyncio.Task[None]:
    """A collect sink task inside its write: its 1000th record sends the batch to the
    JobManager, which never answers."""
    under_test = TaskUnderTest(deployment([CollectSinkSpec(name="collect", uid="collect")]),
                               gateway=gateway)
    runner = await under_test.start()
    await under_test.inputs[0].send(list(range(1000)))
    await gateway.writing.wait()
    return runner


def test_a_task_inside_a_slow_sink_write_stops_when_cancelled() -> None:
    async def scenario() -> tuple[int, list[pb.ExecutionState]]:
        gateway = StalledOutputGateway()
        runner = await stalled_sink_task(gateway)
        await cancel_within_bound(runner)
        return gateway.cancellations, gateway.states

    assert run(scenario()) == (1, [pb.TASK_RUNNING, pb.TASK_CANCELED])


def test_a_swallowed_cancellation_is_repeated_every_interval() -> None:
    async def scenario() -> tuple[int, list[pb.ExecutionState]]:
        gateway = StalledOutputGateway(swallow=1)
        runner = await stalled_sink_task(gateway)
        await cancel_within_bound(runner, interval_s=0.1)
        return gateway.cancellations, gateway.states

    assert run(scenario()) == (2, [pb.TASK_RUNNING, pb.TASK_CANCELED])


def test_the_table_lists_cancelling_tasks_and_never_runs_a_task_of_a_cancelled_attempt(
        ) -> None:
    async def scenario() -> None:
        gateway = StalledOutputGateway()
        table = TaskTable(gateway)  # type: ignore[arg-type]
        stalled = TaskUnderTest(deployment([CollectSinkSpec(name="collect", uid="collect")]),
                                gateway=gateway)
        table.start(stalled.task)
        await stalled.open_inputs()
        await gateway.until(lambda: gateway.states == [pb.TASK_RUNNING])
        await stalled.inputs[0].send(list(range(1000)))
        await gateway.writing.wait()
        assert table.listing() == [DeployedTask("job", 0, "double", 0, pb.TASK_RUNNING)]

        cancelling = asyncio.ensure_future(table.cancel("job", 0, INTERVAL_S))
        await asyncio.sleep(0)  # the cancel is under way, the task not yet stopped
        assert table.listing() == [DeployedTask("job", 0, "double", 0, pb.TASK_CANCELING)]
        async with asyncio.timeout(STOP_WITHIN_S):
            await cancelling
        assert table.listing() == []

        # Deployed after its attempt was cancelled (the calls overtook each other): it
        # never runs, and is reported CANCELED all the same.
        table.start(TaskUnderTest(deployment(attempt=0), gateway=gateway).task)
        await gateway.until(lambda: len(gateway.states) == 3)
        assert gateway.states == [pb.TASK_RUNNING, pb.TASK_CANCELED, pb.TASK_CANCELED]
        assert table.listing() == []

        table.start(TaskUnderTest(deployment(attempt=1), gateway=gateway).task)
        await gateway.until(lambda: len(gateway.states) == 4)
        assert gateway.states[3] == pb.TASK_RUNNING
        assert table.listing() == [DeployedTask("job", 1, "double", 0, pb.TASK_RUNNING)]
        table.cancel_all()

    run(scenario())


def test_the_watchdog_decides_on_a_manual_clock() -> None:
    deadlines = {0: (10.0, "cancelling a"), 1: (12.5, "cancelling b")}
    assert judge({}, 0.0) == WatchdogVerdict((), None)
    assert judge(deadlines, 9.9) == WatchdogVerdict((), 10.0)
    assert judge(deadlines, 10.0) == WatchdogVerdict(("cancelling a",), 10.0)
    assert judge(deadlines, 13.0) == WatchdogVerdict(("cancelling a", "cancelling b"), 10.0)


def test_the_watchdog_reports_only_the_cancellation_that_outlived_its_timeout() -> None:
    overdue: queue.Queue[str] = queue.Queue()
    watchdog = TaskCancelerWatchdog(on_overdue=overdue.put)
    with watchdog.watch("a quick cancel", 60.0):
        pass
    with watchdog.watch("a cancel without timeout", None):
        pass
    with watchdog.watch("a stuck cancel", 0.05):
        reason = overdue.get(timeout=5)  # the watchdog's thread reports while it is stuck
    assert reason == "task cancellation timed out: a stuck cancel did not complete within 0.05 s"
    assert overdue.empty()


def test_the_cancellation_options_are_flinks() -> None:
    assert TaskCancellation.from_configuration({}) == TaskCancellation(180.0, 30.0)
    assert TaskCancellation.from_configuration(
        {"task.cancellation.timeout": "2 s", "task.cancellation.interval": "500"}
    ) == TaskCancellation(2.0, 0.5)
    assert TaskCancellation.from_configuration(
        {"task.cancellation.timeout": "0"}).timeout_s is None  # the watchdog is off
    with pytest.raises(ConfigError, match="task.cancellation.interval"):
        TaskCancellation.from_configuration({"task.cancellation.interval": "0 s"})
    with pytest.raises(ConfigError, match="task.cancellation.timeout"):
        TaskCancellation.from_configuration({"task.cancellation.timeout": "soon"})
