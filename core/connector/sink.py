"""The sink contract: a sink hands out one writer per subtask; a two-phase-committing sink
also a committer that makes pre-committed output visible when a checkpoint completes."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

__all__ = ["Committer", "Sink", "SinkWriter", "TwoPhaseCommittingSink",
           "TwoPhaseCommittingSinkWriter"]

T = TypeVar("T")


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

    def configure(self, configuration: Mapping[str, str]) -> None:
        """Receive the job's configuration (the cluster's, overridden by the job's) before
        any writer or committer is created; called on each subtask's own copy of the sink
        (e.g. the FileSink takes its ``s3.*`` settings from it)."""


class TwoPhaseCommittingSinkWriter(SinkWriter[T]):
    """A writer whose output becomes visible only when a checkpoint completes.

    On each checkpoint barrier the runtime calls ``prepare_commit`` (pre-commit:
    everything written so far becomes durable but invisible, described by
    committables); when the checkpoint completes, the sink's ``Committer``
    makes those committables visible. Output of a failed attempt that was
    never pre-committed is never seen.
    """

    @abc.abstractmethod
    async def prepare_commit(self) -> list[Any]:
        """Make everything written since the last call durable; its committables."""

    def snapshot_state(self) -> Any:
        """The writer's own state for the checkpoint (e.g. part-file counters)."""
        return None


class Committer(abc.ABC):
    """Makes pre-committed output visible. ``commit`` must be idempotent: after a
    failure the same committables may be committed again."""

    @abc.abstractmethod
    async def commit(self, committables: list[Any]) -> None: ...

    async def close(self) -> None:
        """Release resources."""


class TwoPhaseCommittingSink(Sink[T]):
    """A sink with exactly-once output (Flink's ``TwoPhaseCommittingSink``)."""

    @abc.abstractmethod
    def create_writer(self, subtask_index: int, parallelism: int,
                      restored_state: Any = None) -> TwoPhaseCommittingSinkWriter[T]:
        """A writer for subtask ``subtask_index``, resuming from ``restored_state``: what a
        writer's ``snapshot_state`` returned, or, when the job was rescaled, a
        ``weir.checkpoint.redistribution.RedistributedState`` holding the states of the
        old subtasks this one stands for (old subtask i goes to i mod ``parallelism``)."""

    @abc.abstractmethod
    def create_committer(self) -> Committer: ...
