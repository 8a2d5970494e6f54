"""The CheckpointCoordinator on a manual clock, with a real file:// checkpoint store."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from tests.unit.manual_clock import ManualScheduler
from weir.checkpoint import CheckpointMetadata, CheckpointSettings
from weir.jobmanager.checkpoint_coordinator import CheckpointCoordinator
from weir.jobmanager.checkpoint_store import JobCheckpointStore
from weir.jobmanager.pending_checkpoint import CheckpointException, CheckpointFailureReason
from weir.proto import jobmanager_pb2 as pb

TASKS = [("src", 0), ("src", 1), ("sink", 0)]
SOURCES = [("src", 0), ("src", 1)]


@dataclass
class RecordingGateway:
    """Stands in for the Ray calls to TaskManagers: records what the coordinator sends."""

    triggers: list[tuple[int, list]] = field(default_factory=list)
    completed: list[tuple[int, bool]] = field(default_factory=list)
    aborted: list[int] = field(default_factory=list)
    trigger_error: Exception | None = None

    async def trigger(self, tasks, checkpoint_id, timestamp_ms, target_uri, shared_uri,
                      base_checkpoint_id):
        self.triggers.append((checkpoint_id, sorted(tasks)))
        if self.trigger_error is not None:
            raise self.trigger_error

    async def notify_complete(self, checkpoint_id: int, final: bool) -> None:
        self.completed.append((checkpoint_id, final))

    async def notify_aborted(self, checkpoint_id: int) -> None:
        self.aborted.append(checkpoint_id)


class MetadataFailingStore(JobCheckpointStore):
    """A store whose ``_metadata`` writes fail (a full disk, an unreachable bucket)."""

    async def write_metadata(self, target_uri: str, metadata: CheckpointMetadata) -> None:
        raise OSError("no space left on device")


def coordinator(tmp_path, store=JobCheckpointStore, gateway: RecordingGateway | None = None,
                **settings) -> tuple[CheckpointCoordinator, RecordingGateway, ManualScheduler,
                                     list[str]]:
    config = CheckpointSettings(interval_ms=1000, timeout_ms=5000, dir=tmp_path.as_uri(),
                                **settings)
    gateway = gateway or RecordingGateway()
    scheduler = ManualScheduler()
    failures: list[str] = []
    coord = CheckpointCoordinator("job", config, store(config, "job", {}), gateway,
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


def failures_reported(coord: CheckpointCoordinator) -> list[tuple[int, str]]:
    return [(info.id, info.failure_reason) for info in coord.list_checkpoints()
            if info.status == pb.CHECKPOINT_FAILED]


def test_aborted_checkpoints_report_their_reason_and_only_checkpoint_failures_count(tmp_path):
    async def scenario() -> None:
        coord, _, scheduler, failures = coordinator(tmp_path, tolerable_failures=5)
        await scheduler.advance(1.0)
        await scheduler.advance(5.0)  # checkpoint 1 expires, checkpoint 2 is due at once
        coord.decline(("sink", 0), 2, "disk full")
        await scheduler.advance(1.0)
        savepoint = coord.trigger(savepoint_uri=(tmp_path / "sp").as_uri())
        coord.stop(CheckpointFailureReason.JOB_CANCELLED)  # aborts checkpoint 3 and savepoint 4
        await scheduler.advance(0)
        assert failures_reported(coord) == [
            (1, "CHECKPOINT_EXPIRED: not completed within 5000 ms"),
            (2, "CHECKPOINT_DECLINED: sink#0: disk full"),
            (3, "JOB_CANCELLED: the job is cancelled"),
            (4, "JOB_CANCELLED: the job is cancelled")]
        error = savepoint.exception()
        assert isinstance(error, CheckpointException)
        assert error.failure.reason is CheckpointFailureReason.JOB_CANCELLED
        assert coord.consecutive_failures == 2 and failures == []
    asyncio.run(scenario())


def test_failing_to_trigger_or_to_write_the_metadata_aborts_with_its_reason(tmp_path):
    async def scenario() -> None:
        gateway = RecordingGateway(trigger_error=ConnectionError("taskmanager-1 is gone"))
        coord, _, scheduler, failures = coordinator(tmp_path / "a", gateway=gateway)
        await scheduler.advance(1.0)
        assert failures_reported(coord) == [
            (1, "TRIGGER_CHECKPOINT_FAILURE: taskmanager-1 is gone")]
        assert failures and "TRIGGER_CHECKPOINT_FAILURE" in failures[0]

        coord, _, scheduler, _ = coordinator(tmp_path / "b", store=MetadataFailingStore,
                                             tolerable_failures=1)
        await scheduler.advance(1.0)
        ack_all(coord, 1)
        await scheduler.advance(0)
        assert failures_reported(coord) == [
            (1, "FINALIZE_CHECKPOINT_FAILURE: no space left on device")]
    asyncio.run(scenario())


def test_a_completed_savepoint_subsumes_the_older_pending_checkpoints_but_not_savepoints(
        tmp_path):
    """Checkpoint 1 is pending when savepoint 3 completes (a task gave 1 up: the
    savepoint's barrier reached it first): 1 is aborted at once without counting as a
    failure, and the next periodic checkpoint follows at the interval, not after 1's
    timeout. Savepoint 2, older but a user's, stays pending."""
    async def scenario() -> None:
        coord, gateway, scheduler, failures = coordinator(tmp_path)
        await scheduler.advance(1.0)  # checkpoint 1
        older_savepoint = coord.trigger(savepoint_uri=(tmp_path / "sp-2").as_uri())
        savepoint = coord.trigger(savepoint_uri=(tmp_path / "sp-3").as_uri())
        await scheduler.advance(0)
        ack_all(coord, 3)
        await scheduler.advance(0)
        assert savepoint.result() == (tmp_path / "sp-3").as_uri()
        assert failures_reported(coord) == [
            (1, "CHECKPOINT_SUBSUMED: a later checkpoint or savepoint completed first")]
        assert gateway.aborted == [1] and coord.consecutive_failures == 0 and failures == []
        assert not older_savepoint.done()
        await scheduler.advance(1.0)
        assert gateway.triggers[-1][0] == 4
    asyncio.run(scenario())


class HeldTriggerGateway(RecordingGateway):
    """Checkpoint 1's trigger calls return only when ``release`` is set (a busy
    TaskManager)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def trigger(self, tasks, checkpoint_id, timestamp_ms, target_uri, shared_uri,
                      base_checkpoint_id):
        await super().trigger(tasks, checkpoint_id, timestamp_ms, target_uri, shared_uri,
                              base_checkpoint_id)
        if checkpoint_id == 1:
            await self.release.wait()


def test_a_checkpoints_triggers_go_out_after_the_previous_ones_were_delivered(tmp_path):
    """TaskManagers (async actors) run calls in no set order: had savepoint 2's trigger
    overtaken checkpoint 1's at a source, the source would give the other one up. So
    savepoint 2's triggers wait until checkpoint 1's calls returned."""
    async def scenario() -> None:
        gateway = HeldTriggerGateway()
        coord, _, scheduler, _ = coordinator(tmp_path, gateway=gateway)
        await scheduler.advance(1.0)  # checkpoint 1
        coord.trigger(savepoint_uri=(tmp_path / "sp").as_uri())
        await scheduler.advance(0)
        assert [checkpoint_id for checkpoint_id, _ in gateway.triggers] == [1]
        gateway.release.set()
        await scheduler.advance(0)
        assert [checkpoint_id for checkpoint_id, _ in gateway.triggers] == [1, 2]
    asyncio.run(scenario())


def test_a_new_attempt_does_not_wait_for_the_last_attempts_trigger_calls(tmp_path):
    """Checkpoint 1's trigger calls never return (a TaskManager that hangs); the job
    restarts: the new attempt's first checkpoint goes out at once."""
    async def scenario() -> None:
        gateway = HeldTriggerGateway()
        coord, _, scheduler, _ = coordinator(tmp_path, gateway=gateway)
        await scheduler.advance(1.0)  # checkpoint 1, held
        coord.stop(CheckpointFailureReason.TASK_FAILURE)
        coord.start(TASKS, SOURCES, {"src": 2, "sink": 1})
        await scheduler.advance(1.0)
        assert [checkpoint_id for checkpoint_id, _ in gateway.triggers] == [1, 2]
        gateway.release.set()
    asyncio.run(scenario())
