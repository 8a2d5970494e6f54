"""A slow sink slows the sources down: records in flight stay bounded and none are lost."""

from __future__ import annotations

import time

from weir.common import WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource
from weir.rpc.client import JobManagerClient

# Credits per channel (16) x records per buffer (1000), plus a partly filled
# buffer on each side, for the 2 source -> sink channels, plus one heartbeat
# (1 s) of the sink's progress, which the metrics may lag behind.
MAX_IN_FLIGHT = 2 * 18 * 1000 + 30_000


def slow(value: int) -> int:
    """About 50 µs of work per record: the sink keeps up with ~20,000 records/s."""
    deadline = time.perf_counter() + 50e-6
    while time.perf_counter() < deadline:
        pass
    return value


def counts(client: JobManagerClient, job_id: str) -> tuple[int, int]:
    """(records the sources sent, records the slow sink received) from the last heartbeats."""
    details = client.get_job(job_id)
    source, sink = details.vertices[0], details.vertices[-1]
    return (sum(s.records_out for s in source.subtasks),
            sum(s.records_in for s in sink.subtasks))


def test_slow_sink_bounds_records_in_flight(cluster):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    (env.from_source(DataGeneratorSource(lambda i: i), WatermarkStrategy.no_watermarks(),
                     "endless")
        .rebalance()
        .map(slow).set_parallelism(1)
        .add_sink(lambda value: None).set_parallelism(1))
    job = env.execute_async("backpressure")
    client = JobManagerClient(cluster.address, cluster.token)
    try:
        samples = []
        for _ in range(4):
            time.sleep(1.5)
            samples.append(counts(client, job.get_job_id()))
    finally:
        job.cancel().result(timeout=30)
        client.close()

    sent, received = samples[-1]
    assert received > 0, samples
    # Unthrottled, the sources send about a million records a second.
    assert sent < 400_000, samples
    for sent, received in samples:
        assert sent - received <= MAX_IN_FLIGHT, samples


def test_slow_sink_receives_every_record(cluster):
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    n = 40_000
    stream = (env.from_source(DataGeneratorSource(lambda i: i, count=n),
                              WatermarkStrategy.no_watermarks(), "bounded")
              .rebalance()
              .map(slow).set_parallelism(1))
    with stream.execute_and_collect() as results:
        received = list(results)
    assert sorted(received) == list(range(n))
