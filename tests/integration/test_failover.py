"""Exactly-once after crashes: TaskManagers killed at random moments while a keyed
counting job checkpoints every 300 ms and writes through the exactly-once FileSink."""

from __future__ import annotations

import collections
import random
import time
from pathlib import Path

import pytest
from weir.common import WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import CheckpointingMode, StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

from tests.fixtures.ray_actors import kill_actor

KEYS = 40
RECORDS = 24_000
RATE = 4_000  # records/s over all source subtasks: the job runs about 6 s


def counting_job(output: str, mode: CheckpointingMode) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    env.enable_checkpointing(300, mode)
    env.get_checkpoint_config().set_checkpoint_storage_dir(output + "-checkpoints")
    (env.from_source(DataGeneratorSource(lambda i: i % KEYS, count=RECORDS,
                                         rate_limiter_strategy=RateLimiterStrategy.per_second(
                                             RATE)),
                     WatermarkStrategy.no_watermarks(), "events").uid("events")
        .map(lambda key: (key, 1)).uid("pairs")
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")
        .map(lambda pair: f"{pair[0]},{pair[1]}")
        .sink_to(FileSink.for_row_format(output, Encoder.simple_string_encoder()).build())
        .uid("files"))
    return env


def committed_lines(directory: Path) -> list[str]:
    """Every line of every visible (committed) part file; hidden files start with '.'."""
    lines = []
    for path in directory.rglob("*"):
        if path.is_file() and not any(part.startswith(".") for part in path.parts[-2:]):
            lines.extend(path.read_text().splitlines())
    return lines


def expected_lines() -> collections.Counter[str]:
    per_key = collections.Counter(i % KEYS for i in range(RECORDS))
    return collections.Counter(f"{key},{n}" for key, count in per_key.items()
                               for n in range(1, count + 1))


def kill_taskmanagers(client: JobManagerClient, ray_address: str, job_id: str, kills: int,
                      seed: int) -> None:
    """Kill a random TaskManager that runs subtasks of the job, ``kills`` times, each at a
    random moment after the job is back to RUNNING (so some kills hit checkpoints)."""
    rng = random.Random(seed)
    for kill in range(kills):
        time.sleep(rng.uniform(0.3, 1.0))
        details = client.get_job(job_id)
        hosts = sorted({s.taskmanager for v in details.vertices for s in v.subtasks
                        if s.state == pb.TASK_RUNNING})
        assert details.state == pb.RUNNING and hosts, f"the job ended before kill {kill}"
        kill_actor(ray_address, rng.choice(hosts))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            details = client.get_job(job_id)
            if details.num_restarts > kill and details.state == pb.RUNNING:
                break
            time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [CheckpointingMode.EXACTLY_ONCE,
                                  CheckpointingMode.AT_LEAST_ONCE])
def test_killed_taskmanagers_lose_nothing(cluster, tmp_path, mode):
    output = tmp_path / "out"
    job = counting_job(output.as_uri(), mode).execute_async("failover")
    with JobManagerClient(cluster.address, cluster.token) as client:
        kill_taskmanagers(client, cluster.ray_address, job.get_job_id(), kills=3, seed=len(mode.name))
        job.get_job_execution_result().result(timeout=180)
        details = client.get_job(job.get_job_id())
    got = collections.Counter(committed_lines(output))
    expected = expected_lines()
    assert details.num_restarts >= 3
    if mode is CheckpointingMode.EXACTLY_ONCE:
        assert got == expected
    else:
        assert set(got) == set(expected)  # every record, duplicates allowed
