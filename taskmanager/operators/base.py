"""The runtime operator contract and what a task offers its operators.

Callback order for every operator: ``initialize_state`` once (with the state
restored from a checkpoint, or None); ``open`` once; then ``process_batch``,
``on_processing_time`` and the checkpoint callbacks in any order, never
concurrently; ``end_input`` once when every input ended (not on cancel);
``close`` last, always.

Checkpoint n, in order: ``prepare_snapshot_pre_barrier(n)`` (sinks pre-commit),
``snapshot_state(n)`` (synchronous: the returned object is pickled at once, so
later changes do not leak into it), then, once every task acknowledged,
``notify_checkpoint_complete(n)`` (sinks commit) or ``notify_checkpoint_aborted(n)``.

Batches are lists; records with event timestamps come as a ``TimestampedBatch``
(see ``weir.taskmanager.records``) and every output keeps the timestamp of the
input that made it. ``process_watermark(w)`` comes in order with the batches:
event time reached ``w``; the chain passes ``w`` on after the operator returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from weir.graph.operators import OperatorSpec
from weir.metrics import MetricGroup
from weir.taskmanager.metrics import operator_group
from weir.taskmanager.state.backend import KeyedStateBackend
from weir.taskmanager.state.factory import create_keyed_state_backend

__all__ = ["AsyncOutputOperator", "OperatorContext", "OutputReporter", "SinkOperator",
           "StreamOperator"]


class OutputReporter(Protocol):
    """Ships print lines and collected results to the JobManager."""

    async def print_lines(self, lines: list[str]) -> None: ...

    async def collected(self, batch: bytes) -> None: ...


@dataclass
class OperatorContext:
    """What the task gives each operator; shared by the operators of one chain."""

    task_name: str
    subtask_index: int
    parallelism: int
    max_parallelism: int
    attempt: int
    configuration: dict[str, str]
    clock_ms: Callable[[], int]
    request_timer_wakeup: Callable[[int], None]
    reporter: OutputReporter
    metrics: dict[str, int] = field(default_factory=dict)
    # True when the job takes checkpoints: two-phase-commit sinks then commit on
    # checkpoint completion (the final checkpoint at the end of a bounded job),
    # otherwise at the end of input.
    checkpointing: bool = False
    # Called by an async operator when it has outputs (or a failure) for the task to take.
    notify_async_output: Callable[[], None] = field(default=lambda: None)
    # The task's metric group; ``for_operator`` gives each operator its own subgroup.
    metric_group: MetricGroup = field(default_factory=MetricGroup.unregistered)

    def for_operator(self, name: str, operator_id: str) -> OperatorContext:
        """This context with the metric group of one operator of the chain."""
        return replace(self, metric_group=operator_group(self.metric_group, name, operator_id))

    def keyed_state_backend(self) -> KeyedStateBackend:
        """A new keyed state backend for one keyed operator, as ``state.backend`` says,
        owning this subtask's key groups; the operator disposes it in ``close``."""
        return create_keyed_state_backend(self.configuration, self.task_name, self.clock_ms,
                                          self.subtask_index, self.parallelism,
                                          self.max_parallelism)


class StreamOperator:
    """A synchronous operator: records in, records out, one batch at a time."""

    # Records into and out of ``process_batch``, counted by the chain once per batch
    # (a sink's input by the task); read by the metrics reporter.
    num_records_in = 0
    num_records_out = 0

    def __init__(self, spec: OperatorSpec) -> None:
        self.spec = spec
        self.restored_state: Any = None

    def initialize_state(self, state: Any) -> None:
        """Receive what ``snapshot_state`` returned in the checkpoint restored from."""
        self.restored_state = state

    def open(self, context: OperatorContext) -> None:
        """Prepare; user functions' open() is called here."""

    async def recover(self) -> None:
        """After ``open``: finish what the restored checkpoint left (sinks commit its
        pre-committed output)."""

    async def prepare_snapshot_pre_barrier(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is about to be taken: flush what belongs before it."""

    def snapshot_state(self, checkpoint_id: int) -> Any:
        """This operator's state for checkpoint ``checkpoint_id``; None when it has none."""
        return None

    async def notify_checkpoint_complete(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` is complete: make its effects visible (commit)."""

    def notify_checkpoint_aborted(self, checkpoint_id: int) -> None:
        """Checkpoint ``checkpoint_id`` will never complete."""

    # True for an operator that makes its own watermarks (a timestamp assigner): the
    # chain stops input watermarks at it (except the final one) and asks it for its own
    # with ``periodic_watermark``.
    generates_watermarks = False

    def process_batch(self, records: list[Any]) -> list[Any]:
        raise NotImplementedError

    def process_keyed_batch(self, records: list[Any], keys: list[Any]) -> list[Any]:
        """A batch whose keys (``keys[i]`` of ``records[i]``) the sender's hash partitioner
        computed: keyed operators use them instead of calling their key selector again;
        others ignore them."""
        return self.process_batch(records)

    def process_watermark(self, watermark: int) -> list[Any]:
        """Event time reached ``watermark``: fire event-time timers; return their outputs."""
        return []

    def periodic_watermark(self, now_ms: int) -> tuple[int | None, bool | None]:
        """A watermark generator's new watermark (None: none due) and whether it is idle
        (None: unchanged); called at every processing-time wakeup."""
        return None, None

    def on_processing_time(self, now_ms: int) -> list[Any]:
        """Fire processing-time timers due at ``now_ms``; return their outputs."""
        return []

    def next_processing_timer(self) -> int | None:
        return None

    def end_input(self) -> list[Any]:
        """Every input ended: fire what the maximum watermark fires; return the outputs."""
        return []

    def close(self) -> None:
        """Release resources; user functions' close() is called here."""


class SinkOperator(StreamOperator):
    """The last operator of a chain that writes records out, asynchronously."""

    async def write(self, records: list[Any]) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        """Write out what is buffered; called at every buffer timeout."""

    async def finish(self) -> None:
        """Every input ended: write out everything (before ``close``)."""
        await self.flush()


class AsyncOutputOperator(StreamOperator):
    """An operator whose outputs complete later, on the task's event loop (async I/O).

    ``process_batch`` and ``process_watermark`` only queue: watermarks stop at this
    operator and leave behind the outputs of the records before them. The task calls
    ``take_completed`` (until it returns nothing) after the operator called
    ``context.notify_async_output``; it takes no input while ``input_blocked``; at the end
    of input it waits, taking outputs, until ``has_pending`` is False.
    """

    def take_completed(self) -> tuple[list[Any], int | None]:
        """Outputs ready to go, then the watermark that follows them (None: none yet).
        Raises the failure of a request."""
        raise NotImplementedError

    @property
    def input_blocked(self) -> bool:
        """At capacity: no more input until requests complete (backpressure)."""
        raise NotImplementedError

    @property
    def has_pending(self) -> bool:
        """Records or watermarks are still queued."""
        raise NotImplementedError
