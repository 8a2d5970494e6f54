"""The Kafka connector through TaskManager kills: a bounded read of a pre-filled 4-partition
topic, slowed so that checkpoints (every 200 ms) complete while it runs, loses its
TaskManager three times (three nested ``FailOnce`` plans, tests/fixtures/faults.py, each
striking once a checkpoint covering records of its subtask completed). Its offsets come
back from the checkpoints: the exactly-once FileSink holds every record exactly once; the
AT_LEAST_ONCE KafkaSink holds every record at least once. A broker stopped and started
again while the job reads (its topics kept in S3) costs no record and repeats none."""

from __future__ import annotations

import collections
import time

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.counting_job import committed_file_lines, wait_for
from tests.fixtures.faults import FailOnce, Fault
from tests.fixtures.kafka import KafkaBroker
from weir.common import SimpleStringSchema, Types, WatermarkStrategy
from weir.common.serialization import Encoder
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.base import Source
from weir.datastream.connectors.datagen import DataGeneratorSource, RateLimiterStrategy
from weir.datastream.connectors.file_system import FileSink
from weir.datastream.connectors.kafka import (
    DeliveryGuarantee,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
)
from weir.proto import jobmanager_pb2 as pb
from weir.rpc.client import JobManagerClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RECORDS = 12_000
PARALLELISM = 2
KILLS = 3


def slowly(value: str) -> str:
    time.sleep(0.001)  # ~6 s of reading per subtask: checkpoints complete meanwhile
    return value


def failing_three_times(source: Source, tmp_path) -> tuple[Source, list[FailOnce]]:
    per_subtask = RECORDS // PARALLELISM
    plans = [FailOnce(tmp_path / f"failed-{k}", after_records=per_subtask * (k + 1) // 5,
                      fault=Fault.KILL_TASKMANAGER) for k in range(KILLS)]
    for plan in plans:
        source = plan.source(source)
    return source, plans


def run(cluster: RunningJobManager, env: StreamExecutionEnvironment, name: str,
        plans: list[FailOnce]) -> None:
    job = env.execute_async(name)
    job.get_job_execution_result().result(timeout=240)
    with JobManagerClient(cluster.address, cluster.token) as client:
        details = client.get_job(job.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert all(plan.happened for plan in plans), ([plan.happened for plan in plans], details)
    assert details.num_restarts >= KILLS, details.last_restart_cause


def test_kills_lose_and_repeat_nothing(cluster: RunningJobManager, kafka_broker: KafkaBroker,
                                       tmp_path) -> None:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("failover"), 4)
    values = [f"v{i}" for i in range(RECORDS)]
    kafka_broker.produce(topic, values, partitions=4)
    source, plans = failing_three_times(
        KafkaSource.builder().set_bootstrap_servers(kafka_broker.bootstrap_servers)
        .set_topics(topic).set_group_id(f"group-{topic}")
        .set_starting_offsets(KafkaOffsetsInitializer.earliest())
        .set_bounded(KafkaOffsetsInitializer.latest())
        .set_value_only_deserializer(SimpleStringSchema()).build(), tmp_path)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("source.batch-records", "100")  # barriers between batches
    output = tmp_path / "out"
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka").uid("kafka")
        .map(slowly, Types.STRING()).uid("slowly")
        .sink_to(FileSink.for_row_format(output.as_uri(), Encoder.simple_string_encoder())
                 .build()).uid("files"))
    run(cluster, env, "kafka-failover", plans)
    assert committed_file_lines(output) == collections.Counter(values)
    # Offsets were committed to the group on checkpoint completion (lag monitoring):
    committed = kafka_broker.committed(f"group-{topic}", topic, 4)
    assert any(offset for offset in committed.values()), committed


def test_at_least_once_sink_delivers_every_record_after_kills(
        cluster: RunningJobManager, kafka_broker: KafkaBroker, tmp_path) -> None:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("alo"), 3)
    source, plans = failing_three_times(
        DataGeneratorSource(str, count=RECORDS,
                            rate_limiter_strategy=RateLimiterStrategy.per_second(2500)),
        tmp_path)
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    sink = (KafkaSink.builder().set_bootstrap_servers(kafka_broker.bootstrap_servers)
            .set_record_serializer(KafkaRecordSerializationSchema.builder().set_topic(topic)
                                   .set_value_serialization_schema(SimpleStringSchema())
                                   .build())
            .set_delivery_guarantee(DeliveryGuarantee.AT_LEAST_ONCE).build())
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "numbers").uid("numbers")
        .sink_to(sink).uid("kafka"))
    run(cluster, env, "kafka-sink-failover", plans)
    got = kafka_broker.read_all(topic, expected=RECORDS)
    assert {int(v) for v in got} == set(range(RECORDS))  # none lost; duplicates allowed


def test_a_broker_restart_mid_run_loses_and_repeats_nothing(
        cluster: RunningJobManager, durable_kafka_broker: KafkaBroker, tmp_path) -> None:
    broker = durable_kafka_broker
    topic = broker.create_topic(broker.new_topic_name("restart"), 4)
    values = [f"v{i}" for i in range(RECORDS)]
    broker.produce(topic, values, partitions=4)
    source = (KafkaSource.builder().set_bootstrap_servers(broker.bootstrap_servers)
              .set_topics(topic).set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(SimpleStringSchema())
              .set_property("client.connect.attempts", "30").build())
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(PARALLELISM)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    env.get_config().set_string("source.batch-records", "100")
    output = tmp_path / "out"
    (env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka").uid("kafka")
        .map(slowly, Types.STRING()).uid("slowly")
        .sink_to(FileSink.for_row_format(output.as_uri(), Encoder.simple_string_encoder())
                 .build()).uid("files"))
    job = env.execute_async("kafka-broker-restart")
    with JobManagerClient(cluster.address, cluster.token) as client:
        wait_for(lambda: client.get_job(job.get_job_id()).checkpoints.completed >= 2, 60,
                 "two completed checkpoints")
        assert client.get_job(job.get_job_id()).state == pb.RUNNING  # still reading
        broker.stop()
        time.sleep(2)  # the outage: nothing to await while the broker is down
        broker.start()
        job.get_job_execution_result().result(timeout=240)
        details = client.get_job(job.get_job_id())
    assert details.state == pb.FINISHED, details.failure_cause
    assert committed_file_lines(output) == collections.Counter(values)
