"""Which shared files (incremental checkpoints) the JobManager keeps: the pure
SharedStateRegistry, then the CheckpointCoordinator on a manual clock with a real file://
store deleting them, and a recovering store rebuilding the registry from ``_metadata``."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from tests.unit.manual_clock import ManualScheduler
from tests.unit.test_checkpoint_coordinator import SOURCES, TASKS, RecordingGateway
from weir.checkpoint import CheckpointMetadata, CheckpointSettings, StateHandle
from weir.jobmanager.checkpoint_coordinator import CheckpointCoordinator
from weir.jobmanager.checkpoint_store import JobCheckpointStore
from weir.jobmanager.shared_state_registry import SharedStateRegistry
from weir.proto import jobmanager_pb2 as pb

# ----------------------------------------------------------------------------- registry


def test_a_file_goes_when_the_last_retained_checkpoint_that_references_it_goes() -> None:
    registry = SharedStateRegistry()
    assert registry.begin(1) == 0
    assert registry.acknowledge(1, ["a", "b"]) == []
    assert registry.complete(1, ["a", "b"]) == []
    assert registry.begin(2) == 1
    registry.acknowledge(2, ["a", "c"])
    assert registry.complete(2, ["a", "c"]) == []
    assert registry.subsume([1]) == ["b"]
    assert registry.subsume([2]) == ["a", "c"]


def test_a_pending_checkpoint_keeps_its_base_files_until_it_ends() -> None:
    """Checkpoint 2's tasks may reference checkpoint 1's files before they acknowledge:
    retention removing 1 while 2 is pending must not delete them."""
    registry = SharedStateRegistry()
    registry.begin(1)
    registry.complete(1, ["a", "b"])
    registry.begin(2)
    assert registry.subsume([1]) == []
    assert registry.complete(2, ["a"]) == ["b"]


def test_an_aborted_checkpoint_releases_what_it_uploaded_but_not_its_base() -> None:
    registry = SharedStateRegistry()
    registry.begin(1)
    registry.complete(1, ["a"])
    registry.begin(2)
    registry.acknowledge(2, ["a", "new"])
    assert registry.abort(2) == ["new"]
    assert registry.holds("a")


def test_a_late_acknowledgement_gives_back_what_nobody_holds() -> None:
    registry = SharedStateRegistry()
    registry.begin(1)
    registry.complete(1, ["a"])
    assert registry.acknowledge(7, ["a", "late"]) == ["late"]
    assert registry.holds("a") and not registry.holds("late")


# ---------------------------------------------------------------------------- coordinator


CONTENT = b"x"


def shared(*names: str) -> list[pb.StateHandle]:
    digest = hashlib.sha256(CONTENT).hexdigest()
    return [pb.StateHandle(path=name, size=len(CONTENT), sha256=digest) for name in names]


class SharedRecordingGateway(RecordingGateway):
    """Records each trigger's shared directory and base checkpoint too."""

    def __init__(self) -> None:
        super().__init__()
        self.bases: list[tuple[int, str, int]] = []

    async def trigger(self, tasks, checkpoint_id, timestamp_ms, target_uri, shared_uri,
                      base_checkpoint_id):
        self.bases.append((checkpoint_id, shared_uri, base_checkpoint_id))
        await super().trigger(tasks, checkpoint_id, timestamp_ms, target_uri, shared_uri,
                              base_checkpoint_id)


class Job:
    """A coordinator with a real file:// store; tasks "upload" shared files by writing them."""

    def __init__(self, tmp_path: Path, num_retained: int = 1) -> None:
        settings = CheckpointSettings(interval_ms=1000, timeout_ms=5000,
                                      dir=tmp_path.as_uri(), num_retained=num_retained)
        self.shared_dir = tmp_path / "job" / "shared"
        self.store = JobCheckpointStore(settings, "job", {})
        self.gateway = SharedRecordingGateway()
        self.scheduler = ManualScheduler()
        self.coordinator = CheckpointCoordinator(
            "job", settings, self.store, self.gateway, lambda cause: None, self.scheduler,
            clock=lambda: self.scheduler.now)
        self.coordinator.start(TASKS, SOURCES, {"src": 2, "sink": 1})

    def upload(self, *names: str) -> None:
        self.shared_dir.mkdir(parents=True, exist_ok=True)
        for name in names:
            (self.shared_dir / name).write_bytes(CONTENT)

    def files(self) -> set[str]:
        return {p.name for p in self.shared_dir.iterdir()} if self.shared_dir.exists() else set()

    def ack(self, checkpoint_id: int, task: tuple[str, int], *names: str) -> None:
        self.upload(*names)
        self.coordinator.acknowledge(task, checkpoint_id, pb.StateHandle(), [], shared(*names))

    async def checkpoint(self, checkpoint_id: int, **files: list[str]) -> None:
        """Trigger the next checkpoint and acknowledge it from every task, with the files
        ``files[task vertex]`` names for subtask 0 of that vertex."""
        await self.scheduler.advance(1.0)
        for task in TASKS:
            self.ack(checkpoint_id, task, *(files.get(task[0], []) if task[1] == 0 else []))
        await self.scheduler.advance(0)


def test_retention_deletes_exactly_the_files_no_retained_checkpoint_references(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        job = Job(tmp_path, num_retained=2)
        await job.checkpoint(1, src=["a", "b"])
        await job.checkpoint(2, src=["a", "c"])
        assert job.files() == {"a", "b", "c"}
        await job.checkpoint(3, src=["c", "d"])
        assert job.files() == {"a", "c", "d"}  # b was only in checkpoint 1
        metadata = await job.store.location.directory(3).read_metadata()
        assert [h.path for h in metadata.shared_states["src"][0]] == ["c", "d"]
        await job.checkpoint(4, src=["d"])
        assert job.files() == {"c", "d"}
    asyncio.run(scenario())


def test_the_trigger_names_the_shared_directory_and_the_newest_completed_checkpoint(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        job = Job(tmp_path)
        await job.checkpoint(1, src=["a"])
        await job.checkpoint(2, src=["a"])
        shared_uri = (tmp_path / "job" / "shared").as_uri()
        assert job.gateway.bases == [(1, shared_uri, 0), (2, shared_uri, 1)]
        job.coordinator.trigger(savepoint_uri=(tmp_path / "sp").as_uri())
        await job.scheduler.advance(0)
        assert job.gateway.bases[-1] == (3, "", 0)  # a savepoint is self-contained
    asyncio.run(scenario())


def test_an_aborted_checkpoints_new_files_and_late_acknowledgements_are_deleted(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        job = Job(tmp_path)
        await job.checkpoint(1, src=["a"])
        await job.scheduler.advance(1.0)
        job.ack(2, ("src", 0), "a", "new")
        job.coordinator.decline(("sink", 0), 2, "disk full")
        await job.scheduler.advance(0)
        assert job.files() == {"a"}
        job.ack(2, ("src", 1), "late")  # after the abort
        await job.scheduler.advance(0)
        assert job.files() == {"a"}
    asyncio.run(scenario())


def test_a_recovering_store_rebuilds_the_registry_and_deletes_orphans(tmp_path: Path) -> None:
    async def scenario() -> None:
        job = Job(tmp_path, num_retained=2)
        await job.checkpoint(1, src=["a", "b"])
        await job.checkpoint(2, src=["a", "c"])
        job.upload("left-by-a-pending-checkpoint")
        settings = CheckpointSettings(dir=tmp_path.as_uri(), num_retained=2)
        recovered = JobCheckpointStore(settings, "job", {})
        latest = await recovered.latest_completed()
        assert latest is not None and latest[0].checkpoint_id == 2
        assert job.files() == {"a", "b", "c"}
        assert recovered.shared_state.latest_completed == 2
        assert recovered.shared_state.subsume([1]) == ["b"]
    asyncio.run(scenario())


def test_a_checkpoint_with_a_missing_shared_file_is_not_restored_from(tmp_path: Path) -> None:
    async def scenario() -> None:
        job = Job(tmp_path, num_retained=2)
        await job.checkpoint(1, src=["a"])
        await job.checkpoint(2, src=["a", "c"])
        (job.shared_dir / "c").unlink()
        latest = await JobCheckpointStore(CheckpointSettings(dir=tmp_path.as_uri()), "job",
                                          {}).latest_completed()
        assert latest is not None and latest[0].checkpoint_id == 1
    asyncio.run(scenario())


def test_metadata_with_shared_state_round_trips_and_older_documents_still_verify() -> None:
    handle = StateHandle("x-000009.sst", 10, "0" * 64)
    metadata = CheckpointMetadata("job", 3, 0, 0, False,
                                  shared_states={"v": {0: [handle], 1: [handle]}})
    again = CheckpointMetadata.from_json(metadata.to_json())
    assert again == metadata
    assert list(again.shared_handles()) == [handle]
    assert again.size == 10
    assert b"shared_states" not in CheckpointMetadata("job", 1, 0, 0, False).to_json()
