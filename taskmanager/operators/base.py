"""The runtime operator contract and what a task offers its operators.

Callback order for every operator: ``open`` once; then ``process_batch`` and
``on_processing_time`` in any order, never concurrently; ``end_input`` once when
every input ended (not on cancel); ``close`` last, always.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from weir.graph.operators import OperatorSpec

__all__ = ["OperatorContext", "OutputReporter", "SinkOperator", "StreamOperator"]


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


class StreamOperator:
    """A synchronous operator: records in, records out, one batch at a time."""

    def __init__(self, spec: OperatorSpec) -> None:
        self.spec = spec

    def open(self, context: OperatorContext) -> None:
        """Prepare; user functions' open() is called here."""

    def process_batch(self, records: list[Any]) -> list[Any]:
        raise NotImplementedError

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
