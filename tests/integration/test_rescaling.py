"""Rescaling from savepoints: jobs stopped with a savepoint mid-stream and resumed at another
parallelism (2 → 4 → 1); the committed output must be exactly the oracle's.

A keyed count, with state backends switched on the way: either only the keyed count is
rescaled (by key-group ranges; source and sink keep parallelism 1) or the whole job is:
then the source's positions (union state: what is left is split over the new readers)
and the sink's pending parts and in-progress files (round-robin list state) are
redistributed too. Also an event-time windowed job and a Kafka source.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines
from tests.fixtures.kafka import KafkaBroker
from tests.fixtures.rescaling import committing_sink, rescale_through, savepoint_environment
from weir.common import Duration, SimpleStringSchema, Time, Types, WatermarkStrategy
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource
from weir.datastream.functions import WindowFunction
from weir.datastream.window import TumblingEventTimeWindows
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

RECORDS = 9_000
RATE = 1_500
KEYS = 23
STEPS = [2, 4, 1]


def key_of(index: int) -> int:
    return index % KEYS


def counting_job(parallelism: int, backend: str, root: Path, savepoint: str | None,
                 whole_job: bool) -> StreamExecutionEnvironment:
    env = savepoint_environment(root, savepoint, backend)
    edges = parallelism if whole_job else 1
    source = DataGeneratorSource(key_of, RECORDS, RateLimiterStrategy.per_second(RATE))
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "events").uid("events")
        .set_parallelism(edges)
        .map(lambda key: (key, 1)).uid("pairs").set_parallelism(edges)
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1])).uid("counts").set_parallelism(parallelism)
        .map(lambda pair: f"{pair[0]},{pair[1]}").uid("lines").set_parallelism(parallelism)
        .sink_to(committing_sink(root)).uid("files").set_parallelism(edges))
    return env


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
    backend_at = dict(zip(STEPS, backends))
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = rescale_through(
            client, lambda p, savepoint: counting_job(p, backend_at[p], tmp_path, savepoint,
                                                      whole_job),
            STEPS, tmp_path, "rescale", RECORDS)
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
    env = savepoint_environment(root, savepoint, backend)
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
        .sink_to(committing_sink(root)).uid("files"))
    return env


@pytest.mark.slow
def test_a_windowed_job_rescaled_2_4_1_from_savepoints_counts_exactly_once(
        cluster: RunningJobManager, tmp_path: Path) -> None:
    """Open windows, watermarks' sources and the sink's parts all redistributed."""
    backend_at = {2: "hashmap", 4: "rocksdb", 1: "hashmap"}
    expected = collections.Counter(
        f"{key},{start},{count}" for (key, start), count in collections.Counter(
            (key_of(i), i * 10 - i * 10 % WINDOW_MS) for i in range(RECORDS)).items())
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = rescale_through(
            client, lambda p, savepoint: windowed_job(p, backend_at[p], tmp_path, savepoint),
            STEPS, tmp_path, "rescale-windows", sum(expected.values()))
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == expected


def slowly(value: str) -> str:
    time.sleep(0.0005)  # a few seconds of reading: savepoints are taken mid-stream
    return value


def kafka_job(parallelism: int, broker: KafkaBroker, topic: str, root: Path,
              savepoint: str | None) -> StreamExecutionEnvironment:
    env = savepoint_environment(root, savepoint)
    env.set_parallelism(parallelism)
    env.get_config().set_string("source.batch-records", "100")
    source = (KafkaSource.builder().set_bootstrap_servers(broker.bootstrap_servers)
              .set_topics(topic).set_group_id(f"group-{topic}")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(SimpleStringSchema()).build())
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka").uid("kafka")
        .map(slowly, Types.STRING()).uid("slowly")
        .sink_to(committing_sink(root)).uid("files"))
    return env


@pytest.mark.slow
def test_kafka_partitions_are_redistributed_when_rescaled_2_4_1(
        cluster: RunningJobManager, kafka_broker: KafkaBroker, tmp_path: Path) -> None:
    """Offsets of a 4-partition topic follow the partitions to their new readers (fewer and
    more readers than partitions): every record is committed exactly once."""
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("rescale"), 4)
    values = [f"v{i}" for i in range(12_000)]
    kafka_broker.produce(topic, values, partitions=4)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = rescale_through(
            client, lambda p, savepoint: kafka_job(p, kafka_broker, topic, tmp_path, savepoint),
            STEPS, tmp_path, "kafka-rescale", len(values))
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(tmp_path / "out") == collections.Counter(values)
