"""Which source subtask reads which partition: the split enumerator's decisions as pure
functions (Flink's ``KafkaSourceEnumerator``).

Each reader runs them itself over the partitions it discovers (every reader sees the
same partitions, so they agree without a coordinator): ``split_owner`` spreads a
topic's partitions round-robin over the subtasks from a start index derived from
the topic's name, as Flink's ``getSplitOwner`` does, with a stable hash instead
of Java's ``String.hashCode`` (Python's ``hash()`` is salted per process).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable

from weir.datastream.connectors.kafka.offsets import KafkaTopicPartition

__all__ = ["assigned_partitions", "matching_topics", "split_owner"]


def split_owner(partition: KafkaTopicPartition, parallelism: int) -> int:
    """The subtask (0 … parallelism-1) that reads ``partition``."""
    if parallelism <= 0:
        raise ValueError(f"parallelism must be positive, got {parallelism}")
    start = (zlib.crc32(partition.topic.encode()) * 31 & 0x7FFFFFFF) % parallelism
    return (start + partition.partition) % parallelism


def assigned_partitions(partitions: Iterable[KafkaTopicPartition], subtask_index: int,
                        parallelism: int) -> list[KafkaTopicPartition]:
    """The partitions subtask ``subtask_index`` of ``parallelism`` reads, sorted."""
    if not 0 <= subtask_index < parallelism:
        raise ValueError(f"subtask {subtask_index} out of range for parallelism {parallelism}")
    return sorted(p for p in set(partitions) if split_owner(p, parallelism) == subtask_index)


def matching_topics(available: Iterable[str], topics: Iterable[str] | None,
                    pattern: str | None) -> list[str]:
    """The topics to read: the named ones that exist, or those matching ``pattern`` in full
    (internal topics, starting with ``__``, never match a pattern)."""
    if pattern is not None:
        compiled = re.compile(pattern)
        return sorted(t for t in available if not t.startswith("__") and compiled.fullmatch(t))
    wanted = set(topics or ())
    return sorted(t for t in available if t in wanted)
