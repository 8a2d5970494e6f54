"""Failures of a job on RocksDB with incremental checkpoints.

A killed TaskManager, on file:// and on a real moto_server: the counting job of
tests/chaos/test_failover.py kills its TaskManager once a checkpoint with real state
completed; the job restores from a checkpoint whose state is a chain of shared SST files,
commits exactly the oracle's output, and every shared file its retained checkpoints
reference is still there. A killed JobManager: the one that recovers the job rebuilds the
shared files' reference counts from the retained checkpoints' ``_metadata``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.test_failover import run_failing_once
from tests.chaos.test_jobmanager_recovery import wait_for as wait_until
from tests.fixtures.cluster import RunningJobManager, start_jobmanager, stop_jobmanager
from tests.fixtures.counting_job import CountingJob, committed_file_lines
from tests.fixtures.faults import FailOnce, Fault
from tests.fixtures.processes import free_port
from tests.integration.test_incremental_checkpoints import (
    RETAINED,
    Storage,
    assert_every_needed_shared_file_is_there,
    incremental_environment,
    retained_and_shared,
    shared_paths,
    sharing_pairs,
    storage,
)
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

__all__ = ["storage"]  # the fixture, imported for pytest

pytestmark = pytest.mark.slow


def test_a_killed_taskmanager_restores_from_the_incremental_chain_exactly_once(
        cluster: RunningJobManager, storage: Storage, tmp_path: Path,
        request: pytest.FixtureRequest) -> None:
    job = CountingJob()
    plan = FailOnce(tmp_path / "failed", after_records=job.records // job.parallelism // 3,
                    fault=Fault.KILL_TASKMANAGER)
    # Every checkpoint retained, to look at the chain across the restore.
    env = incremental_environment(job, storage, retained=1000, fault=plan)
    details = run_failing_once(cluster, env, "incremental-kill", plan, request)
    assert storage.committed() == job.expected()
    completed, listed = retained_and_shared(storage, details.job_id)
    assert_every_needed_shared_file_is_there(completed, listed)
    restored = [m for m in completed if m.checkpoint_id == details.checkpoints.restored_id]
    assert restored and shared_paths(restored[0]), "not restored from an incremental checkpoint"
    assert sharing_pairs(completed) >= len(completed) // 2


def test_a_restarted_jobmanager_rebuilds_the_shared_file_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second JobManager knows which shared files the checkpoints it finds reference:
    when retention later removes them, their files go too, and none is left over."""
    args = ["--port", str(free_port()), "--taskmanagers", "2", "--slots", "2",
            "-D", f"high-availability.storageDir={(tmp_path / 'ha').as_uri()}"]
    storage = Storage((tmp_path / "chk").as_uri(), (tmp_path / "out").as_uri(), {},
                      lambda: committed_file_lines(tmp_path / "out"))
    job = CountingJob(records=16_000)
    first = start_jobmanager(tmp_path / "jobmanager-1.log", *args)
    try:
        monkeypatch.setenv("WEIR_JOBMANAGER", first.address)
        monkeypatch.setenv("WEIR_TOKEN", first.token)
        job_id = incremental_environment(job, storage).execute_async(
            "recovered-incremental").get_job_id()
        with JobManagerClient(first.address, first.token) as client:
            wait_until(client, job_id, lambda d: d.checkpoints.completed > RETAINED)
    finally:
        first.process.kill()
        first.process.wait()
    second = start_jobmanager(tmp_path / "jobmanager-2.log", *args)
    try:
        with JobManagerClient(second.address, second.token) as client:
            details = wait_until(client, job_id, lambda d: d.state == pb.FINISHED, 180)
    finally:
        stop_jobmanager(second)
    assert details.checkpoints.restored_id > RETAINED
    assert storage.committed() == job.expected()
    completed, listed = retained_and_shared(storage, job_id)
    assert_every_needed_shared_file_is_there(completed, listed)
    assert listed == set().union(*map(shared_paths, completed)), "orphaned shared files"
