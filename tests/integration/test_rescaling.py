"""Rescaling from savepoints: a keyed counting job stopped with a savepoint mid-stream and
resumed at another parallelism (2 → 4 → 1), also switching state backends on the way; the
committed output must be exactly the oracle's (each ``key,n`` once).

The source and the sink keep parallelism 1 (their operator state is not redistributed
yet); the keyed count is rescaled by key-group ranges.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.state_backends import state_backend
from weir.common import Configuration, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink, RollingPolicy
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

RECORDS = 9_000
RATE = 1_500
KEYS = 23


def key_of(index: int) -> int:
    return index % KEYS


def counting_job(parallelism: int, backend: str, root: Path,
                 savepoint: str | None) -> StreamExecutionEnvironment:
    config = Configuration()
    if savepoint is not None:
        config.set_string("execution.savepoint.path", savepoint)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_state_backend(state_backend(backend))
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((root / "chk").as_uri())
    source = DataGeneratorSource(key_of, RECORDS, RateLimiterStrategy.per_second(RATE))
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "events").uid("events")
        .set_parallelism(1)
        .map(lambda key: (key, 1)).uid("pairs").set_parallelism(1)
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts").set_parallelism(parallelism)
        .map(lambda pair: f"{pair[0]},{pair[1]}").uid("lines").set_parallelism(parallelism)
        .sink_to(FileSink.for_row_format((root / "out").as_uri(),
                                         Encoder.simple_string_encoder())
                 .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
        .uid("files").set_parallelism(1))
    return env


def await_checkpoint(client: JobManagerClient, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(c.status == pb.COMPLETED and not c.is_savepoint
               for c in client.list_checkpoints(job_id)):
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} completed no checkpoint in 60 s")


def oracle() -> collections.Counter[str]:
    per_key = collections.Counter(key_of(i) for i in range(RECORDS))
    return collections.Counter(f"{key},{n}" for key, count in per_key.items()
                               for n in range(1, count + 1))


@pytest.mark.slow
@pytest.mark.parametrize("backends", [("hashmap", "rocksdb", "hashmap"),
                                      ("rocksdb", "hashmap", "rocksdb")])
def test_a_keyed_job_rescaled_2_4_1_from_savepoints_counts_exactly_once(
        cluster: RunningJobManager, tmp_path: Path, backends: tuple[str, str, str]) -> None:
    savepoint = None
    with JobManagerClient(cluster.address, cluster.token) as client:
        for parallelism, backend in zip((2, 4), backends):
            job = counting_job(parallelism, backend, tmp_path, savepoint).execute_async(
                f"rescale-p{parallelism}-{backend}")
            await_checkpoint(client, job.get_job_id())
            savepoint = client.trigger_savepoint(job.get_job_id(),
                                                 (tmp_path / "savepoints").as_uri(), stop=True)
            job.get_job_execution_result().result(timeout=60)
            assert 0 < sum(committed_file_lines(tmp_path / "out").values()) < RECORDS
        last = counting_job(1, backends[2], tmp_path, savepoint).execute_async("rescale-p1")
        last.get_job_execution_result().result(timeout=120)
        details = client.get_job(last.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == oracle()
