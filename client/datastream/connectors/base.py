"""The connector contract: sources hand out readers, sinks hand out writers.

A ``SourceReader`` belongs to one source subtask and is driven by that
subtask's mailbox loop: ``poll_batch`` is awaited between the other work of
the task, so it must return promptly (an empty list when nothing is ready).
"""

from __future__ import annotations

import abc
from typing import Any, Generic, TypeVar

__all__ = ["Sink", "SinkWriter", "Source", "SourceReader"]

T = TypeVar("T")


class SourceReader(abc.ABC, Generic[T]):
    """Reads one subtask's share of a source."""

    @abc.abstractmethod
    async def poll_batch(self, max_records: int) -> list[T] | None:
        """Up to ``max_records`` records; ``[]`` when none are ready yet; None at the end."""

    def snapshot_position(self) -> Any:
        """The position to resume from (operator state of the source)."""
        return None

    def close(self) -> None:
        """Release resources."""


class Source(abc.ABC, Generic[T]):
    """A bounded or unbounded source, split over the source's subtasks."""

    @abc.abstractmethod
    def is_bounded(self) -> bool: ...

    @abc.abstractmethod
    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[T]: ...

    def max_parallelism(self) -> int | None:
        """The most subtasks this source can use; None for no limit."""
        return None


class SinkWriter(abc.ABC, Generic[T]):
    """Writes one subtask's share of a sink."""

    @abc.abstractmethod
    async def write_batch(self, records: list[T]) -> None: ...

    async def flush(self) -> None:
        """Called at end of input, before close."""

    def close(self) -> None:
        """Release resources."""


class Sink(abc.ABC, Generic[T]):
    """A sink for ``DataStream.sink_to``."""

    @abc.abstractmethod
    def create_writer(self, subtask_index: int, parallelism: int) -> SinkWriter[T]: ...
