"""``KafkaSink``, its builder, ``KafkaRecordSerializationSchema`` and ``DeliveryGuarantee``
(``pyflink.datastream.connectors.kafka``)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.common.serialization import SerializationSchema
from weir.config import Configuration
from weir.connector import Committer, TwoPhaseCommittingSink

__all__ = ["DeliveryGuarantee", "KafkaRecordSerializationSchema",
           "KafkaRecordSerializationSchemaBuilder", "KafkaSink", "KafkaSinkBuilder",
           "TopicSelector"]


class DeliveryGuarantee(enum.Enum):
    """``NONE``: fire and forget; ``AT_LEAST_ONCE``: every checkpoint waits until all
    records sent before its barrier are acknowledged; ``EXACTLY_ONCE``: Kafka transactions,
    committed when the checkpoint completes."""

    NONE = "none"
    AT_LEAST_ONCE = "at-least-once"
    EXACTLY_ONCE = "exactly-once"


class TopicSelector:
    """Picks a record's topic (PyFlink's ``TopicSelector``)."""

    def __init__(self, selector: Callable[[Any], str]) -> None:
        self._selector = selector

    def apply(self, element: Any) -> str:
        return self._selector(element)


@dataclass(frozen=True)
class KafkaRecordSerializationSchema:
    """Turns a record into (topic, key bytes or None, value bytes)."""

    topic: str | None
    topic_selector: TopicSelector | None
    value_schema: SerializationSchema
    key_schema: SerializationSchema | None = None

    @staticmethod
    def builder() -> KafkaRecordSerializationSchemaBuilder:
        return KafkaRecordSerializationSchemaBuilder()

    def serialize(self, element: Any) -> tuple[str, bytes | None, bytes]:
        topic = (self.topic_selector.apply(element) if self.topic_selector is not None
                 else self.topic)
        assert topic is not None
        key = self.key_schema.serialize(element) if self.key_schema is not None else None
        return topic, key, self.value_schema.serialize(element)


class KafkaRecordSerializationSchemaBuilder:
    def __init__(self) -> None:
        self._topic: str | None = None
        self._selector: TopicSelector | None = None
        self._value: SerializationSchema | None = None
        self._key: SerializationSchema | None = None

    def set_topic(self, topic: str) -> KafkaRecordSerializationSchemaBuilder:
        self._topic = topic
        return self

    def set_topic_selector(self, topic_selector: TopicSelector | Callable[[Any], str],
                           ) -> KafkaRecordSerializationSchemaBuilder:
        self._selector = (topic_selector if isinstance(topic_selector, TopicSelector)
                          else TopicSelector(topic_selector))
        return self

    def set_key_serialization_schema(self, key_serialization_schema: SerializationSchema,
                                     ) -> KafkaRecordSerializationSchemaBuilder:
        self._key = key_serialization_schema
        return self

    def set_value_serialization_schema(self, value_serialization_schema: SerializationSchema,
                                       ) -> KafkaRecordSerializationSchemaBuilder:
        self._value = value_serialization_schema
        return self

    def build(self) -> KafkaRecordSerializationSchema:
        if (self._topic is None) == (self._selector is None):
            raise ValueError("KafkaRecordSerializationSchema: set exactly one of set_topic(...) "
                             "and set_topic_selector(...)")
        if self._value is None:
            raise ValueError("KafkaRecordSerializationSchema: "
                             "set_value_serialization_schema(...) is required")
        return KafkaRecordSerializationSchema(self._topic, self._selector, self._value,
                                              self._key)


@dataclass(frozen=True)
class KafkaSink(TwoPhaseCommittingSink[Any]):
    """Writes records to Kafka; build it with ``KafkaSink.builder()``.

    Every guarantee runs as a two-phase-committing sink so that the writer sees each
    barrier (``prepare_commit``): NONE does nothing there, AT_LEAST_ONCE flushes and
    waits for the acknowledgements, EXACTLY_ONCE pre-commits its transaction.
    """

    bootstrap_servers: str
    record_serializer: KafkaRecordSerializationSchema
    delivery_guarantee: DeliveryGuarantee
    transactional_id_prefix: str | None
    properties: Mapping[str, str] = field(default_factory=dict)
    # This subtask's transactional producers by transactional id, shared by its writer
    # (which opens and pre-commits transactions) and its committer (which commits them):
    # aiokafka can commit a transaction only through the producer that opened it.
    producers: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    def builder() -> KafkaSinkBuilder:
        return KafkaSinkBuilder()

    @property
    def transaction_pool_size(self) -> int:
        """Transactional producers per subtask (pre-committed transactions awaiting their
        checkpoint's completion, plus the open one)."""
        return max(2, Configuration(self.properties).get_integer("transaction.pool.size", 5))

    def create_writer(self, subtask_index: int, parallelism: int,
                      restored_state: Any = None) -> Any:
        from weir.datastream.connectors.kafka._writer import KafkaWriter

        return KafkaWriter(self, subtask_index, parallelism, restored_state)

    def create_committer(self) -> Committer:
        from weir.datastream.connectors.kafka._writer import KafkaCommitter

        return KafkaCommitter(self.producers)


class KafkaSinkBuilder:
    """Configures a ``KafkaSink`` (PyFlink's ``KafkaSinkBuilder``)."""

    def __init__(self) -> None:
        self._bootstrap_servers: str | None = None
        self._serializer: KafkaRecordSerializationSchema | None = None
        self._guarantee = DeliveryGuarantee.NONE
        self._prefix: str | None = None
        self._properties: dict[str, str] = {}

    def set_bootstrap_servers(self, bootstrap_servers: str) -> KafkaSinkBuilder:
        self._bootstrap_servers = bootstrap_servers
        return self

    def set_record_serializer(self, record_serializer: KafkaRecordSerializationSchema,
                              ) -> KafkaSinkBuilder:
        self._serializer = record_serializer
        return self

    def set_delivery_guarantee(self, delivery_guarantee: DeliveryGuarantee) -> KafkaSinkBuilder:
        self._guarantee = delivery_guarantee
        return self

    def set_transactional_id_prefix(self, transactional_id_prefix: str) -> KafkaSinkBuilder:
        self._prefix = transactional_id_prefix
        return self

    def set_property(self, key: str, value: str) -> KafkaSinkBuilder:
        """A Kafka client property (``security.protocol``, ``sasl.*``, ``ssl.*``,
        ``linger.ms``, …) or ``transaction.pool.size``."""
        self._properties[key] = str(value)
        return self

    def build(self) -> KafkaSink:
        if not self._bootstrap_servers:
            raise ValueError("KafkaSink: set_bootstrap_servers(...) is required")
        if self._serializer is None:
            raise ValueError("KafkaSink: set_record_serializer(...) is required")
        if self._guarantee is DeliveryGuarantee.EXACTLY_ONCE and not self._prefix:
            raise ValueError("KafkaSink: EXACTLY_ONCE needs set_transactional_id_prefix(...)")
        return KafkaSink(self._bootstrap_servers, self._serializer, self._guarantee,
                         self._prefix, dict(self._properties))
