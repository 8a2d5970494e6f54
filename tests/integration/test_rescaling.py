"""Rescaling from savepoints: a keyed counting job stopped with a savepoint mid-stream and
resumed at another parallelism (2 → 4 → 1), also switching state backends on the way; the
committed output must be exactly the oracle's (each ``key,n`` once).

Either only the keyed count is rescaled (by key-group ranges; source and sink keep
parallelism 1) or the whole job is: then the source's positions (union state: what is
left is split over the new readers) and the sink's pending parts and in-progress files
(round-robin list state) are redistributed too.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.state_backends import state_backend
from weir.common import Configuration, Duration, SimpleStringSchema, Time, Types, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink, RollingPolicy
from weir.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from weir.datastream.functions import WindowFunction
from weir.datastream.window import TumblingEventTimeWindows
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

RECORDS = 9_000
RATE = 1_500
KEYS = 23


def key_of(index: int) -> int:
    return index % KEYS


def environment(backend: str, root: Path, savepoint: str | None) -> StreamExecutionEnvironment:
    config = Configuration()
    if savepoint is not None:
        config.set_string("execution.savepoint.path", savepoint)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_state_backend(state_backend(backend))
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((root / "chk").as_uri())
    return env


def counting_job(parallelism: int, backend: str, root: Path, savepoint: str | None,
                 whole_job: bool) -> StreamExecutionEnvironment:
    env = environment(backend, root, savepoint)
    edges = parallelism if whole_job else 1
    source = DataGeneratorSource(key_of, RECORDS, RateLimiterStrategy.per_second(RATE))
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "events").uid("events")
        .set_parallelism(edges)
        .map(lambda key: (key, 1)).uid("pairs").set_parallelism(edges)
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts").set_parallelism(parallelism)
        .map(lambda pair: f"{pair[0]},{pair[1]}").uid("lines").set_parallelism(parallelism)
        .sink_to(FileSink.for_row_format((root / "out").as_uri(),
                                         Encoder.simple_string_encoder())
                 .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
        .uid("files").set_parallelism(edges))
    return env


def await_checkpoint(client: JobManagerClient, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(c.status == pb.COMPLETED and not c.is_savepoint
               for c in client.list_checkpoints(job_id)):
            return
        time.sleep(0.05)
    details = client.get_job(job_id)
    raise AssertionError(f"job {job_id} completed no checkpoint in 60 s: "
                         f"{pb.JobState.Name(details.state)} {details.failure_cause}")


def oracle() -> collections.Counter[str]:
    per_key = collections.Counter(key_of(i) for i in range(RECORDS))
    return collections.Counter(f"{key},{n}" for key, count in per_key.items()
                               for n in range(1, count + 1))


@pytest.mark.slow
@pytest.mark.parametrize(("backends", "whole_job"), [
    (("hashmap", "rocksdb", "hashmap"), False),
    (("rocksdb", "hashmap", "rocksdb"), False),
    (("hashmap", "hashmap", "rocksdb"), True),
], ids=["keyed-heap-first", "keyed-rocksdb-first", "whole-job"])
def test_a_keyed_job_rescaled_2_4_1_from_savepoints_counts_exactly_once(
        cluster: RunningJobManager, tmp_path: Path, backends: tuple[str, str, str],
        whole_job: bool) -> None:
    savepoint = None
    with JobManagerClient(cluster.address, cluster.token) as client:
        for parallelism, backend in zip((2, 4), backends):
            job = counting_job(parallelism, backend, tmp_path, savepoint,
                               whole_job).execute_async(
                f"rescale-p{parallelism}-{backend}")
            await_checkpoint(client, job.get_job_id())
            savepoint = client.trigger_savepoint(job.get_job_id(),
                                                 (tmp_path / "savepoints").as_uri(), stop=True)
            job.get_job_execution_result().result(timeout=60)
            assert 0 < sum(committed_file_lines(tmp_path / "out").values()) < RECORDS
        last = counting_job(1, backends[2], tmp_path, savepoint, whole_job).execute_async(
            "rescale-p1")
        last.get_job_execution_result().result(timeout=120)
        details = client.get_job(last.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == oracle()


WINDOW_MS = 5_000


def event_of(index: int) -> tuple[int, int]:
    return key_of(index), index * 10  # (key, event time in ms)


class CountLine(WindowFunction):
    def apply(self, key, window, inputs):
        for _, count in inputs:
            yield f"{key},{window.start},{count}"


def windowed_job(parallelism: int, backend: str, root: Path,
                 savepoint: str | None) -> StreamExecutionEnvironment:
    env = environment(backend, root, savepoint)
    env.set_parallelism(parallelism)
    env.get_config().set_string("source.batch-records", "100")
    source = DataGeneratorSource(event_of, RECORDS, RateLimiterStrategy.per_second(RATE))
    watermarks = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(30))
                  .with_timestamp_assigner(lambda event, _: event[1]))
    (env.from_source(source, watermarks, "events").uid("events")
        .map(lambda event: (event[0], 1)).uid("pairs")
        .key_by(lambda pair: pair[0])
        .window(TumblingEventTimeWindows.of(Time.milliseconds(WINDOW_MS)))
        .reduce(lambda a, b: (a[0], a[1] + b[1]), window_function=CountLine()).uid("windows")
        .sink_to(FileSink.for_row_format((root / "out").as_uri(),
                                         Encoder.simple_string_encoder())
                 .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
        .uid("files"))
    return env


@pytest.mark.slow
def test_a_windowed_job_rescaled_2_4_1_from_savepoints_counts_exactly_once(
        cluster: RunningJobManager, tmp_path: Path) -> None:
    """Open windows, watermarks' sources and the sink's parts all redistributed."""
    savepoint = None
    with JobManagerClient(cluster.address, cluster.token) as client:
        for parallelism, backend in ((2, "hashmap"), (4, "rocksdb")):
            job = windowed_job(parallelism, backend, tmp_path, savepoint).execute_async(
                f"rescale-windows-p{parallelism}")
            await_checkpoint(client, job.get_job_id())
            savepoint = client.trigger_savepoint(job.get_job_id(),
                                                 (tmp_path / "savepoints").as_uri(), stop=True)
            job.get_job_execution_result().result(timeout=60)
        last = windowed_job(1, "hashmap", tmp_path, savepoint).execute_async(
            "rescale-windows-p1")
        last.get_job_execution_result().result(timeout=120)
        details = client.get_job(last.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    expected = collections.Counter(
        f"{key},{start},{count}" for (key, start), count in collections.Counter(
            (key_of(i), i * 10 - i * 10 % WINDOW_MS) for i in range(RECORDS)).items())
    assert committed_file_lines(tmp_path / "out") == expected


def slowly(value: str) -> str:
    time.sleep(0.0005)  # a few seconds of reading: savepoints are taken mid-stream
    return value


def kafka_job(parallelism: int, broker: KafkaBroker, topic: str, root: Path,
              savepoint: str | None) -> StreamExecutionEnvironment:
    config = Configuration()
    if savepoint is not None:
        config.set_string("execution.savepoint.path", savepoint)
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(parallelism)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((root / "chk").as_uri())
    env.get_config().set_string("source.batch-records", "100")
    source = (KafkaSource.builder().set_bootstrap_servers(broker.bootstrap_servers)
              .set_topics(topic).set_group_id(f"group-{topic}")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(SimpleStringSchema()).build())
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka").uid("kafka")
        .map(slowly, Types.STRING()).uid("slowly")
        .sink_to(FileSink.for_row_format((root / "out").as_uri(),
                                         Encoder.simple_string_encoder())
                 .with_rolling_policy(RollingPolicy.on_checkpoint_rolling_policy()).build())
        .uid("files"))
    return env


@pytest.mark.slow
def test_kafka_partitions_are_redistributed_when_rescaled_2_4_1(
        cluster: RunningJobManager, kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """Offsets of a 4-partition topic follow the partitions to their new readers (fewer and
    more readers than partitions): every record is committed exactly once."""
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("rescale"), 4)
    values = [f"v{i}" for i in range(12_000)]
    kafka_broker.produce(topic, values, partitions=4)
    savepoint = None
    with JobManagerClient(cluster.address, cluster.token) as client:
        for parallelism in (2, 4):
            job = kafka_job(parallelism, kafka_broker, topic, tmp_path, savepoint
                            ).execute_async(f"kafka-rescale-p{parallelism}")
            await_checkpoint(client, job.get_job_id())
            savepoint = client.trigger_savepoint(job.get_job_id(),
                                                 (tmp_path / "savepoints").as_uri(), stop=True)
            job.get_job_execution_result().result(timeout=60)
            assert 0 < sum(committed_file_lines(tmp_path / "out").values()) < len(values)
        last = kafka_job(1, kafka_broker, topic, tmp_path, savepoint).execute_async(
            "kafka-rescale-p1")
        last.get_job_execution_result().result(timeout=120)
        details = client.get_job(last.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == collections.Counter(values)
