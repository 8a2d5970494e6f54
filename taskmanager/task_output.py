"""TaskOutput: where a task's records go, and when partly filled buffers leave.

A task's chain ends in a sink (records are written there) or in the record writers of its
out-edges (records are partitioned into buffers; full buffers are sent at once, waiting for
credit, which is where backpressure bites). Partly filled buffers go out when the task has
nothing more to do (``flush_buffers``) and, under load, when the buffer timeout has passed
since the last flush (``maybe_flush``). Touched only on the TaskManager's event loop.
"""

from __future__ import annotations

import time
from typing import Any

import cloudpickle

from weir.graph.deployment import ChannelKey, TaskDeployment
from weir.taskmanager.metrics import TaskIOMetrics
from weir.taskmanager.network.environment import NetworkEnvironment, OutputChannel
from weir.taskmanager.network.record_writer import RecordWriter
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.records import output_selector

__all__ = ["TaskOutput"]


class TaskOutput:
    """The chain's sink or the task's record writers, with the buffer timeout."""

    def __init__(self, metrics: TaskIOMetrics, buffer_timeout_s: float, credits: int) -> None:
        self.writers: list[RecordWriter] = []
        self.channels: list[OutputChannel] = []
        self._keys: list[ChannelKey] = []
        self._metrics = metrics
        self._credits = credits
        self._chain = OperatorChain([])
        self._sink_records = 0
        self._buffer_timeout_s = buffer_timeout_s
        self._last_flush = time.monotonic()

    async def open(self, deployment: TaskDeployment, network: NetworkEnvironment,
                   local_taskmanager: str, buffer_records: int, chain: OperatorChain) -> None:
        """Open a channel to every consumer subtask of every out-edge, and one record writer
        per out-edge (with the edge's partitioner and the chain's side-output routes)."""
        self._chain = chain
        d = deployment
        for edge in d.outputs:
            channels = []
            for subtask, taskmanager, host, port in edge.consumers:
                key = (d.job_id, d.attempt, edge.consumer_vertex_id, edge.input_index, subtask,
                       d.subtask_index)
                self._keys.append(key)
                channels.append(await network.open_output(
                    key, host, port, local=taskmanager == local_taskmanager))
            self.channels.extend(channels)
            selector = cloudpickle.loads(edge.key_selector) if edge.key_selector else None
            self.writers.append(RecordWriter(
                channels, edge.partitioner, buffer_records, selector,
                edge.max_parallelism, [c[0] for c in edge.consumers],
                output_selector(chain.side_output_routes,
                                (edge.consumer_vertex_id, edge.input_index)),
                cloudpickle.loads(edge.partition_function) if edge.partition_function else None))

    def release(self, network: NetworkEnvironment) -> None:
        network.release_outputs(self._keys)

    # ------------------------------------------------------------------ records

    async def emit(self, records: list[Any]) -> None:
        if not records:
            return
        sink = self._chain.sink
        if sink is not None:
            self._sink_records += len(records)
            sink.num_records_in += len(records)
            await sink.write(records)
            return
        for writer in self.writers:
            writer.emit(records)
            if writer.has_ready:
                await self._send_ready(writer)

    async def _send_ready(self, writer: RecordWriter) -> None:
        """Send full buffers; time waiting for credit is back-pressured time."""
        metrics = self._metrics
        started = time.monotonic()
        metrics.back_pressured = True
        try:
            await writer.send_ready()
        finally:
            metrics.back_pressured = False
            metrics.back_pressured_ms += (time.monotonic() - started) * 1000.0

    async def broadcast(self, event: Any) -> None:
        """``event`` (a watermark, marker, end of partition) on every channel, in order
        after the records before it."""
        for writer in self.writers:
            await writer.broadcast_event(event)

    # ------------------------------------------------------------------ flushing

    @property
    def timeout_remaining_s(self) -> float:
        """Seconds until the buffer timeout passes (≤ 0: it has)."""
        return self._buffer_timeout_s - (time.monotonic() - self._last_flush)

    async def maybe_flush(self) -> None:
        if self.timeout_remaining_s <= 0:
            await self.flush()

    async def flush(self) -> None:
        """The buffer timeout passed: partly filled buffers go out, and the sink flushes."""
        self._last_flush = time.monotonic()
        await self.flush_buffers()
        if self._chain.sink is not None:
            await self._chain.sink.flush()

    async def flush_buffers(self) -> None:
        """Send the partly filled buffers of every out-edge."""
        for writer in self.writers:
            await writer.flush()

    # ------------------------------------------------------------------ metrics

    @property
    def records_out(self) -> int:
        return sum(w.records_out for w in self.writers) or self._sink_records

    @property
    def bytes_out(self) -> int:
        """Bytes of the buffers sent to other TaskManagers."""
        return sum(channel.bytes_sent for channel in self.channels)

    @property
    def pool_usage(self) -> float:
        """The share of the output channels' credits spent (1.0: no channel may send)."""
        channels = self.channels
        if not channels:
            return 0.0
        free = sum(min(c.credit.available, self._credits) for c in channels)
        return 1.0 - free / (len(channels) * self._credits)
