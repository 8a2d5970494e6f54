"""Incremental RocksDB checkpoints of a running job (real Ray, a real JobManager, file://
and a real moto_server): the keyed counting job checkpoints every 200 ms; its retained
checkpoints share SST files, retention leaves no orphaned shared file and deletes none a
retained checkpoint needs, and the committed output is exactly the oracle's. A savepoint of
such a job is full and self-contained: it restores on the heap with the job's checkpoints
gone. The restore after a kill is in tests/chaos/test_incremental_failover.py."""

from __future__ import annotations

import asyncio
import collections
import itertools
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import (
    CountingJob,
    committed_file_lines,
    committed_s3_lines,
    wait_for,
)
from tests.fixtures.faults import FailOnce
from tests.fixtures.s3 import S3Bucket
from weir.checkpoint import CheckpointLocation, CheckpointMetadata, load_savepoint
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.state_backend import EmbeddedRocksDBStateBackend, HashMapStateBackend
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = pytest.mark.slow

RETAINED = 3


@dataclass(frozen=True)
class Storage:
    """Where a test job checkpoints and writes, and how its committed output is read."""

    checkpoints: str
    output: str
    configuration: dict[str, str]
    committed: Callable[[], collections.Counter[str]]


@pytest.fixture(params=["file", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "file":
        return Storage((tmp_path / "chk").as_uri(), (tmp_path / "out").as_uri(), {},
                       lambda: committed_file_lines(tmp_path / "out"))
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return Storage(bucket.uri("chk"), bucket.uri("out"), dict(bucket.configuration),
                   lambda: committed_s3_lines(bucket, "out"))


def incremental_environment(job: CountingJob, storage: Storage, retained: int = RETAINED,
                            fault: FailOnce | None = None) -> StreamExecutionEnvironment:
    """The counting job on RocksDB with incremental checkpoints, retaining ``retained``."""
    configuration = {**storage.configuration, "state.checkpoints.num-retained": str(retained)}
    env = job.environment(storage.output, storage.checkpoints, configuration,
                          interval_ms=200, fault=fault)
    env.set_state_backend(EmbeddedRocksDBStateBackend(enable_incremental_checkpointing=True))
    return env


def retained_and_shared(storage: Storage, job_id: str
                        ) -> tuple[list[CheckpointMetadata], set[str]]:
    """The job's completed checkpoints and the files in its shared directory."""
    location = CheckpointLocation(storage.checkpoints, job_id, storage.configuration)

    async def read() -> tuple[list[CheckpointMetadata], set[str]]:
        return await location.list_completed(), set(await location.list_shared())
    return asyncio.run(read())


def shared_paths(metadata: CheckpointMetadata) -> set[str]:
    return {handle.path for handle in metadata.shared_handles()}


def sharing_pairs(completed: list[CheckpointMetadata]) -> int:
    """How many consecutive checkpoints reference a common shared file. (Not every pair
    does: a RocksDB compaction rewrites a small state into new files.)"""
    return sum(bool(shared_paths(a) & shared_paths(b)) for a, b in itertools.pairwise(completed))


def assert_every_needed_shared_file_is_there(completed: list[CheckpointMetadata],
                                             listed: set[str]) -> None:
    needed = set().union(*map(shared_paths, completed))
    assert needed, "no checkpoint references shared files: they were not incremental"
    assert needed <= listed, f"missing shared files: {sorted(needed - listed)}"


def test_retained_incremental_checkpoints_share_files_and_leave_no_orphan(
        cluster: RunningJobManager, storage: Storage) -> None:
    job = CountingJob()
    env = incremental_environment(job, storage)
    client_job = env.execute_async("incremental")
    job_id = client_job.get_job_id()
    client_job.get_job_execution_result().result(timeout=180)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = client.get_job(job_id)
    assert details.state == pb.FINISHED, details.failure_cause
    assert details.checkpoints.completed > RETAINED
    assert storage.committed() == job.expected()
    completed, listed = retained_and_shared(storage, job_id)
    assert len(completed) == RETAINED
    assert_every_needed_shared_file_is_there(completed, listed)
    assert listed == set().union(*map(shared_paths, completed)), "orphaned shared files"
    assert sharing_pairs(completed) >= 1, "every checkpoint uploaded everything again"


def test_a_savepoint_of_an_incremental_job_is_self_contained_and_restores_on_the_heap(
        cluster: RunningJobManager, tmp_path: Path) -> None:
    storage = Storage((tmp_path / "chk").as_uri(), (tmp_path / "out").as_uri(), {},
                      lambda: committed_file_lines(tmp_path / "out"))
    job = CountingJob(rate=2_000)
    client_job = incremental_environment(job, storage).execute_async("incremental-savepoint")
    job_id = client_job.get_job_id()
    with JobManagerClient(cluster.address, cluster.token) as client:
        wait_for(lambda: any(c.status == pb.COMPLETED and not c.is_savepoint
                             for c in client.list_checkpoints(job_id)), 60, "a checkpoint")
        savepoint = client.trigger_savepoint(job_id, (tmp_path / "savepoints").as_uri(),
                                             stop=True)
    metadata = asyncio.run(load_savepoint(savepoint))
    assert metadata.operator_states and not metadata.shared_states
    shutil.rmtree(tmp_path / "chk")  # the job's checkpoints and shared files are gone

    resumed = job.environment(storage.output, (tmp_path / "chk-resumed").as_uri(),
                              {"execution.savepoint.path": savepoint})
    resumed.set_state_backend(HashMapStateBackend())
    client_job = resumed.execute_async("resumed-on-heap")
    client_job.get_job_execution_result().result(timeout=180)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = client.get_job(client_job.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert details.checkpoints.restored_path == savepoint
    assert storage.committed() == job.expected()
