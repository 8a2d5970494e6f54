"""StreamTask: one subtask's mailbox loop.

Records, timers and end-of-input are handled one at a time on the
TaskManager's event loop, so operators and their state need no locks. The
loop, in order:

1. set up: unpickle the operator chain, register input channels, open output
   channels, open the operators;
2. run: a source task polls its reader; other tasks poll their input gate;
   due processing-time timers fire between batches; partly filled buffers go
   out when the buffer timeout passes; what async operators completed goes out
   when they signal it, and while one is at capacity the task takes no input;
3. end of input: operators emit what end of input fires, async operators finish
   their requests, the sink finishes,
   buffers are flushed and EndOfPartition goes out on every channel;
4. with checkpointing on: report the end of input and wait until the job's
   final checkpoint completed (two-phase-commit sinks commit on it);
5. report FINISHED (or FAILED with the user's traceback, or CANCELED).

Control messages (``mailbox``: checkpoint triggers and notifications) are
handled between batches, like everything else; barriers arrive in band.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any, assert_never

import cloudpickle

from weir.checkpoint import CheckpointingMode, checkpoint_settings
from weir.connector import SourceReader, SplitAwareSourceReader
from weir.graph.deployment import ChannelKey, TaskDeployment
from weir.graph.operators import OperatorSpec, SourceSpec
from weir.metrics import MetricGroup
from weir.metrics.latency import latency_interval_ms
from weir.proto import jobmanager_pb2 as pb
from weir.taskmanager import mailbox
from weir.taskmanager.checkpointing.barrier_handler import BarrierHandler, BarrierOutcome
from weir.taskmanager.checkpointing.subtask_checkpointer import SubtaskCheckpointer
from weir.taskmanager.failures import describe_failure
from weir.taskmanager.jobmanager_gateway import JobManagerGateway, TaskOutputReporter
from weir.taskmanager.metrics import TaskIOMetrics, operator_group
from weir.taskmanager.network.environment import NetworkEnvironment
from weir.taskmanager.network.events import (
    END_OF_PARTITION,
    CheckpointBarrier,
    LatencyMarker,
    Watermark,
    WatermarkStatus,
)
from weir.taskmanager.network.input_gate import InputGate
from weir.taskmanager.operators.base import OperatorContext
from weir.taskmanager.operators.chain import OperatorChain
from weir.taskmanager.operators.timestamps import (
    TimestampsAndWatermarksOperator,
    split_watermark_operator,
    with_source_watermarks,
)
from weir.taskmanager.records import KeyedBatch, TimestampedBatch, slice_batch
from weir.taskmanager.slicing import BatchSlicer
from weir.taskmanager.task_output import TaskOutput
from weir.taskmanager.task_settings import TaskSettings
from weir.taskmanager.watermarks import EventTimeOutput, TaskEventTime

__all__ = ["StreamTask", "wall_clock_ms"]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class StreamTask:
    """Runs one subtask until its input ends, it fails, or it is cancelled."""

    def __init__(self, deployment: TaskDeployment, network: NetworkEnvironment,
                 gateway: JobManagerGateway, local_taskmanager: str,
                 clock_ms: Callable[[], int] = wall_clock_ms,
                 metric_group: MetricGroup | None = None) -> None:
        self.deployment = deployment
        # Under the TaskManager's group (None: unregistered, e.g. in unit tests).
        self.metrics = TaskIOMetrics(metric_group or MetricGroup.unregistered(), deployment)
        self._code_loaded = False  # the job's functions and restored state are unpickled
        self._network = network
        self._gateway = gateway
        self._local_taskmanager = local_taskmanager
        self._clock_ms = clock_ms
        config = deployment.configuration
        self._settings = settings = TaskSettings.from_configuration(config)
        self._slicer = BatchSlicer(settings.buffer_timeout_s)
        self._latency_interval_s = latency_interval_ms(config) / 1000.0
        self._marker_due = False  # a source's latency marker is due
        self._marker_handle: asyncio.TimerHandle | None = None
        self._wakeup = asyncio.Event()
        self._gate: InputGate | None = None
        self._input_keys: list[ChannelKey] = []
        self._channel_inputs: list[int] = []  # the job edge (input index) of each channel
        self._output = TaskOutput(self.metrics, settings.buffer_timeout_s, settings.credits)
        self._timer_handle: asyncio.TimerHandle | None = None
        self._timer_due = False
        self._async_output = False  # an async operator has output to take
        self._reader: SourceReader[Any] | None = None
        self._split_watermarks: TimestampsAndWatermarksOperator | None = None
        self._chain = OperatorChain([])
        self._event_time = TaskEventTime(self._chain, 0)
        self._source_records = 0  # what the source reader returned
        self.records_in = 0
        self.state = pb.TASK_DEPLOYING
        checkpoints = checkpoint_settings(config)  # as the JobManager read them
        self._checkpointing = checkpoints.enabled
        self._checkpointer = SubtaskCheckpointer(deployment, gateway)
        self._barriers = BarrierHandler(0, checkpoints.mode is CheckpointingMode.EXACTLY_ONCE)
        self._control: deque[mailbox.ControlMessage] = deque()
        self._input_ended = False
        self._final_checkpoint_done = False

    @property
    def records_out(self) -> int:
        return self._output.records_out

    # What the metrics read (``TaskView``), on the reporter's thread.

    @property
    def input_watermark(self) -> int:
        return self._event_time.input_watermark

    @property
    def output_watermark(self) -> int:
        return self._event_time.output_watermark

    @property
    def in_pool_usage(self) -> float:
        """The share of the input channels' credits whose buffers wait to be polled."""
        gate = self._gate
        return gate.queued / (gate.channel_count * self._settings.credits) if gate else 0.0

    @property
    def state_size(self) -> int:
        """Bytes of this subtask's state in the last checkpoint it uploaded."""
        return self._checkpointer.state_size

    @property
    def bytes_in(self) -> int:
        """Bytes of the buffers remote channels delivered (local exchanges pass objects)."""
        return self._gate.bytes_received if self._gate else 0

    @property
    def bytes_out(self) -> int:
        """Bytes of the buffers sent to other TaskManagers."""
        return self._output.bytes_out

    @property
    def out_pool_usage(self) -> float:
        """The share of the output channels' credits spent (1.0: no channel may send)."""
        return self._output.pool_usage

    # ------------------------------------------------------------------ driver

    async def run(self) -> None:
        """Run to the end and report the final state to the JobManager."""
        failure = ""
        try:
            await self._set_up()
            await self._report(pb.TASK_RUNNING)
            if self._reader is not None:
                await self._run_source()
            else:
                await self._run_inputs()
            await self._end_input()
            if self._checkpointing:
                await self._await_final_checkpoint()
            final = pb.TASK_FINISHED
        except asyncio.CancelledError:
            final = pb.TASK_CANCELED
        except Exception as error:  # noqa: BLE001 - the user's failure is reported, not raised
            final = pb.TASK_FAILED
            failure = describe_failure(error, loading_code=not self._code_loaded)
        finally:
            failure = self._tear_down(failure)
            await self._checkpointer.close()
        if failure and final != pb.TASK_CANCELED:
            final = pb.TASK_FAILED
        await self._report(final, failure)

    async def _report(self, state: pb.ExecutionState, failure: str = "") -> None:
        self.state = state
        await self._gateway.update_task_state(self.deployment, state, failure,
                                              self.records_in, self.records_out)

    # ------------------------------------------------------------------ set up

    async def _set_up(self) -> None:
        d = self.deployment
        restored = await self._checkpointer.restore()
        specs: list[OperatorSpec] = cloudpickle.loads(d.operator_chain)
        self._code_loaded = True
        operator_ids = list(d.operator_ids) or None
        if isinstance(specs[0], SourceSpec):
            specs[0].source.configure(d.configuration)
            self._reader = specs[0].source.create_reader(d.subtask_index, d.parallelism)
            self._register_source_metrics(specs[0].name, operator_ids[0] if operator_ids
                                          else "source")
            if restored.source is not None:
                self._reader.restore_position(restored.source)
            specs, operator_ids = with_source_watermarks(
                specs[0], specs[1:], operator_ids[1:] if operator_ids else None)
        self._chain = OperatorChain(specs, operator_ids)
        self._split_watermarks = split_watermark_operator(self._reader, self._chain.operators)
        self._chain.initialize_state(restored.operators)
        if d.restore is not None:
            self._barriers.latest_checkpoint_id = d.restore.checkpoint_id
        self._register_inputs()
        self._event_time = TaskEventTime(self._chain, self._gate.channel_count if self._gate else 0)
        await self._output.open(d, self._network, self._local_taskmanager,
                                 self._settings.buffer_records, self._chain)
        self._chain.open(OperatorContext(
            task_name=d.vertex_name, subtask_index=d.subtask_index, parallelism=d.parallelism,
            max_parallelism=d.max_parallelism, attempt=d.attempt, configuration=d.configuration,
            clock_ms=self._clock_ms, request_timer_wakeup=self._request_timer_wakeup,
            reporter=TaskOutputReporter(self._gateway, d), checkpointing=self._checkpointing,
            notify_async_output=self._on_async_output, metric_group=self.metrics.group))
        self.metrics.register(self)
        if self._reader is not None and self._latency_interval_s > 0:
            self._on_marker_due()
        await self._chain.recover()

    def _register_source_metrics(self, name: str, operator_id: str) -> None:
        reader = self._reader
        assert reader is not None
        self.metrics.register_source(operator_group(self.metrics.group, name, operator_id),
                                     lambda: self._source_records, reader.metrics)

    def _register_inputs(self) -> None:
        d = self.deployment
        channels = [(edge, producer) for edge in d.inputs for producer in edge.producer_subtasks]
        if not channels:
            return
        self._gate = InputGate(len(channels), self._wakeup.set)
        self._barriers.channel_count = len(channels)
        for index, (edge, producer) in enumerate(channels):
            key = d.channel_key(edge, producer)
            self._input_keys.append(key)
            self._channel_inputs.append(edge.input_index)
            self._network.register_input(key, self._gate, index, self._settings.credits)

    def _tear_down(self, failure: str) -> str:
        """Close operators and release channels; returns the failure, or the close failure."""
        self.metrics.close()
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        if self._marker_handle is not None:
            self._marker_handle.cancel()
        self._network.unregister_inputs(self._input_keys)
        self._output.release(self._network)
        try:
            self._chain.close()
            if self._reader is not None:
                self._reader.close()
        except Exception:  # noqa: BLE001 - reported like any user failure
            failure = failure or traceback.format_exc()
        return failure

    # ------------------------------------------------------------------- loops

    async def _run_source(self) -> None:
        reader = self._reader
        assert reader is not None
        if self._split_watermarks is not None and isinstance(reader, SplitAwareSourceReader):
            await self._run_split_source(reader, self._split_watermarks)
            return
        batch_size = self._settings.source_batch
        while True:
            if not await self._ready_for_input():
                continue
            polled_at = time.monotonic()
            batch = await reader.poll_batch(batch_size)
            if batch is None:
                return
            if batch:
                self._source_records += len(batch)
                await self._process(0, batch)
            else:  # the reader waited for records
                self.metrics.idle_ms += (time.monotonic() - polled_at) * 1000.0
            await self._after_source_poll(more_ready=len(batch) >= batch_size)

    async def _run_split_source(self, reader: SplitAwareSourceReader[Any],
                                watermarks: TimestampsAndWatermarksOperator) -> None:
        """The source loop with per-split watermarks: each split's batch runs through the
        chain on its own, after the watermark operator was told its split."""
        batch_size = self._settings.source_batch
        while True:
            if not await self._ready_for_input():
                continue
            polled_at = time.monotonic()
            batches = await reader.poll_split_batches(batch_size)
            if batches is None:
                return
            if not batches:  # the reader waited for records
                self.metrics.idle_ms += (time.monotonic() - polled_at) * 1000.0
            polled = 0
            for split_id, records in batches:
                if records:
                    polled += len(records)
                    self._source_records += len(records)
                    watermarks.set_current_split(split_id)
                    await self._process(0, records)
            watermarks.set_splits(reader.assigned_splits())
            await self._after_source_poll(more_ready=polled >= batch_size)

    async def _ready_for_input(self) -> bool:
        """Between inputs: control messages, due timers; False while async I/O holds
        the input back (its queue is full)."""
        if self._control:
            await self._process_control()
        await self._fire_due_timers()
        return not await self._async_backpressure()

    async def _after_source_poll(self, more_ready: bool) -> None:
        """``more_ready``: the reader filled the whole batch, so more records are likely
        ready; else what waits in partly filled buffers goes out now (a chained sink still
        flushes at the buffer timeout)."""
        if not more_ready:
            await self._output.flush_buffers()
        await self._output.maybe_flush()
        if self._marker_due:
            await self._emit_latency_marker()
        await asyncio.sleep(0)  # let the other tasks of this TaskManager run

    async def _run_inputs(self) -> None:
        gate = self._gate
        assert gate is not None
        channel_inputs = self._channel_inputs
        while not gate.finished:
            if not await self._ready_for_input():
                continue
            polled = gate.poll()
            if polled is None:
                await self._idle()
                continue
            channel, item = polled
            kind = type(item)
            if kind is list or kind is TimestampedBatch or kind is KeyedBatch:
                records, keys = (item.records, item.keys) if kind is KeyedBatch else (item, None)
                self.records_in += len(records)
                await self._process(channel_inputs[channel], records, keys)
                await self._output.maybe_flush()
                await asyncio.sleep(0)  # let heartbeats, the network and other tasks run
            elif type(item) is CheckpointBarrier:
                await self._apply(self._barriers.on_barrier(channel, item))
            elif item is END_OF_PARTITION:
                await self._apply(self._barriers.on_end_of_partition(channel))
            elif type(item) is Watermark:
                await self._emit_event_time(self._event_time.on_watermark(channel, item))
            elif type(item) is WatermarkStatus:
                await self._emit_event_time(self._event_time.on_status(channel, item))
            elif type(item) is LatencyMarker:
                await self._on_latency_marker(item)
            else:
                raise TypeError(f"a task received {type(item).__name__} on input channel "
                                f"{channel}; only buffers and in-band events travel there")

    async def _idle(self) -> None:
        """Wait for input or a timer. Nothing more is ready, so partly filled buffers go
        out at once; sinks flush when the buffer timeout passes.
        (Not ``wait_for``: on 3.11 it drops a cancel that comes with the wake-up.)"""
        self._wakeup.clear()
        if self._async_output:  # signalled while the task was busy: take it first
            return
        output = self._output
        await output.flush_buffers()
        remaining = output.timeout_remaining_s
        if remaining <= 0:
            await output.flush()
            await self._wait_idle()
            return
        try:
            async with asyncio.timeout(remaining):
                await self._wait_idle()
        except TimeoutError:
            await output.flush()

    async def _wait_idle(self) -> None:
        """Wait for a wake-up, counting the time as idle (``idleTimeMsPerSecond``)."""
        started = time.monotonic()
        try:
            await self._wakeup.wait()
        finally:
            self.metrics.idle_ms += (time.monotonic() - started) * 1000.0

    async def _end_input(self) -> None:
        await self._emit_event_time(self._event_time.end_of_input())
        await self._output.emit(self._chain.end_input())
        await self._drain_async()
        if self._chain.sink is not None:
            await self._chain.sink.finish()
        await self._output.broadcast(END_OF_PARTITION)
        self._input_ended = True

    # ------------------------------------------------------------- checkpoints

    def post(self, message: mailbox.ControlMessage) -> None:
        """Queue a control message; the task handles it between batches. Event loop only."""
        self._control.append(message)
        self._wakeup.set()

    async def _process_control(self) -> None:
        control = self._control
        while control:
            match control.popleft():
                case mailbox.TriggerCheckpoint(barrier):
                    await self._take_directly(barrier)
                case mailbox.NotifyCheckpointComplete(checkpoint_id, final):
                    await self._on_checkpoint_complete(checkpoint_id, final)
                case mailbox.NotifyCheckpointAborted(checkpoint_id):
                    await self._on_checkpoint_aborted(checkpoint_id)
                case unknown:
                    assert_never(unknown)

    async def _take_directly(self, barrier: CheckpointBarrier) -> None:
        if self._reader is None and not self._input_ended:
            return  # barriers reach this task in band
        if self._barriers.taken_directly(barrier.checkpoint_id):
            writers = [] if self._input_ended else self._output.writers
            await self._checkpointer.take(barrier, self._chain, self._reader, writers)

    async def _on_checkpoint_complete(self, checkpoint_id: int, final: bool) -> None:
        await self._chain.notify_checkpoint_complete(checkpoint_id)
        if self._reader is not None:
            await self._reader.notify_checkpoint_complete(checkpoint_id)
        self._final_checkpoint_done |= self._input_ended and final

    async def _on_checkpoint_aborted(self, checkpoint_id: int) -> None:
        self._chain.notify_checkpoint_aborted(checkpoint_id)
        outcome = self._barriers.abort(checkpoint_id)
        if self._gate is not None:  # a source has no input channels to release
            await self._apply(outcome)

    async def _apply(self, outcome: BarrierOutcome) -> None:
        """Release, block, snapshot and release input channels as barrier alignment says,
        in ``BarrierOutcome``'s order."""
        gate = self._gate
        assert gate is not None
        if outcome.release_given_up:
            gate.unblock_all()
        if outcome.block is not None:
            gate.block(outcome.block)
        if outcome.snapshot is not None:
            await self._checkpointer.take(outcome.snapshot, self._chain, None,
                                          self._output.writers)
        if outcome.unblock_all:
            gate.unblock_all()

    async def _await_final_checkpoint(self) -> None:
        await self._gateway.report_end_of_input(self.deployment, self.records_in,
                                                self.records_out)
        while True:
            await self._process_control()
            if self._final_checkpoint_done:
                return
            self._wakeup.clear()
            if not self._control:
                await self._wakeup.wait()

    # ------------------------------------------------------------------ output

    async def _process(self, input_index: int, records: list[Any],
                       keys: list[Any] | None = None) -> None:
        """Run a batch from job edge ``input_index`` (with its records' keys, when a hash
        partitioner sent them) through the chain, in slices that take about the buffer
        timeout each (``BatchSlicer``); each slice's output is sent on before the next
        slice starts."""
        slicer = self._slicer
        process_input = self._chain.process_input
        count = len(records)
        start = 0
        while start < count:
            size = slicer.size
            whole = start == 0 and size >= count
            part = records if whole else slice_batch(records, start, start + size)
            part_keys = keys if whole or keys is None else keys[start:start + size]
            started = time.monotonic()
            out = process_input(input_index, part, part_keys)
            slicer.observe(len(part), time.monotonic() - started)
            start += len(part)
            await self._output.emit(out)
            if start < count:
                await self._output.maybe_flush()
                await asyncio.sleep(0)  # a slow chain lets heartbeats and other tasks run

    async def _emit_event_time(self, out: EventTimeOutput) -> None:
        """Records fired by timers, then watermarks and statuses in band on every channel."""
        await self._output.emit(out.records)
        for event in out.events:
            await self._output.broadcast(event)

    # ---------------------------------------------------------------- async I/O

    def _on_async_output(self) -> None:
        self._async_output = True
        self._wakeup.set()

    async def _emit_async_output(self) -> None:
        """Send what async operators completed, each watermark after the records before it."""
        self._async_output = False
        while True:
            records, watermark = self._chain.take_async_output()
            if not records and watermark is None:
                return
            await self._emit_event_time(self._event_time.on_async_output(records, watermark))

    async def _async_backpressure(self) -> bool:
        """Send what async operators completed; while one is at capacity, wait (for a
        completion, a control message or the buffer timeout) and return True: the caller
        takes no input then."""
        if self._async_output:
            await self._emit_async_output()
        if not self._chain.input_blocked:
            return False
        await self._idle()
        return True

    async def _drain_async(self) -> None:
        """End of input: wait until the async operators emitted everything they hold."""
        while self._chain.has_pending_async:
            if self._control:
                await self._process_control()
            await self._idle()
            await self._emit_async_output()

    # ---------------------------------------------------------- latency markers

    def _on_marker_due(self) -> None:
        """Every ``metrics.latency.interval``: the source loop sends a marker next."""
        self._marker_due = True
        self._marker_handle = asyncio.get_running_loop().call_later(
            self._latency_interval_s, self._on_marker_due)

    async def _emit_latency_marker(self) -> None:
        self._marker_due = False
        d = self.deployment
        marker = LatencyMarker(self._clock_ms(), d.operator_ids[0] if d.operator_ids
                               else d.vertex_id, d.subtask_index)
        await self._on_latency_marker(marker, record=False)

    async def _on_latency_marker(self, marker: LatencyMarker, record: bool = True) -> None:
        """Record the marker's delay at this task's operators and pass it on, behind the
        records before it (Flink sends it to one random channel; here every channel)."""
        if record:
            self.metrics.report_latency(marker.source_id, marker.marked_time_ms,
                                        self._chain.operator_ids, self._clock_ms())
        await self._output.broadcast(marker)

    # ------------------------------------------------------------------ timers

    def _request_timer_wakeup(self, timestamp_ms: int) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (timestamp_ms - self._clock_ms()) / 1000.0)
        if self._timer_handle is not None and self._timer_handle.when() <= loop.time() + delay:
            return
        if self._timer_handle is not None:
            self._timer_handle.cancel()
        self._timer_handle = loop.call_later(delay, self._on_timer_due)

    def _on_timer_due(self) -> None:
        self._timer_handle = None
        self._timer_due = True
        self._wakeup.set()

    async def _fire_due_timers(self) -> None:
        if not self._timer_due:
            return
        self._timer_due = False
        await self._output.emit(self._chain.fire_processing_timers(self._clock_ms()))
        await self._emit_event_time(self._event_time.on_periodic(self._clock_ms()))
        upcoming = self._chain.next_processing_timer()
        if upcoming is not None:
            self._request_timer_wakeup(upcoming)
