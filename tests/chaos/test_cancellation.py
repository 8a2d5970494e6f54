"""Cancelled tasks stop within a bound, and no task of an attempt outlives it.

A job whose checkpoints fail (its sink stalls, so no barrier gets through) fails over ten
times in a row, each restart within the restart delay and 10 s, with no task of an earlier
attempt left on any TaskManager; cancelling a job stops its tasks where they wait
(for credit behind a stalled sink, in barrier alignment, inside a sink's write); and a task
stuck in a synchronous user call ends its TaskManager after ``task.cancellation.timeout``,
which the JobManager replaces. Stalls come from tests/fixtures/stalls.py; what each
TaskManager holds from its ``list_tasks`` (``RayDriver.taskmanager_tasks``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import wait_for, wait_for_restart
from tests.fixtures.ray_cluster import RayDriver
from tests.fixtures.stalls import BlockingMap, StallingSink, StallingSource, stalls
from weir.common import WatermarkStrategy
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.graph.deployment import DeployedTask
from weir.jobmanager.job_master import CANCELLATION_GRACE_S
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = pytest.mark.slow

FAILOVERS = 10
RESTART_DELAY_S = 1.0
RESTART_WITHIN_S = RESTART_DELAY_S + 10  # the delay, cancelling the attempt, deploying
STOP_WITHIN_S = 5.0  # from the cancel request until the job is CANCELED
NO_WATCHDOG = {"task.cancellation.timeout": "0"}  # nothing here may need it


def environment(parallelism: int, configuration: Mapping[str, str]
                ) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    for key, value in configuration.items():
        env.get_config().set_string(key, value)
    return env


def tasks_of(driver: RayDriver, job_id: str) -> list[DeployedTask]:
    """The tasks of the job that any live TaskManager holds."""
    return [task for tasks in driver.taskmanager_tasks().values() for task in tasks
            if task.job_id == job_id]


def wait_for_failover(client: JobManagerClient, job_id: str, failovers: int) -> float:
    """Wait until the job counts ``failovers`` restarts; when it was first seen to."""
    wait_for(lambda: client.get_job(job_id).num_restarts >= failovers, 30,
             f"failover {failovers}")
    return time.monotonic()


@contextmanager
def submitted(env: StreamExecutionEnvironment, name: str,
              client: JobManagerClient) -> Iterator[str]:
    """Submit the job; its id. A job still running at the end is cancelled, so that a
    failed test leaves no stalled job behind."""
    job_id = env.execute_async(name).get_job_id()
    try:
        yield job_id
    finally:
        if client.get_job(job_id).state in (pb.CREATED, pb.RUNNING, pb.RESTARTING):
            client.cancel_job(job_id)


def cancel_and_wait(client: JobManagerClient, job_id: str) -> float:
    """Cancel the job; the seconds until it was CANCELED."""
    started = time.monotonic()
    client.cancel_job(job_id)
    wait_for(lambda: client.get_job(job_id).state == pb.CANCELED, 60, "the job to be cancelled")
    return time.monotonic() - started


def test_checkpoint_failures_fail_over_ten_times_within_the_delay_leaving_no_task_behind(
        cluster: RunningJobManager, ray_driver: RayDriver, tmp_path: Path) -> None:
    env = environment(2, {"execution.checkpointing.timeout": "1 s",
                          "execution.checkpointing.tolerable-failed-checkpoints": "0",
                          "restart-strategy.type": "fixed-delay",
                          "restart-strategy.fixed-delay.attempts": str(FAILOVERS),
                          "restart-strategy.fixed-delay.delay": f"{RESTART_DELAY_S:g} s"})
    env.enable_checkpointing(200, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    # The sink of attempts 0..9 stalls on its first write, so checkpoint 1 expires and the
    # job fails over, while records trickle into the maps (idle between buffers, as the
    # abort of the checkpoint wakes them just before their cancel arrives). Attempt 10 runs
    # to the end.
    numbers = DataGeneratorSource(lambda i: i, count=1000,
                                  rate_limiter_strategy=RateLimiterStrategy.per_second(500))
    (env.from_source(numbers, WatermarkStrategy.no_watermarks(), "numbers")
        .rebalance().map(lambda n: n)
        .sink_to(StallingSink(tmp_path, stalled_writers=FAILOVERS)).set_parallelism(1))
    restart_took: list[float] = []
    left_behind: list[DeployedTask] = []
    with JobManagerClient(cluster.address, cluster.token) as client, \
            submitted(env, "checkpoint-failovers", client) as job_id:
        for restart in range(1, FAILOVERS + 1):
            failed_at = wait_for_failover(client, job_id, restart)
            details = wait_for_restart(client, job_id, restart)
            restart_took.append(time.monotonic() - failed_at)
            assert details.num_restarts == restart
            assert "CHECKPOINT_EXPIRED" in details.last_restart_cause
            # Attempt n is restart n: nothing of an earlier attempt may run any more.
            left_behind += [t for t in tasks_of(ray_driver, job_id) if t.attempt < restart]
        wait_for(lambda: client.get_job(job_id).state == pb.FINISHED, 60, "the job's end")
        details = client.get_job(job_id)
    assert details.state == pb.FINISHED and details.num_restarts == FAILOVERS
    assert stalls(tmp_path) == FAILOVERS
    assert left_behind == []
    assert max(restart_took) <= RESTART_WITHIN_S, restart_took
    # A finished task leaves its TaskManager right after its last report.
    wait_for(lambda: tasks_of(ray_driver, job_id) == [], 5, "the finished tasks to go")


def test_cancelling_tasks_that_wait_for_credit_behind_a_stalled_sink(
        cluster: RunningJobManager, ray_driver: RayDriver, tmp_path: Path) -> None:
    env = environment(2, NO_WATCHDOG)
    (env.from_source(NumberSequenceSource(0, 199_999), WatermarkStrategy.no_watermarks(),
                     "numbers")
        .sink_to(StallingSink(tmp_path, stalled_writers=1)).set_parallelism(1))
    with JobManagerClient(cluster.address, cluster.token) as client, \
            submitted(env, "cancel-backpressured", client) as job_id:
        wait_for(lambda: stalls(tmp_path) == 1, 30, "the sink to stall")

        def sources_after_a_heartbeat() -> list[pb.SubtaskDetails] | None:
            subtasks = list(client.get_job(job_id).vertices[0].subtasks)
            return subtasks if all(s.records_out for s in subtasks) else None

        sources = wait_for(sources_after_a_heartbeat, 30, "the sources' first heartbeat")
        # Unthrottled, 100,000 numbers per source take a fraction of a second: they wait.
        assert [s.state for s in sources] == [pb.TASK_RUNNING, pb.TASK_RUNNING]
        took = cancel_and_wait(client, job_id)
    assert took <= STOP_WITHIN_S
    assert tasks_of(ray_driver, job_id) == []


def test_cancelling_a_task_that_aligns_barriers_for_an_input_that_never_delivers_one(
        cluster: RunningJobManager, ray_driver: RayDriver, tmp_path: Path) -> None:
    env = environment(2, {**NO_WATCHDOG, "execution.checkpointing.timeout": "10 min"})
    env.enable_checkpointing(100, CheckpointingMode.EXACTLY_ONCE)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    # Source subtask 0 never returns from its first poll, so never emits barrier 1; the
    # sink blocks the channel from subtask 1 at barrier 1 and waits for the other.
    (env.from_source(StallingSource(tmp_path, stalled_subtask=0),
                     WatermarkStrategy.no_watermarks(), "numbers")
        .add_sink(lambda value: None).set_parallelism(1))
    with JobManagerClient(cluster.address, cluster.token) as client, \
            submitted(env, "cancel-aligning", client) as job_id:
        wait_for(lambda: stalls(tmp_path) == 1, 30, "source subtask 0 to stall")
        pending = wait_for(lambda: client.list_checkpoints(job_id), 30, "checkpoint 1")
        assert [(c.id, c.status) for c in pending] == [(1, pb.IN_PROGRESS)]
        took = cancel_and_wait(client, job_id)
    assert took <= STOP_WITHIN_S
    assert tasks_of(ray_driver, job_id) == []


def test_a_task_stuck_in_a_synchronous_call_ends_its_taskmanager_at_the_timeout(
        cluster: RunningJobManager, ray_driver: RayDriver, tmp_path: Path) -> None:
    timeout_s = 2.0
    env = environment(1, {"task.cancellation.timeout": f"{timeout_s:g} s"})
    (env.from_source(NumberSequenceSource(0, 999), WatermarkStrategy.no_watermarks(),
                     "numbers")
        .map(BlockingMap(tmp_path))
        .add_sink(lambda value: None))
    with JobManagerClient(cluster.address, cluster.token) as client, \
            submitted(env, "cancel-blocked", client) as job_id:
        wait_for(lambda: stalls(tmp_path) == 1, 30, "the map to block")
        stuck = client.get_job(job_id).vertices[0].subtasks[0].taskmanager
        took = cancel_and_wait(client, job_id)
    # Its own watchdog ended it, not the JobManager (which would after the grace).
    assert timeout_s <= took < timeout_s + CANCELLATION_GRACE_S

    def replaced() -> list[str] | None:
        names = sorted(ray_driver.taskmanager_tasks())
        return names if len(names) == 2 and stuck not in names else None

    wait_for(replaced, 60, "a replacement TaskManager")
    assert tasks_of(ray_driver, job_id) == []
