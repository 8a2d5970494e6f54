"""A JobManager process killed and started again recovers its running jobs from the job
store (``high-availability.storageDir``) and their latest checkpoints."""

from __future__ import annotations

import collections
import time

import pytest

from tests.fixtures.cluster import start_jobmanager, stop_jobmanager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.processes import free_port
from weir.common import WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient
from weir.rpc.errors import JobManagerUnavailableError

KEYS = 20
RECORDS = 16_000


def wait_for(client: JobManagerClient, job_id: str, done, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            details = client.get_job(job_id)
            if done(details):
                return details
        except JobManagerUnavailableError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout_s} s")


@pytest.mark.slow
def test_restarted_jobmanager_continues_the_job(tmp_path, monkeypatch):
    port = str(free_port())
    args = ["--port", port, "--taskmanagers", "2", "--slots", "2",
            "-D", f"high-availability.storageDir={(tmp_path / 'ha').as_uri()}",
            "-D", f"state.checkpoints.dir={(tmp_path / 'checkpoints').as_uri()}"]
    first = start_jobmanager(tmp_path / "jobmanager-1.log", *args)
    try:
        monkeypatch.setenv("WEIR_JOBMANAGER", first.address)
        monkeypatch.setenv("WEIR_TOKEN", first.token)
        env = StreamExecutionEnvironment.get_execution_environment()
        env.set_parallelism(2)
        env.enable_checkpointing(300)
        output = tmp_path / "out"
        (env.from_source(
            DataGeneratorSource(lambda i: i % KEYS, count=RECORDS,
                                rate_limiter_strategy=RateLimiterStrategy.per_second(4000)),
            WatermarkStrategy.no_watermarks(), "events").uid("events")
            .key_by(lambda key: key)
            .map(lambda key: (key, 1)).uid("pairs")
            .key_by(lambda pair: pair[0])
            .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts")
            .map(lambda pair: f"{pair[0]},{pair[1]}")
            .sink_to(FileSink.for_row_format(output.as_uri(),
                                             Encoder.simple_string_encoder()).build())
            .uid("files"))
        job_id = env.execute_async("recovered").get_job_id()
        with JobManagerClient(first.address, first.token) as client:
            wait_for(client, job_id, lambda d: d.checkpoints.completed >= 3)
    finally:
        first.process.kill()
        first.process.wait()

    second = start_jobmanager(tmp_path / "jobmanager-2.log", *args)
    try:
        with JobManagerClient(second.address, second.token) as client:
            details = wait_for(client, job_id, lambda d: d.state == pb.FINISHED)
    finally:
        stop_jobmanager(second)

    assert details.checkpoints.restored_id >= 3
    per_key = collections.Counter(i % KEYS for i in range(RECORDS))
    expected = collections.Counter(f"{key},{n}" for key, count in per_key.items()
                                   for n in range(1, count + 1))
    assert committed_file_lines(output) == expected
