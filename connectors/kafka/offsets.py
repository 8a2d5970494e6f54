"""``KafkaOffsetsInitializer``: where a partition's reading starts (or, bounded, stops).

An initializer is a frozen description; the source reader resolves it against
the broker the first time it sees a partition (``resolve_offsets``), and from
then on the partition's offsets live in the checkpoints.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["KafkaOffsetResetStrategy", "KafkaOffsetsInitializer", "KafkaTopicPartition",
           "OffsetsKind", "resolve_offsets"]


@dataclass(frozen=True, order=True)
class KafkaTopicPartition:
    """A partition of a topic (PyFlink's ``KafkaTopicPartition``)."""

    topic: str
    partition: int


class KafkaOffsetResetStrategy(enum.Enum):
    """Where to start when the committed (or specified) offset is missing."""

    EARLIEST = "earliest"
    LATEST = "latest"
    NONE = "none"


class OffsetsKind(enum.Enum):
    EARLIEST = "earliest"
    LATEST = "latest"
    COMMITTED = "committed"
    TIMESTAMP = "timestamp"
    SPECIFIC = "specific"


@dataclass(frozen=True)
class KafkaOffsetsInitializer:
    """Build one with the static methods (PyFlink's names)."""

    kind: OffsetsKind
    reset_strategy: KafkaOffsetResetStrategy = KafkaOffsetResetStrategy.NONE
    timestamp_ms: int | None = None
    specified_offsets: Mapping[KafkaTopicPartition, int] = field(default_factory=dict)

    @staticmethod
    def earliest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer(OffsetsKind.EARLIEST)

    @staticmethod
    def latest() -> KafkaOffsetsInitializer:
        return KafkaOffsetsInitializer(OffsetsKind.LATEST)

    @staticmethod
    def committed_offsets(offset_reset_strategy: KafkaOffsetResetStrategy
                          = KafkaOffsetResetStrategy.NONE) -> KafkaOffsetsInitializer:
        """The group's committed offsets; without one, ``offset_reset_strategy`` (NONE: fail)."""
        return KafkaOffsetsInitializer(OffsetsKind.COMMITTED, offset_reset_strategy)

    @staticmethod
    def timestamp(timestamp: int) -> KafkaOffsetsInitializer:
        """The first record whose timestamp (ms) is at or after ``timestamp``."""
        return KafkaOffsetsInitializer(OffsetsKind.TIMESTAMP, timestamp_ms=int(timestamp))

    @staticmethod
    def offsets(offsets: Mapping[KafkaTopicPartition, int],
                offset_reset_strategy: KafkaOffsetResetStrategy
                = KafkaOffsetResetStrategy.EARLIEST) -> KafkaOffsetsInitializer:
        """The given offsets; partitions not named use ``offset_reset_strategy``."""
        return KafkaOffsetsInitializer(OffsetsKind.SPECIFIC, offset_reset_strategy,
                                       specified_offsets=dict(offsets))


async def _reset(consumer: Any, partitions: list[Any], strategy: KafkaOffsetResetStrategy,
                 why: str) -> dict[Any, int]:
    if not partitions:
        return {}
    if strategy is KafkaOffsetResetStrategy.EARLIEST:
        return dict(await consumer.beginning_offsets(partitions))
    if strategy is KafkaOffsetResetStrategy.LATEST:
        return await latest_offsets(consumer, partitions)
    names = ", ".join(f"{tp.topic}-{tp.partition}" for tp in partitions)
    raise ValueError(f"KafkaSource: no {why} offset for {names} and the offset reset "
                     f"strategy is NONE")


async def latest_offsets(consumer: Any, partitions: list[Any]) -> dict[Any, int]:
    """The offsets after the last records now in ``partitions`` (their high watermarks).

    Asks ListOffsets, then reads the high watermark a fetch of the last batch reports and
    takes the larger: some Kafka-compatible brokers (Tansu) answer ListOffsets with the
    last batch's base offset + 1, which would end a bounded read early.
    """
    ends = dict(await consumer.end_offsets(partitions))
    probe = [tp for tp, end in ends.items() if end > 0]
    if not probe:
        return ends
    for tp in probe:
        consumer.seek(tp, ends[tp] - 1)
    consumer.resume(*probe)
    pending = set(probe)
    for _ in range(50):
        await consumer.getmany(*pending, timeout_ms=100, max_records=1)
        for tp in list(pending):
            highwater = consumer.highwater(tp)
            if highwater is not None:
                ends[tp] = max(ends[tp], highwater)
                pending.discard(tp)
        if not pending:
            break
    return ends


async def resolve_offsets(initializer: KafkaOffsetsInitializer, consumer: Any,
                          partitions: list[Any]) -> dict[Any, int]:
    """The offsets ``initializer`` names for ``partitions`` (aiokafka ``TopicPartition``s),
    read from the broker through ``consumer`` (an aiokafka consumer they are assigned to)."""
    if not partitions:
        return {}
    kind = initializer.kind
    if kind is OffsetsKind.EARLIEST:
        return dict(await consumer.beginning_offsets(partitions))
    if kind is OffsetsKind.LATEST:
        return await latest_offsets(consumer, partitions)
    if kind is OffsetsKind.TIMESTAMP:
        found = await consumer.offsets_for_times(
            {tp: initializer.timestamp_ms for tp in partitions})
        result = {tp: hit.offset for tp, hit in found.items() if hit is not None}
        result.update(await latest_offsets(consumer, [tp for tp in partitions
                                                      if tp not in result]))
        return result
    result = {}
    if kind is OffsetsKind.COMMITTED:
        for tp in partitions:
            committed = await consumer.committed(tp)
            if committed is not None and committed >= 0:
                result[tp] = committed
        why = "committed"
    else:
        for tp in partitions:
            offset = initializer.specified_offsets.get(KafkaTopicPartition(tp.topic, tp.partition))
            if offset is not None:
                result[tp] = offset
        why = "specified"
    rest = [tp for tp in partitions if tp not in result]
    result.update(await _reset(consumer, rest, initializer.reset_strategy, why))
    return result
