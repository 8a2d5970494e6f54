"""The Kafka connector against a real broker (Tansu, tests/fixtures/kafka.py) and the session
JobManager: bounded reads at parallelism 1, 2 and 4 equal the topic's contents, bad records
under each policy, partition discovery, per-partition watermarks, the KafkaSink, and clear
errors."""

from __future__ import annotations

import collections
import json

import pytest

from tests.fixtures.cluster import RunningJobManager
from tests.fixtures.kafka import KafkaBroker
from weir.common import Duration, SimpleStringSchema, Time, Types, WatermarkStrategy
from weir.common.job_client import JobExecutionException
from weir.datastream import StreamExecutionEnvironment
from weir.datastream.connectors.kafka import (
    DeliveryGuarantee,
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    KafkaTopicPartition,
)
from weir.datastream.connectors.number_seq import NumberSequenceSource
from weir.datastream.formats.json import JsonRowDeserializationSchema
from weir.datastream.window import TumblingEventTimeWindows

pytestmark = pytest.mark.timeout(180)

PARTITIONS = 3


def environment(parallelism: int) -> StreamExecutionEnvironment:
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(parallelism)
    return env


def bounded_source(broker: KafkaBroker, topic: str, deserializer=None, **properties: str,
                   ) -> KafkaSource:
    builder = (KafkaSource.builder()
               .set_bootstrap_servers(broker.bootstrap_servers)
               .set_topics(topic)
               .set_starting_offsets(KafkaOffsetsInitializer.earliest())
               .set_bounded(KafkaOffsetsInitializer.latest())
               .set_value_only_deserializer(deserializer or SimpleStringSchema()))
    for key, value in properties.items():
        builder.set_property(key.replace("_", "."), value)
    return builder.build()


def collect(stream) -> list:
    with stream.execute_and_collect() as results:
        return list(results)


@pytest.fixture(scope="module")
def filled_topic(kafka_broker: KafkaBroker) -> tuple[str, list[str]]:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("filled"), PARTITIONS)
    values = [f"record-{i}" for i in range(3000)]
    kafka_broker.produce(topic, values, partitions=PARTITIONS)
    return topic, values


@pytest.mark.parametrize("parallelism", [1, 2, 4])
def test_bounded_read_equals_the_topic(cluster: RunningJobManager, kafka_broker: KafkaBroker,
                                       filled_topic: tuple[str, list[str]],
                                       parallelism: int) -> None:
    topic, values = filled_topic
    env = environment(parallelism)
    stream = env.from_source(bounded_source(kafka_broker, topic),
                             WatermarkStrategy.no_watermarks(), "kafka")
    got = collect(stream.map(lambda value: value.upper(), Types.STRING()))
    assert collections.Counter(got) == collections.Counter(v.upper() for v in values)


def _read_from(broker: KafkaBroker, topic: str, starting: KafkaOffsetsInitializer,
               group_id: str | None = None) -> list[str]:
    builder = (KafkaSource.builder().set_bootstrap_servers(broker.bootstrap_servers)
               .set_topics(topic).set_starting_offsets(starting)
               .set_bounded(KafkaOffsetsInitializer.latest())
               .set_value_only_deserializer(SimpleStringSchema()))
    if group_id:
        builder.set_group_id(group_id)
    return collect(environment(2).from_source(builder.build(), WatermarkStrategy.no_watermarks(),
                                              "kafka"))


def test_starting_offsets(cluster: RunningJobManager, kafka_broker: KafkaBroker) -> None:
    """Committed (with a reset strategy for partitions without), specified, and by
    timestamp; partition p of the topic holds p0-0 … p0-99 style values in order."""
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("starts"), 2)
    values = [f"p{i % 2}-{i // 2}" for i in range(200)]
    kafka_broker.produce(topic, values, partitions=2)
    group = f"group-{topic}"
    kafka_broker.commit(group, topic, {0: 90})
    got = _read_from(kafka_broker, topic, KafkaOffsetsInitializer.committed_offsets(
        KafkaOffsetResetStrategy.LATEST), group)
    assert sorted(got) == sorted(f"p0-{n}" for n in range(90, 100))
    got = _read_from(kafka_broker, topic, KafkaOffsetsInitializer.offsets(
        {KafkaTopicPartition(topic, 1): 95}, KafkaOffsetResetStrategy.LATEST))
    assert sorted(got) == sorted(f"p1-{n}" for n in range(95, 100))
    assert sorted(_read_from(kafka_broker, topic, KafkaOffsetsInitializer.timestamp(0))) \
        == sorted(values)
    assert _read_from(kafka_broker, topic, KafkaOffsetsInitializer.latest()) == []


def test_json_rows(cluster: RunningJobManager, kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("json"), 2)
    events = [{"user": f"u{i % 7}", "amount": i} for i in range(500)]
    kafka_broker.produce(topic, [json.dumps(e) for e in events], partitions=2)
    schema = (JsonRowDeserializationSchema.builder()
              .type_info(Types.ROW_NAMED(["user", "amount"], [Types.STRING(), Types.INT()]))
              .build())
    env = environment(2)
    got = collect(env.from_source(bounded_source(kafka_broker, topic, schema),
                                  WatermarkStrategy.no_watermarks(), "kafka")
                  .map(lambda row: (row.user, row.amount)))
    assert sorted(got) == sorted((e["user"], e["amount"]) for e in events)


def _malformed_topic(broker: KafkaBroker) -> tuple[str, list[str]]:
    topic = broker.create_topic(broker.new_topic_name("bad"), 2)
    values = [json.dumps({"n": i}) for i in range(200)]
    values[57] = "{not json"
    values[140] = "[1, 2"
    broker.produce(topic, values, partitions=2)
    return topic, values


def test_a_malformed_record_fails_the_job_by_default(cluster: RunningJobManager,
                                                     kafka_broker: KafkaBroker) -> None:
    topic, _ = _malformed_topic(kafka_broker)
    env = environment(1)
    env.get_config().set_string("restart-strategy.type", "none")
    stream = env.from_source(
        bounded_source(kafka_broker, topic, JsonRowDeserializationSchema.builder().build()),
        WatermarkStrategy.no_watermarks(), "kafka")
    with pytest.raises(JobExecutionException, match=rf"topic {topic}, partition \d, offset \d+"):
        collect(stream)


def test_skip_policy_drops_only_the_malformed_records(cluster: RunningJobManager,
                                                      kafka_broker: KafkaBroker) -> None:
    topic, _ = _malformed_topic(kafka_broker)
    env = environment(2)
    source = bounded_source(kafka_broker, topic, JsonRowDeserializationSchema.builder().build(),
                            **{"deserialization.failure.policy": "skip"})
    got = collect(env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka")
                  .map(lambda row: row["n"]))
    assert sorted(got) == sorted(set(range(200)) - {57, 140})


def test_dead_letter_policy_routes_the_malformed_records(cluster: RunningJobManager,
                                                         kafka_broker: KafkaBroker) -> None:
    topic, _ = _malformed_topic(kafka_broker)
    dead = kafka_broker.create_topic(kafka_broker.new_topic_name("dlq"), 1)
    env = environment(2)
    source = bounded_source(kafka_broker, topic, JsonRowDeserializationSchema.builder().build(),
                            **{"deserialization.failure.policy": "dead-letter",
                               "deserialization.dead-letter.topic": dead})
    got = collect(env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka")
                  .map(lambda row: row["n"]))
    assert sorted(got) == sorted(set(range(200)) - {57, 140})
    assert sorted(kafka_broker.read_all(dead, expected=2)) == sorted(
        [b"{not json", b"[1, 2"])


def test_new_topics_matching_the_pattern_are_discovered(cluster: RunningJobManager,
                                                        kafka_broker: KafkaBroker) -> None:
    """An unbounded read of ``disc-<id>-.*``: a topic created while the job runs is read
    from its start; the job is ended by a sentinel that a filter turns into an error-free
    stop (collect stops after the expected count)."""
    prefix = kafka_broker.new_topic_name("disc")
    first = kafka_broker.create_topic(f"{prefix}-a", 2)
    kafka_broker.produce(first, [f"a{i}" for i in range(100)], partitions=2)
    source = (KafkaSource.builder()
              .set_bootstrap_servers(kafka_broker.bootstrap_servers)
              .set_topic_pattern(f"{prefix}-.*")
              .set_starting_offsets(KafkaOffsetsInitializer.earliest())
              .set_value_only_deserializer(SimpleStringSchema())
              .set_property("partition.discovery.interval.ms", "300")
              .build())
    env = environment(2)
    got: list[str] = []
    with env.from_source(source, WatermarkStrategy.no_watermarks(),
                         "kafka").execute_and_collect() as results:
        for value in results:
            got.append(value)
            if len(got) == 100:
                second = kafka_broker.create_topic(f"{prefix}-b", 3)
                kafka_broker.produce(second, [f"b{i}" for i in range(150)], partitions=3)
            if len(got) == 250:
                break
    assert sorted(got) == sorted([f"a{i}" for i in range(100)] + [f"b{i}" for i in range(150)])


def _event_time(value: str) -> int:
    return int(value.split(",")[1])


def test_each_partition_has_its_own_watermark(cluster: RunningJobManager,
                                              kafka_broker: KafkaBroker) -> None:
    """One subtask reads two partitions, each in event-time order, partition 0 at ten hours,
    partition 1 at zero, then at twenty hours: with a watermark generator per partition
    (the minimum over them leaves the source), no record is late for its 1-minute window.
    One generator for the subtask drops records whichever partition it reads first."""
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("split-wm"), 2)
    half = 1500
    partition_0 = [f"ahead,{36_000_000 + 100 * i}" for i in range(2 * half)]
    partition_1 = ([f"behind,{100 * i}" for i in range(half)] +
                   [f"future,{72_000_000 + 100 * i}" for i in range(half)])
    kafka_broker.produce(topic, [v for pair in zip(partition_0, partition_1) for v in pair],
                         partitions=2)  # round-robin: the pairs' first to partition 0
    env = environment(2)
    env.get_config().set_string("pipeline.auto-watermark-interval", "5 ms")
    env.get_config().set_string("source.batch-records", "50")
    strategy = (WatermarkStrategy.for_bounded_out_of_orderness(Duration.of_seconds(1))
                .with_idleness(Duration.of_seconds(30))
                .with_timestamp_assigner(lambda value, _: _event_time(value)))
    counts = (env.from_source(bounded_source(kafka_broker, topic), strategy, "kafka")
              .set_parallelism(1)
              .map(lambda value: (value.split(",")[0], _event_time(value), 1))
              .key_by(lambda event: event[0])
              .window(TumblingEventTimeWindows.of(Time.minutes(1)))
              .reduce(lambda a, b: (a[0], a[1], a[2] + b[2]))
              .map(lambda r: (r[0], r[1] - r[1] % 60_000, r[2])))
    got = collect(counts)

    expected: collections.Counter[tuple[str, int]] = collections.Counter()
    for value in partition_0 + partition_1:
        expected[(value.split(",")[0], _event_time(value) // 60_000 * 60_000)] += 1
    assert sorted(got) == sorted((key, start, n) for (key, start), n in expected.items())


def _sink(broker: KafkaBroker, topic: str, guarantee: DeliveryGuarantee,
          prefix: str | None = None) -> KafkaSink:
    builder = (KafkaSink.builder()
               .set_bootstrap_servers(broker.bootstrap_servers)
               .set_record_serializer(KafkaRecordSerializationSchema.builder()
                                      .set_topic(topic)
                                      .set_value_serialization_schema(SimpleStringSchema())
                                      .build())
               .set_delivery_guarantee(guarantee))
    if prefix:
        builder.set_transactional_id_prefix(prefix)
    return builder.build()


@pytest.mark.parametrize("guarantee", [DeliveryGuarantee.NONE, DeliveryGuarantee.AT_LEAST_ONCE])
def test_kafka_sink_writes_every_record(cluster: RunningJobManager, kafka_broker: KafkaBroker,
                                        tmp_path, guarantee: DeliveryGuarantee) -> None:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("out"), 3)
    env = environment(2)
    env.enable_checkpointing(200)
    env.get_checkpoint_config().set_checkpoint_storage_dir((tmp_path / "chk").as_uri())
    (env.from_source(NumberSequenceSource(1, 5000), WatermarkStrategy.no_watermarks(), "numbers")
        .map(str, Types.STRING())
        .sink_to(_sink(kafka_broker, topic, guarantee)))
    env.execute("kafka-sink")
    got = kafka_broker.read_all(topic, expected=5000)
    assert sorted(int(v) for v in got) == list(range(1, 5001))


def test_exactly_once_sink_fails_fast_without_transactions(cluster: RunningJobManager,
                                                           kafka_broker: KafkaBroker) -> None:
    topic = kafka_broker.create_topic(kafka_broker.new_topic_name("txn"), 1)
    env = environment(1)
    env.get_config().set_string("restart-strategy.type", "none")
    (env.from_source(NumberSequenceSource(1, 10), WatermarkStrategy.no_watermarks(), "numbers")
        .map(str, Types.STRING())
        .sink_to(_sink(kafka_broker, topic, DeliveryGuarantee.EXACTLY_ONCE, "weir-test")))
    with pytest.raises(JobExecutionException, match="refused to start transactional producer"):
        env.execute("kafka-sink-exactly-once")


def test_broker_down_at_start_fails_with_a_clear_error(cluster: RunningJobManager) -> None:
    env = environment(1)
    env.get_config().set_string("restart-strategy.type", "none")
    source = (KafkaSource.builder().set_bootstrap_servers("127.0.0.1:9")
              .set_topics("nothing").set_bounded(KafkaOffsetsInitializer.latest())
              .set_value_only_deserializer(SimpleStringSchema())
              .set_property("client.connect.attempts", "2")
              .set_property("retry.backoff.ms", "100").build())
    with pytest.raises(JobExecutionException, match=r"cannot reach the Kafka brokers at "
                                                    r"127\.0\.0\.1:9 after 2 attempt"):
        collect(env.from_source(source, WatermarkStrategy.no_watermarks(), "kafka"))
