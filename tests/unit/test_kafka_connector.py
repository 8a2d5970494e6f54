"""The Kafka connector's decisions without a broker: split assignment, topic matching,
transactional ids, builders, and the string and JSON schemas."""

from __future__ import annotations

import collections
import pickle

import pytest

from weir.checkpoint.redistribution import RedistributedState
from weir.common import Row, SimpleStringSchema, Types
from weir.datastream.connectors.kafka import (
    DeliveryGuarantee,
    DeserializationFailurePolicy,
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaRecordSerializationSchema,
    KafkaSink,
    KafkaSource,
    KafkaTopicPartition,
)
from weir.datastream.connectors.kafka._writer import ids_to_abort, transactional_id
from weir.datastream.connectors.kafka.enumerator import (
    assigned_partitions,
    matching_topics,
    split_owner,
)
from weir.datastream.formats.json import JsonRowDeserializationSchema, JsonRowSerializationSchema

PARTITIONS = [KafkaTopicPartition(topic, p) for topic, n in (("a", 4), ("b", 3), ("c", 1))
              for p in range(n)]


@pytest.mark.parametrize("parallelism", [1, 2, 3, 4, 5, 8, 9])
def test_every_partition_has_exactly_one_reader(parallelism: int) -> None:
    owned = [p for s in range(parallelism) for p in assigned_partitions(PARTITIONS, s, parallelism)]
    assert sorted(owned) == sorted(PARTITIONS)


@pytest.mark.parametrize("parallelism", [1, 2, 3, 4])
def test_a_topics_partitions_are_spread_round_robin(parallelism: int) -> None:
    per_subtask = collections.Counter(split_owner(p, parallelism) for p in PARTITIONS
                                      if p.topic == "a")
    assert max(per_subtask.values()) - min(per_subtask.values(), default=0) <= 1
    if parallelism <= 4:
        assert len(per_subtask) == parallelism


def test_assignment_is_stable_and_independent_of_discovery_order() -> None:
    forward = assigned_partitions(PARTITIONS, 1, 3)
    assert assigned_partitions(list(reversed(PARTITIONS)), 1, 3) == forward
    # Known values: the assignment must not change between processes or releases.
    assert [split_owner(KafkaTopicPartition("events", p), 4) for p in range(4)] == [
        (split_owner(KafkaTopicPartition("events", 0), 4) + p) % 4 for p in range(4)]


def test_assignment_rejects_bad_subtasks() -> None:
    with pytest.raises(ValueError):
        assigned_partitions(PARTITIONS, 2, 2)
    with pytest.raises(ValueError):
        split_owner(PARTITIONS[0], 0)


def test_topic_matching() -> None:
    available = ["orders", "orders-eu", "__consumer_offsets", "users"]
    assert matching_topics(available, ["orders", "missing"], None) == ["orders"]
    assert matching_topics(available, None, "orders.*") == ["orders", "orders-eu"]
    assert matching_topics(available, None, ".*") == ["orders", "orders-eu", "users"]
    assert matching_topics(available, None, "order") == []  # the whole name must match


def test_transactional_ids_cover_the_subtasks_that_went_away() -> None:
    assert transactional_id("p", 3, 1) == "p-3-1"
    assert ids_to_abort("p", 0, 2, 2, 2) == ["p-0-0", "p-0-1"]
    # Scaled down from 5 to 2: subtask 0 stands for 0, 2, 4 and subtask 1 for 1, 3.
    assert ids_to_abort("p", 0, 2, 5, 1) == ["p-0-0", "p-2-0", "p-4-0"]
    assert ids_to_abort("p", 1, 2, 5, 1) == ["p-1-0", "p-3-0"]
    assert ids_to_abort("p", 1, 4, 2, 1) == ["p-1-0"]


def _source_builder():
    return (KafkaSource.builder().set_bootstrap_servers("localhost:9092").set_topics("t")
            .set_value_only_deserializer(SimpleStringSchema()))


def test_source_builder_makes_a_frozen_picklable_description() -> None:
    source = (_source_builder().set_group_id("g")
              .set_starting_offsets(KafkaOffsetsInitializer.committed_offsets(
                  KafkaOffsetResetStrategy.EARLIEST))
              .set_bounded(KafkaOffsetsInitializer.latest())
              .set_property("security.protocol", "SASL_PLAINTEXT").build())
    assert source.is_bounded()
    assert source.discovery_interval_ms == -1  # bounded: no discovery
    assert source.failure_policy is DeserializationFailurePolicy.FAIL
    copy = pickle.loads(pickle.dumps(source))
    assert (copy.topics, copy.group_id, copy.properties) == (('t',), 'g', source.properties)
    with pytest.raises(AttributeError):
        source.group_id = "other"  # type: ignore[misc]
    unbounded = _source_builder().set_property("partition.discovery.interval.ms", "500").build()
    assert not unbounded.is_bounded() and unbounded.discovery_interval_ms == 500


def test_source_builder_rejects_incomplete_configurations() -> None:
    with pytest.raises(ValueError, match="bootstrap"):
        KafkaSource.builder().set_topics("t").build()
    with pytest.raises(ValueError, match="deserializer"):
        KafkaSource.builder().set_bootstrap_servers("x:1").set_topics("t").build()
    with pytest.raises(ValueError, match="dead-letter.topic"):
        _source_builder().set_property("deserialization.failure.policy", "dead-letter").build()
    with pytest.raises(ValueError):
        _source_builder().set_property("deserialization.failure.policy", "ignore").build()
    with pytest.raises(ValueError, match="group"):
        _source_builder().set_starting_offsets(KafkaOffsetsInitializer.committed_offsets()).build()


def test_offsets_initializers() -> None:
    tp = KafkaTopicPartition("t", 0)
    specific = KafkaOffsetsInitializer.offsets({tp: 42})
    assert specific.specified_offsets[tp] == 42
    assert KafkaOffsetsInitializer.earliest().specified_offsets == {}
    assert specific.reset_strategy is KafkaOffsetResetStrategy.EARLIEST
    assert KafkaOffsetsInitializer.timestamp(1_000).timestamp_ms == 1_000


def test_client_properties_pass_through() -> None:
    from weir.datastream.connectors.kafka._config import client_kwargs

    kwargs = client_kwargs("a:1,b:2", {"security.protocol": "SASL_PLAINTEXT",
                                       "sasl.mechanism": "SCRAM-SHA-256",
                                       "sasl.username": "u", "sasl.password": "p",
                                       "partition.discovery.interval.ms": "10"})
    assert kwargs == {"bootstrap_servers": ["a:1", "b:2"], "security_protocol": "SASL_PLAINTEXT",
                      "sasl_mechanism": "SCRAM-SHA-256", "sasl_plain_username": "u",
                      "sasl_plain_password": "p"}


def test_consumer_and_producer_settings_stay_apart() -> None:
    from weir.datastream.connectors.kafka._config import consumer_kwargs, producer_kwargs

    properties = {"linger.ms": "5", "max.partition.fetch.bytes": "1024",
                  "isolation.level": "read_committed", "compression.type": "gzip"}
    assert consumer_kwargs("a:1", properties) == {
        "bootstrap_servers": ["a:1"], "max_partition_fetch_bytes": 1024,
        "isolation_level": "read_committed"}
    assert producer_kwargs("a:1", properties) == {
        "bootstrap_servers": ["a:1"], "linger_ms": 5, "compression_type": "gzip"}


def test_sink_builder() -> None:
    serializer = (KafkaRecordSerializationSchema.builder()
                  .set_topic_selector(lambda record: f"topic-{record % 2}")
                  .set_key_serialization_schema(SimpleStringSchema())
                  .set_value_serialization_schema(SimpleStringSchema()).build())
    assert serializer.serialize(3) == ("topic-1", b"3", b"3")
    builder = (KafkaSink.builder().set_bootstrap_servers("x:1").set_record_serializer(serializer)
               .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE))
    with pytest.raises(ValueError, match="transactional_id_prefix"):
        builder.build()
    sink = builder.set_transactional_id_prefix("job").build()
    assert sink.delivery_guarantee is DeliveryGuarantee.EXACTLY_ONCE
    assert sink.transaction_pool_size == 5
    with pytest.raises(ValueError, match="exactly one"):
        KafkaRecordSerializationSchema.builder().set_value_serialization_schema(
            SimpleStringSchema()).build()


def test_simple_string_schema() -> None:
    schema = SimpleStringSchema()
    assert schema.deserialize("héllo".encode()) == "héllo"
    assert schema.serialize(12) == b"12"
    with pytest.raises(UnicodeDecodeError):
        schema.deserialize(b"\xff")
    with pytest.raises(LookupError):
        SimpleStringSchema("no-such-charset")


def test_json_rows_round_trip() -> None:
    row_type = Types.ROW_NAMED(["user", "amount"], [Types.STRING(), Types.INT()])
    reader = JsonRowDeserializationSchema.builder().type_info(row_type).build()
    row = reader.deserialize(b'{"amount": 5, "user": "ann", "extra": 1}')
    assert row == Row(user="ann", amount=5) and row.user == "ann"
    assert reader.deserialize(b'{"user": "bob"}') == Row(user="bob", amount=None)
    writer = JsonRowSerializationSchema.builder().with_type_info(row_type).build()
    assert writer.serialize(("ann", 5)) == b'{"user":"ann","amount":5}'
    assert writer.serialize(Row(user="ann", amount=5)) == b'{"user":"ann","amount":5}'
    assert JsonRowDeserializationSchema.builder().build().deserialize(b'{"a": 1}') == {"a": 1}


def test_json_errors() -> None:
    strict = (JsonRowDeserializationSchema.builder()
              .type_info(Types.ROW_NAMED(["a"], [Types.INT()])).fail_on_missing_field().build())
    with pytest.raises(ValueError, match="missing"):
        strict.deserialize(b'{"b": 1}')
    with pytest.raises(ValueError):
        strict.deserialize(b"{oops")
    with pytest.raises(ValueError, match="JSON object"):
        strict.deserialize(b"[1]")
    lenient = JsonRowDeserializationSchema.builder().ignore_parse_errors().build()
    assert lenient.deserialize(b"{oops") is None
    with pytest.raises(ValueError, match="ROW_NAMED"):
        JsonRowSerializationSchema(Types.STRING())
    with pytest.raises(TypeError):
        JsonRowSerializationSchema().serialize(("a", 1))


def test_reader_merges_the_offsets_of_several_subtasks_for_rescaling() -> None:
    from weir.datastream.connectors.kafka._reader import KafkaSourcePosition

    a0, a1, b0 = (KafkaTopicPartition("a", 0), KafkaTopicPartition("a", 1),
                  KafkaTopicPartition("b", 0))
    reader = _source_builder().build().create_reader(0, 1)
    reader.restore_position(RedistributedState([
        KafkaSourcePosition({a0: (5, None)}), KafkaSourcePosition({a1: (7, 9), b0: (0, None)})]))
    # Not connected yet: a checkpoint now keeps what was restored.
    assert reader.snapshot_position() == KafkaSourcePosition(
        {a0: (5, None), a1: (7, 9), b0: (0, None)})
    with pytest.raises(TypeError):
        reader.restore_position({"a": 1})
