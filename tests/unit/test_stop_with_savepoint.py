"""Stop-with-savepoint in the CheckpointCoordinator, on a manual clock: no periodic
checkpoint follows the savepoint (its commit would publish output the savepoint does not
cover, duplicated when the job resumes); when the savepoint fails, checkpoints go on."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.unit.checkpoint_doubles import MemoryCheckpointStore
from weir.checkpoint import CheckpointSettings
from weir.jobmanager.checkpoint_coordinator import CheckpointCoordinator
from weir.proto import jobmanager_pb2 as pb

TASK = ("source", 0)


@dataclass
class Timer:
    due: float
    callback: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class ManualScheduler:
    now: float = 0.0
    timers: list[Timer] = field(default_factory=list)

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.now + delay_s, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for timer in sorted(self.timers, key=lambda t: t.due):
            if timer.due <= self.now and not timer.cancelled:
                timer.cancelled = True
                timer.callback()


@dataclass
class RecordingGateway:
    triggered: list[int] = field(default_factory=list)
    committed: list[int] = field(default_factory=list)

    async def trigger(self, tasks: list[tuple[str, int]], checkpoint_id: int, timestamp_ms: int,
                      target_uri: str, shared_uri: str, base_checkpoint_id: int) -> None:
        self.triggered.append(checkpoint_id)

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        self.committed.append(checkpoint_id)

    async def notify_aborted(self, checkpoint_id: int) -> None:
        pass


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def running_coordinator() -> tuple[CheckpointCoordinator, ManualScheduler,
                                         RecordingGateway]:
    """Checkpoints every 300 ms; checkpoint 1 completed."""
    scheduler, gateway = ManualScheduler(), RecordingGateway()
    coordinator = CheckpointCoordinator(
        "job", CheckpointSettings(interval_ms=300), MemoryCheckpointStore(), gateway,
        on_failure=lambda cause: None, scheduler=scheduler, clock=lambda: scheduler.now)
    coordinator.start([TASK], [TASK], {"source": 1})
    scheduler.advance(0.3)
    await settle()
    coordinator.acknowledge(TASK, 1, None)
    await settle()
    assert gateway.triggered == gateway.committed == [1]
    return coordinator, scheduler, gateway


def test_no_periodic_checkpoint_follows_a_stop_with_savepoint() -> None:
    async def scenario() -> None:
        coordinator, scheduler, gateway = await running_coordinator()
        savepoint = coordinator.trigger(savepoint_uri="memory:///sp", stop_job=True)
        scheduler.advance(1.0)  # three intervals pass while the savepoint is pending
        await settle()
        assert gateway.triggered == [1, 2]

        coordinator.acknowledge(TASK, 2, None)
        await settle()
        assert await savepoint == "memory:///sp"
        scheduler.advance(1.0)
        await settle()
        assert gateway.triggered == [1, 2]
        assert gateway.committed == [1, 2]  # stop-with-savepoint commits the sinks

    asyncio.run(scenario())


def test_checkpoints_go_on_when_the_stop_with_savepoint_fails() -> None:
    async def scenario() -> None:
        coordinator, scheduler, gateway = await running_coordinator()
        savepoint = coordinator.trigger(savepoint_uri="memory:///sp", stop_job=True)
        await settle()
        coordinator.decline(TASK, 2, "the task could not snapshot")
        scheduler.advance(0.3)
        await settle()

        assert savepoint.exception() is not None
        assert gateway.triggered == [1, 2, 3]
        assert [c.status for c in coordinator.list_checkpoints()] == [
            pb.COMPLETED, pb.CHECKPOINT_FAILED, pb.IN_PROGRESS]

    asyncio.run(scenario())
