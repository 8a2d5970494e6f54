"""The Kafka connector (``pyflink.datastream.connectors.kafka``), on aiokafka.

``KafkaSource.builder()`` and ``KafkaSink.builder()`` return frozen descriptions;
the reader (``_reader``) and the writer and committer (``_writer``) run inside
TaskManagers. Which subtask reads which partition is decided by the pure
functions in ``enumerator``.
"""

from weir.datastream.connectors.kafka.offsets import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaTopicPartition,
)
from weir.datastream.connectors.kafka.sink import (
    DeliveryGuarantee,
    KafkaRecordSerializationSchema,
    KafkaRecordSerializationSchemaBuilder,
    KafkaSink,
    KafkaSinkBuilder,
    TopicSelector,
)
from weir.datastream.connectors.kafka.source import (
    DeserializationFailurePolicy,
    KafkaRecordDeserializationError,
    KafkaSource,
    KafkaSourceBuilder,
)

__all__ = [
    "DeliveryGuarantee",
    "DeserializationFailurePolicy",
    "KafkaOffsetResetStrategy",
    "KafkaOffsetsInitializer",
    "KafkaRecordDeserializationError",
    "KafkaRecordSerializationSchema",
    "KafkaRecordSerializationSchemaBuilder",
    "KafkaSink",
    "KafkaSinkBuilder",
    "KafkaSource",
    "KafkaSourceBuilder",
    "KafkaTopicPartition",
    "TopicSelector",
]
