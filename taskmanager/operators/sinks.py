"""Sinks: print, collect (execute_and_collect), user SinkFunction and connector Sink."""

from __future__ import annotations

import pickle
from typing import Any

from weir.datastream.connectors.base import SinkWriter
from weir.datastream.functions import Function, function_call
from weir.graph.operators import CollectSinkSpec, PrintSinkSpec, SinkFunctionSpec, SinkSpec
from weir.taskmanager.operators.base import OperatorContext, SinkOperator
from weir.taskmanager.runtime_context import StreamingRuntimeContext

__all__ = ["CollectSinkOperator", "ConnectorSinkOperator", "PrintSinkOperator",
           "SinkFunctionOperator"]

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


class ConnectorSinkOperator(SinkOperator):
    """Drives a connector ``Sink``'s writer."""

    def __init__(self, spec: SinkSpec) -> None:
        super().__init__(spec)
        self._sink = spec.sink
        self._writer: SinkWriter[Any] | None = None

    def open(self, context: OperatorContext) -> None:
        self._writer = self._sink.create_writer(context.subtask_index, context.parallelism)

    async def write(self, records: list[Any]) -> None:
        assert self._writer is not None
        await self._writer.write_batch(records)

    async def finish(self) -> None:
        assert self._writer is not None
        await self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
