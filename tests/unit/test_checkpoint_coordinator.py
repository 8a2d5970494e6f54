"""The CheckpointCoordinator on a manual clock, with a real file:// checkpoint store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from weir.checkpoint import CheckpointSettings
from weir.jobmanager.checkpoint_coordinator import CheckpointCoordinator
from weir.jobmanager.checkpoint_store import JobCheckpointStore
from weir.proto import jobmanager_pb2 as pb

TASKS = [("src", 0), ("src", 1), ("sink", 0)]
SOURCES = [("src", 0), ("src", 1)]


class ManualScheduler:
    """Runs delayed callbacks only when the test advances time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._due: list[tuple[float, int, object]] = []
        self._cancelled: set[int] = set()
        self._next = 0

    def call_later(self, delay_s: float, callback):
        handle = self._next
        self._next += 1
        self._due.append((self.now + delay_s, handle, callback))
        scheduler = self

        class Handle:
            def cancel(self) -> None:
                scheduler._cancelled.add(handle)

        return Handle()

    async def advance(self, seconds: float) -> None:
        self.now += seconds
        while True:
            ready = sorted(d for d in self._due if d[0] <= self.now and d[1] not in self._cancelled)
            if not ready:
                break
            self._due.remove(ready[0])
            ready[0][2]()
            await asyncio.sleep(0)
        for _ in range(20):  # let spawned I/O (metadata writes) finish
            await asyncio.sleep(0.01)


@dataclass
class RecordingGateway:
    """Stands in for the Ray calls to TaskManagers: records what the coordinator sends."""

    triggers: list[tuple[int, list]] = field(default_factory=list)
    completed: list[tuple[int, bool]] = field(default_factory=list)
    aborted: list[int] = field(default_factory=list)

    async def trigger(self, tasks, checkpoint_id, timestamp_ms, target_uri):
        self.triggers.append((checkpoint_id, sorted(tasks)))

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        self.completed.append((checkpoint_id, final))

    async def notify_aborted(self, checkpoint_id: int) -> None:
        self.aborted.append(checkpoint_id)


def coordinator(tmp_path, **settings) -> tuple[CheckpointCoordinator, RecordingGateway,
                                               ManualScheduler, list[str]]:
    config = CheckpointSettings(interval_ms=1000, timeout_ms=5000, dir=tmp_path.as_uri(),
                                **settings)
    gateway = RecordingGateway()
    scheduler = ManualScheduler()
    failures: list[str] = []
    coord = CheckpointCoordinator("job", config, JobCheckpointStore(config, "job", {}), gateway,
                                  failures.append, scheduler, clock=lambda: scheduler.now,
                                  wall_clock=lambda: 1_700_000_000 + scheduler.now)
    coord.start(TASKS, SOURCES, {"src": 2, "sink": 1})
    return coord, gateway, scheduler, failures


def ack_all(coord: CheckpointCoordinator, checkpoint_id: int) -> None:
    for task in TASKS:
        coord.acknowledge(task, checkpoint_id, pb.StateHandle(), [])


def test_checkpoints_trigger_at_the_interval_and_complete_with_metadata(tmp_path):
    async def scenario() -> None:
        coord, gateway, scheduler, _ = coordinator(tmp_path)
        await scheduler.advance(0.9)
        assert gateway.triggers == []
        await scheduler.advance(0.1)
        assert gateway.triggers == [(1, SOURCES)]  # only sources get the trigger
        ack_all(coord, 1)
        await scheduler.advance(0)
        assert gateway.completed == [(1, False)]
        assert (tmp_path / "job" / "chk-1" / "_metadata").exists()
        await scheduler.advance(1.0)
        ack_all(coord, 2)
        await scheduler.advance(0)
        assert not (tmp_path / "job" / "chk-1").exists()  # num-retained 1
        assert coord.counts(0).latest_completed_id == 2
    asyncio.run(scenario())


def test_an_unacknowledged_checkpoint_expires_and_too_many_failures_fail_the_job(tmp_path):
    async def scenario() -> None:
        coord, gateway, scheduler, failures = coordinator(tmp_path, tolerable_failures=1)
        await scheduler.advance(1.0)
        coord.acknowledge(("src", 0), 1, None, [])
        await scheduler.advance(5.0)  # timeout
        assert gateway.aborted == [1] and failures == []
        assert not (tmp_path / "job" / "chk-1").exists()
        await scheduler.advance(1.0)
        coord.decline(("sink", 0), 2, "disk full")
        await scheduler.advance(0)
        assert 2 in gateway.aborted
        assert failures and "tolerable failure threshold" in failures[0]
        assert "disk full" in failures[0]
    asyncio.run(scenario())


def test_tasks_whose_input_ended_are_triggered_directly_and_end_with_a_final_checkpoint(
        tmp_path):
    async def scenario() -> None:
        coord, gateway, scheduler, _ = coordinator(tmp_path)
        for task in TASKS:
            coord.task_input_ended(task)
        await scheduler.advance(0)
        checkpoint_id, targets = gateway.triggers[-1]
        assert targets == sorted(TASKS)  # every task snapshots directly
        ack_all(coord, checkpoint_id)
        await scheduler.advance(0)
        assert gateway.completed == [(checkpoint_id, True)]  # final: tasks may finish
    asyncio.run(scenario())


def test_a_checkpoint_triggered_before_the_input_ended_is_not_final(tmp_path):
    """The sink acknowledged checkpoint 1 in band, then ended its input (rolling its last
    parts): checkpoint 1 completing afterwards must not let the tasks finish, or those
    parts would never be committed; a final checkpoint follows at once."""
    async def scenario() -> None:
        coord, gateway, scheduler, _ = coordinator(tmp_path)
        await scheduler.advance(1.0)
        ack_all(coord, 1)
        for task in TASKS:
            coord.task_input_ended(task)
        await scheduler.advance(0)
        assert gateway.completed == [(1, False)]
        await scheduler.advance(0)  # the final checkpoint is due at once
        final_id, targets = gateway.triggers[-1]
        assert final_id == 2 and targets == sorted(TASKS)
        ack_all(coord, final_id)
        await scheduler.advance(0)
        assert gateway.completed == [(1, False), (2, True)]
    asyncio.run(scenario())
