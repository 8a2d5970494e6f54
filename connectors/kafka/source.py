"""``KafkaSource`` and its builder (``pyflink.datastream.connectors.kafka``).

``KafkaSource.builder()…build()`` returns a frozen description; nothing is
opened until a TaskManager creates a reader for a source subtask.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weir.common.serialization import DeserializationSchema
from weir.config import Configuration
from weir.connector import Source, SourceReader
from weir.datastream.connectors.kafka.offsets import KafkaOffsetsInitializer

__all__ = ["DeserializationFailurePolicy", "KafkaRecordDeserializationError", "KafkaSource",
           "KafkaSourceBuilder"]

DEFAULT_DISCOVERY_INTERVAL_MS = 30_000


class DeserializationFailurePolicy(enum.Enum):
    """What the source does with a record its deserializer cannot read (property
    ``deserialization.failure.policy``)."""

    FAIL = "fail"  # fail the job, naming topic, partition and offset (the default)
    SKIP = "skip"  # skip it and count it (``KafkaSourceReader.num_records_skipped``)
    DEAD_LETTER = "dead-letter"  # write its raw bytes to ``deserialization.dead-letter.topic``


class KafkaRecordDeserializationError(Exception):
    """A record could not be deserialized (its place is in the message)."""


@dataclass(frozen=True)
class KafkaSource(Source[Any]):
    """Reads Kafka topics; build it with ``KafkaSource.builder()``."""

    bootstrap_servers: str
    topics: tuple[str, ...] | None
    topic_pattern: str | None
    group_id: str | None
    starting_offsets: KafkaOffsetsInitializer
    stopping_offsets: KafkaOffsetsInitializer | None
    deserializer: DeserializationSchema
    properties: Mapping[str, str] = field(default_factory=dict)

    @staticmethod
    def builder() -> KafkaSourceBuilder:
        return KafkaSourceBuilder()

    def is_bounded(self) -> bool:
        return self.stopping_offsets is not None

    @property
    def discovery_interval_ms(self) -> int:
        """How often readers look for new partitions and topics; ≤ 0 (and bounded) never."""
        if self.is_bounded():
            return -1
        return Configuration(self.properties).get_integer("partition.discovery.interval.ms",
                                                          DEFAULT_DISCOVERY_INTERVAL_MS)

    @property
    def failure_policy(self) -> DeserializationFailurePolicy:
        return DeserializationFailurePolicy(
            self.properties.get("deserialization.failure.policy", "fail"))

    @property
    def dead_letter_topic(self) -> str | None:
        return self.properties.get("deserialization.dead-letter.topic")

    @property
    def commit_offsets_on_checkpoint(self) -> bool:
        return (self.group_id is not None and
                self.properties.get("commit.offsets.on.checkpoint", "true").lower() == "true")

    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[Any]:
        from weir.datastream.connectors.kafka._reader import KafkaSourceReader

        return KafkaSourceReader(self, subtask_index, parallelism)


class KafkaSourceBuilder:
    """Configures a ``KafkaSource`` (PyFlink's ``KafkaSourceBuilder``)."""

    def __init__(self) -> None:
        self._bootstrap_servers: str | None = None
        self._topics: tuple[str, ...] | None = None
        self._topic_pattern: str | None = None
        self._group_id: str | None = None
        self._starting = KafkaOffsetsInitializer.earliest()
        self._stopping: KafkaOffsetsInitializer | None = None
        self._deserializer: DeserializationSchema | None = None
        self._properties: dict[str, str] = {}

    def set_bootstrap_servers(self, bootstrap_servers: str) -> KafkaSourceBuilder:
        self._bootstrap_servers = bootstrap_servers
        return self

    def set_topics(self, *topics: str) -> KafkaSourceBuilder:
        self._topics = tuple(topics)
        self._topic_pattern = None
        return self

    def set_topic_pattern(self, topic_pattern: str) -> KafkaSourceBuilder:
        """Every topic whose whole name matches the regular expression, including topics
        created later (found by partition discovery)."""
        self._topic_pattern = topic_pattern
        self._topics = None
        return self

    def set_group_id(self, group_id: str) -> KafkaSourceBuilder:
        self._group_id = group_id
        return self

    def set_client_id_prefix(self, prefix: str) -> KafkaSourceBuilder:
        return self.set_property("client.id", prefix)

    def set_starting_offsets(self, starting_offsets_initializer: KafkaOffsetsInitializer,
                             ) -> KafkaSourceBuilder:
        self._starting = starting_offsets_initializer
        return self

    def set_bounded(self, stopping_offsets_initializer: KafkaOffsetsInitializer,
                    ) -> KafkaSourceBuilder:
        """Stop at these offsets: a bounded source (the job finishes)."""
        self._stopping = stopping_offsets_initializer
        return self

    def set_unbounded(self, stopping_offsets_initializer: KafkaOffsetsInitializer,
                      ) -> KafkaSourceBuilder:
        raise NotImplementedError("KafkaSource: set_unbounded with stopping offsets is not "
                                  "supported; use set_bounded")

    def set_value_only_deserializer(self, deserialization_schema: DeserializationSchema,
                                    ) -> KafkaSourceBuilder:
        self._deserializer = deserialization_schema
        return self

    def set_properties(self, props: Mapping[str, str]) -> KafkaSourceBuilder:
        for key, value in props.items():
            self.set_property(key, value)
        return self

    def set_property(self, key: str, value: str) -> KafkaSourceBuilder:
        """A Kafka client property (``security.protocol``, ``sasl.*``, ``ssl.*``, …) or one of
        the source's: ``partition.discovery.interval.ms``, ``commit.offsets.on.checkpoint``,
        ``deserialization.failure.policy`` (fail | skip | dead-letter),
        ``deserialization.dead-letter.topic``, ``client.connect.attempts``."""
        self._properties[key] = str(value)
        return self

    def build(self) -> KafkaSource:
        if not self._bootstrap_servers:
            raise ValueError("KafkaSource: set_bootstrap_servers(...) is required")
        if not self._topics and self._topic_pattern is None:
            raise ValueError("KafkaSource: set_topics(...) or set_topic_pattern(...) is required")
        if self._deserializer is None:
            raise ValueError("KafkaSource: set_value_only_deserializer(...) is required")
        source = KafkaSource(self._bootstrap_servers, self._topics, self._topic_pattern,
                             self._group_id, self._starting, self._stopping, self._deserializer,
                             dict(self._properties))
        policy = source.failure_policy  # an unknown policy fails here
        if policy is DeserializationFailurePolicy.DEAD_LETTER and not source.dead_letter_topic:
            raise ValueError("KafkaSource: the dead-letter policy needs the property "
                             "deserialization.dead-letter.topic")
        if source.group_id is None and self._starting.kind.value == "committed":
            raise ValueError("KafkaSource: committed offsets need set_group_id(...)")
        return source
