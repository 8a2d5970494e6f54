"""Checkpoint storage faults: checkpoints and output on S3 across a TaskManager crash, an S3
outage during checkpoints (and under the storage alone), and corrupt or partial checkpoints
skipped on recovery.

Every job test runs the keyed counting job (tests/fixtures/counting_job.py) and checks the
committed output against the oracle exactly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import (
    CountingJob,
    committed_file_lines,
    committed_s3_lines,
    running_taskmanagers,
    wait_for,
    wait_for_restart,
)
from tests.fixtures.faults import FailOnce, Fault
from tests.fixtures.ray_cluster import RayDriver
from tests.fixtures.s3 import MotoServer, S3Bucket
from weir.checkpoint import CheckpointStorageError, storage_for
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = pytest.mark.slow


def test_checkpoints_and_output_on_s3_survive_a_killed_taskmanager(cluster: RunningJobManager,
                                                                    s3_bucket: S3Bucket,
                                                                    tmp_path: Path) -> None:
    job = CountingJob()
    plan = FailOnce(tmp_path / "failed", after_records=job.records // job.parallelism // 3,
                    fault=Fault.KILL_TASKMANAGER)
    env = job.environment(s3_bucket.uri("out"), s3_bucket.uri("chk"), s3_bucket.configuration,
                          fault=plan)
    client_job = env.execute_async("s3-failover")
    job_id = client_job.get_job_id()
    client_job.get_job_execution_result().result(timeout=180)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = client.get_job(job_id)
    assert details.state == pb.FINISHED and details.num_restarts == 1
    # Restored from S3, from the checkpoint the source saw complete or a later one.
    assert details.checkpoints.restored_id >= plan.struck.checkpoint_id > 0
    assert committed_s3_lines(s3_bucket, "out") == job.expected()
    latest = details.checkpoints.latest_completed_id
    s3_bucket.server.client().head_object(Bucket=s3_bucket.bucket,
                                          Key=f"chk/{job_id}/chk-{latest}/_metadata")


@pytest.fixture
def outage_s3(tmp_path: Path) -> Iterator[MotoServer]:
    """An S3 server of this test's own, so that stopping it loses no other test's buckets."""
    server = MotoServer(tmp_path / "moto_server.log").start()
    yield server
    server.stop()


def test_checkpoints_fail_while_s3_is_down_and_succeed_after(cluster: RunningJobManager,
                                                              outage_s3: MotoServer,
                                                              tmp_path: Path) -> None:
    bucket = outage_s3.create_bucket()
    job = CountingJob(records=24_000, rate=3_000)
    configuration = {**outage_s3.configuration,
                     "execution.checkpointing.timeout": "3 s",
                     "execution.checkpointing.tolerable-failed-checkpoints": "1000",
                     "restart-strategy.type": "none"}  # a restart would fail the test
    env = job.environment((tmp_path / "out").as_uri(), f"s3://{bucket}/chk", configuration)
    client_job = env.execute_async("s3-outage")
    job_id = client_job.get_job_id()
    with JobManagerClient(cluster.address, cluster.token) as client:
        def counts() -> pb.CheckpointCounts:
            details = client.get_job(job_id)
            assert details.state in (pb.CREATED, pb.RUNNING), details.failure_cause
            return details.checkpoints

        wait_for(lambda: counts().completed >= 1, 30, "a first checkpoint")
        outage_s3.stop()
        failed_before = counts().failed
        wait_for(lambda: counts().failed >= failed_before + 2, 20,
                 "checkpoints to fail while S3 is down")
        outage = [c for c in client.list_checkpoints(job_id)
                  if c.status == pb.CHECKPOINT_FAILED]
        outage_s3.start()
        outage_s3.create_bucket(bucket)  # moto comes back empty
        last_failed = max(c.id for c in outage)
        recovered = wait_for(lambda: counts().latest_completed_id > last_failed
                             and counts().latest_completed_id, 20,
                             "a checkpoint to succeed after S3 is back")
        client_job.get_job_execution_result().result(timeout=120)
        details = client.get_job(job_id)
    assert details.state == pb.FINISHED and details.num_restarts == 0
    assert all("S3" in c.failure_reason for c in outage), outage  # declined, not expired
    assert committed_file_lines(tmp_path / "out") == job.expected()
    latest = details.checkpoints.latest_completed_id
    assert latest >= recovered
    outage_s3.client().head_object(Bucket=bucket, Key=f"chk/{job_id}/chk-{latest}/_metadata")


def test_storage_works_again_after_the_s3_server_returns(outage_s3: MotoServer) -> None:
    bucket = outage_s3.create_bucket()

    async def scenario() -> None:
        storage = storage_for(f"s3://{bucket}/chk", outage_s3.configuration)
        await storage.write("before", b"1")
        outage_s3.stop()
        with pytest.raises(CheckpointStorageError, match="unreachable"):
            await storage.write("during", b"2")
        outage_s3.start()  # moto starts empty: the bucket must be created again
        outage_s3.create_bucket(bucket)
        await storage.write("after", b"3")
        assert await storage.list() == ["after"]
        await storage.close()

    asyncio.run(scenario())


def _complete_checkpoints(directory: Path) -> list[int]:
    return sorted(int(chk.name.removeprefix("chk-")) for chk in directory.glob("chk-*")
                  if (chk / "_metadata").is_file())


def _flip_a_byte(checkpoint: Path) -> None:
    """Damage the largest state file of the checkpoint (its size stays the same)."""
    state = max((f for f in checkpoint.iterdir() if f.name != "_metadata"),
                key=lambda f: f.stat().st_size)
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))


def _remove_metadata(checkpoint: Path) -> None:
    """Leave the checkpoint partial, as a crash before ``_metadata`` was written would."""
    (checkpoint / "_metadata").unlink()


@pytest.mark.parametrize("damage", [_flip_a_byte, _remove_metadata],
                         ids=["corrupt-state-file", "missing-metadata"])
def test_recovery_skips_a_damaged_checkpoint(cluster: RunningJobManager, ray_driver: RayDriver,
                                             tmp_path: Path, damage) -> None:
    job = CountingJob()
    checkpoints = tmp_path / "chk"
    env = job.environment((tmp_path / "out").as_uri(), checkpoints.as_uri(),
                          {"state.checkpoints.num-retained": "3"}, interval_ms=1000)
    client_job = env.execute_async("damaged-checkpoint")
    job_id = client_job.get_job_id()
    with JobManagerClient(cluster.address, cluster.token) as client:
        def second_or_later() -> int:
            latest = client.get_job(job_id).checkpoints.latest_completed_id
            return latest if latest >= 2 else 0

        newest = wait_for(second_or_later, 30, "two completed checkpoints")
        # The next checkpoint is due about a second after this one: damage it and crash a
        # TaskManager before then, so that recovery has to go back past it.
        complete = _complete_checkpoints(checkpoints / job_id)
        damage(checkpoints / job_id / f"chk-{newest}")
        ray_driver.kill(running_taskmanagers(client, job_id)[0])
        restarted = wait_for_restart(client, job_id, 1)
        client_job.get_job_execution_result().result(timeout=120)
        details = client.get_job(job_id)
    previous = max(i for i in complete if i < newest)
    assert restarted.checkpoints.restored_id == previous
    assert details.state == pb.FINISHED
    assert committed_file_lines(tmp_path / "out") == job.expected()
