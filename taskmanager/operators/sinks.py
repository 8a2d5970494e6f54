"""Sinks: print, collect (execute_and_collect), user SinkFunction, connector Sink (with two-phase
commit for a ``TwoPhaseCommittingSink``)."""

from __future__ import annotations

import asyncio
import pickle
from dataclasses import dataclass
from typing import Any

from weir.checkpoint.redistribution import RedistributedState
from weir.connector import (
    Committer,
    SinkWriter,
    TwoPhaseCommittingSink,
    TwoPhaseCommittingSinkWriter,
)
from weir.datastream.functions import Function, function_call
from weir.graph.operators import CollectSinkSpec, PrintSinkSpec, SinkFunctionSpec, SinkSpec
from weir.taskmanager.operators.base import OperatorContext, SinkOperator
from weir.taskmanager.runtime_context import StreamingRuntimeContext

__all__ = ["CollectSinkOperator", "CommittableCollector", "ConnectorSinkOperator",
           "PrintSinkOperator", "SinkFunctionOperator", "TwoPhaseSinkState"]

_REPORT_RECORDS = 1000


class PrintSinkOperator(SinkOperator):
    """Prints ``str(record)`` with Flink's prefix: ``<identifier>:<subtask+1>> ``."""

    def __init__(self, spec: PrintSinkSpec) -> None:
        super().__init__(spec)
        self._identifier = spec.sink_identifier
        self._lines: list[str] = []

    def open(self, context: OperatorContext) -> None:
        self._reporter = context.reporter
        subtask = f"{context.subtask_index + 1}" if context.parallelism > 1 else ""
        if self._identifier and subtask:
            self._prefix = f"{self._identifier}:{subtask}> "
        elif self._identifier or subtask:
            self._prefix = f"{self._identifier or subtask}> "
        else:
            self._prefix = ""

    async def write(self, records: list[Any]) -> None:
        prefix = self._prefix
        self._lines.extend(f"{prefix}{record}" for record in records)
        if len(self._lines) >= _REPORT_RECORDS:
            await self.flush()

    async def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            await self._reporter.print_lines(lines)


class CollectSinkOperator(SinkOperator):
    """Sends records to the JobManager, which hands them to the collecting client."""

    def __init__(self, spec: CollectSinkSpec) -> None:
        super().__init__(spec)
        self._buffer: list[Any] = []

    def open(self, context: OperatorContext) -> None:
        self._reporter = context.reporter

    async def write(self, records: list[Any]) -> None:
        self._buffer.extend(records)
        if len(self._buffer) >= _REPORT_RECORDS:
            await self.flush()

    async def flush(self) -> None:
        if self._buffer:
            batch, self._buffer = self._buffer, []
            await self._reporter.collected(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))


class SinkFunctionOperator(SinkOperator):
    """Calls the user's ``SinkFunction.invoke(value, context)`` (or callable) per record."""

    def __init__(self, spec: SinkFunctionSpec) -> None:
        super().__init__(spec)
        self._function = spec.function
        self._invoke = function_call(spec.function, "invoke")
        self._takes_context = isinstance(spec.function, Function)

    def open(self, context: OperatorContext) -> None:
        if isinstance(self._function, Function):
            self._function.open(StreamingRuntimeContext(context, None))

    async def write(self, records: list[Any]) -> None:
        invoke = self._invoke
        if self._takes_context:
            for record in records:
                invoke(record, None)
        else:
            for record in records:
                invoke(record)

    def close(self) -> None:
        if isinstance(self._function, Function):
            self._function.close()


@dataclass(frozen=True)
class TwoPhaseSinkState:
    """A two-phase-commit sink's operator state: the writer's own state and the
    committables of checkpoints not known to be committed, by checkpoint id."""

    writer: Any
    committables: dict[int, list[Any]]


class CommittableCollector:
    """Pre-committed committables by checkpoint id until they are committed
    (Flink's ``CommittableCollector``). Only the task's mailbox thread touches it."""

    def __init__(self) -> None:
        self._by_checkpoint: dict[int, list[Any]] = {}

    def add(self, checkpoint_id: int, committables: list[Any]) -> None:
        if committables:
            self._by_checkpoint.setdefault(checkpoint_id, []).extend(committables)

    def up_to(self, checkpoint_id: int | None) -> tuple[list[int], list[Any]]:
        """The checkpoint ids ≤ ``checkpoint_id`` (all for None) with committables, and
        those committables in checkpoint order."""
        ids = sorted(n for n in self._by_checkpoint if checkpoint_id is None or n <= checkpoint_id)
        return ids, [c for n in ids for c in self._by_checkpoint[n]]

    def remove(self, checkpoint_ids: list[int]) -> None:
        for n in checkpoint_ids:
            del self._by_checkpoint[n]

    def snapshot(self) -> dict[int, list[Any]]:
        return {n: list(c) for n, c in self._by_checkpoint.items()}


class ConnectorSinkOperator(SinkOperator):
    """Drives a connector ``Sink``'s writer, and a ``TwoPhaseCommittingSink``'s committer.

    Two-phase commit, as in Flink's sink writer and committer operators:

    1. ``prepare_snapshot_pre_barrier(n)``: the writer pre-commits; its
       committables are kept under checkpoint n;
    2. ``snapshot_state(n)``: the writer's state and every committable not yet
       committed go into checkpoint n;
    3. ``notify_checkpoint_complete(n)``: the committables of all checkpoints
       ≤ n are committed (a completed checkpoint subsumes aborted earlier ones);
    4. ``recover()`` after a restore: the restored checkpoint completed, so the
       committables in its state are committed (again: commits are idempotent).

    Without checkpointing, ``finish()`` pre-commits and commits everything at
    the end of input. A plain ``Sink``'s writer is only written and flushed.
    """

    def __init__(self, spec: SinkSpec) -> None:
        super().__init__(spec)
        self._sink = spec.sink
        self._writer: SinkWriter[Any] | None = None
        self._committer: Committer | None = None
        self._committables = CommittableCollector()
        self._checkpointing = False
        self._closing: asyncio.Task[None] | None = None

    def open(self, context: OperatorContext) -> None:
        sink = self._sink
        sink.configure(context.configuration)
        if not isinstance(sink, TwoPhaseCommittingSink):
            self._writer = sink.create_writer(context.subtask_index, context.parallelism)
            return
        writer_state, self._committables = self._restored()
        self._checkpointing = context.checkpointing
        self._writer = sink.create_writer(context.subtask_index, context.parallelism,
                                          writer_state)
        self._committer = sink.create_committer()

    def _restored(self) -> tuple[Any, CommittableCollector]:
        """The writer's state to resume from and the committables not known to be
        committed; after rescaling, the writers' states of the old subtasks this one
        stands for and all their committables."""
        restored = self.restored_state
        parts = (restored if isinstance(restored, RedistributedState)
                 else [] if restored is None else [restored])
        committables = CommittableCollector()
        for part in parts:
            if not isinstance(part, TwoPhaseSinkState):
                raise TypeError(f"{self.spec.name}: cannot restore sink state of type "
                                f"{type(part).__name__}")
            for checkpoint_id, found in sorted(part.committables.items()):
                committables.add(checkpoint_id, found)
        if isinstance(restored, RedistributedState):
            return RedistributedState(part.writer for part in parts), committables
        return (parts[0].writer if parts else None), committables

    def _two_phase_writer(self) -> TwoPhaseCommittingSinkWriter[Any] | None:
        writer = self._writer
        return writer if isinstance(writer, TwoPhaseCommittingSinkWriter) else None

    async def write(self, records: list[Any]) -> None:
        assert self._writer is not None
        await self._writer.write_batch(records)

    async def recover(self) -> None:
        await self._commit_up_to(None)

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        writer = self._two_phase_writer()
        if writer is not None:
            self._committables.add(checkpoint_id, await writer.prepare_commit())

    def snapshot_state(self, checkpoint_id: int) -> TwoPhaseSinkState | None:
        writer = self._two_phase_writer()
        if writer is None:
            return None
        return TwoPhaseSinkState(writer.snapshot_state(), self._committables.snapshot())

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        await self._commit_up_to(checkpoint_id)

    async def _commit_up_to(self, checkpoint_id: int | None) -> None:
        if self._committer is None:
            return
        ids, committables = self._committables.up_to(checkpoint_id)
        if committables:
            await self._committer.commit(committables)
        self._committables.remove(ids)

    async def finish(self) -> None:
        assert self._writer is not None
        await self._writer.flush()
        writer = self._two_phase_writer()
        if writer is not None and self._committer is not None and not self._checkpointing:
            await self._committer.commit(await writer.prepare_commit())

    def close(self) -> None:
        """Close the writer; the committer's async close runs on the task's loop."""
        if self._writer is not None:
            self._writer.close()
        if self._committer is not None:
            self._closing = asyncio.get_running_loop().create_task(self._committer.close())
