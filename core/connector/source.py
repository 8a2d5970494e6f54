"""The source contract: a source hands out one reader per subtask.

A ``SourceReader`` belongs to one source subtask and is driven by that
subtask's mailbox loop, one call at a time, so it needs no locks:

1. ``restore_position`` once, before anything else, when the subtask restores
   from a checkpoint or savepoint;
2. ``poll_batch`` repeatedly, between the other work of the task, so it must
   return promptly (an empty list when nothing is ready);
3. between polls: ``snapshot_position`` when checkpoint n is taken (the source
   injects barrier n right after it), and ``notify_checkpoint_complete(n)``
   once checkpoint n completed;
4. ``close`` last, whether the subtask finished, failed or was cancelled.

A ``SplitAwareSourceReader`` reads several splits (e.g. Kafka partitions) and says
which split each batch came from (``poll_split_batches`` instead of ``poll_batch``),
so that ``env.from_source`` can run one watermark generator per split, as Flink does.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Source", "SourceReader", "SplitAwareSourceReader"]

T = TypeVar("T")


class SourceReader(abc.ABC, Generic[T]):
    """Reads one subtask's share of a source."""

    @abc.abstractmethod
    async def poll_batch(self, max_records: int) -> list[T] | None:
        """Up to ``max_records`` records; ``[]`` when none are ready yet; None at the end."""

    def snapshot_position(self) -> Any:
        """The position to resume from (operator state of the source)."""
        return None

    def restore_position(self, position: Any) -> None:
        """Resume from what ``snapshot_position`` returned in a checkpoint; when the job was
        rescaled, from a ``weir.checkpoint.redistribution.RedistributedState`` holding every
        old subtask's position (union state, as Flink's source readers get their splits
        back): keep this subtask's share of what is left."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot resume from a checkpoint: implement "
            "snapshot_position() and restore_position()")

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` completed: the position this reader snapshotted for
        it is durable, and the job would restore from there (Flink's
        ``SourceReader.notifyCheckpointComplete``), e.g. to commit offsets to a broker.

        Called between polls, after the operators of the subtask were notified. A
        notification may never arrive (the subtask failed first, or the JobManager's
        call was lost), and checkpoint n+1 may complete without n's: act on it only
        where that is harmless. Does nothing unless overridden.
        """

    def metrics(self) -> Mapping[str, Any]:
        """Figures for the source's metric group, by Flink's names (``pendingRecords``,
        ``currentFetchEventTimeLag``, …): each numeric value (or None, for none yet) becomes
        a gauge, read when the metrics are scraped — on another thread, so this only
        reads. The keys must be the same at every call."""
        return {}

    def close(self) -> None:
        """Release resources."""


class SplitAwareSourceReader(SourceReader[T]):
    """A reader of several splits that reports, per batch, the split it came from.

    The task calls ``poll_split_batches`` in place of ``poll_batch`` and, after every
    poll, ``assigned_splits``; the callback order of ``SourceReader`` holds otherwise.
    """

    @abc.abstractmethod
    async def poll_split_batches(self, max_records: int) -> list[tuple[str, list[T]]] | None:
        """Up to ``max_records`` records in all as ``(split id, records)`` pairs, one per
        split that had records ready (``[]`` when none); None at the end."""

    @abc.abstractmethod
    def assigned_splits(self) -> frozenset[str]:
        """The ids of the splits this reader reads now and has not finished; splits that
        finished or were released are left out. Returns the same object until the set
        changes (callers may compare by identity)."""

    async def poll_batch(self, max_records: int) -> list[T] | None:
        batches = await self.poll_split_batches(max_records)
        if batches is None:
            return None
        if len(batches) == 1:
            return batches[0][1]
        return [record for _, records in batches for record in records]


class Source(abc.ABC, Generic[T]):
    """A bounded or unbounded source, split over the source's subtasks."""

    @abc.abstractmethod
    def is_bounded(self) -> bool: ...

    @abc.abstractmethod
    def create_reader(self, subtask_index: int, parallelism: int) -> SourceReader[T]: ...

    def configure(self, configuration: Mapping[str, str]) -> None:
        """Receive the job's configuration (the cluster's, overridden by the job's) before
        the reader is created; called on each subtask's own copy of the source (e.g. the
        FileSource takes its ``s3.*`` settings from it)."""

    def max_parallelism(self) -> int | None:
        """The most subtasks this source can use; None for no limit."""
        return None
